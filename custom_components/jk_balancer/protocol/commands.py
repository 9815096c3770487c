"""Commands to the device: read requests and every writable setting.

A command is 20 bytes: ``AA 55 90 EB``, a command (register) byte, a length byte,
the value little endian, zero padding, and the sum of bytes 0..18 in byte 19. The
official app fills the padding with random bytes; devices ignore them.

Each :class:`SettingSpec` is defined once: its register and encoding per layout,
its valid range and step, and how a write is confirmed. The number entities, the
CLI's ``set`` and the virtual balancer's checks all read these definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
import math
import struct
from types import MappingProxyType
from typing import Final

from .const import COMMAND_HEADER, COMMAND_LENGTH, Protocol, Request
from .errors import (
    FrameError,
    SettingNotSupportedError,
    SettingOutOfRangeError,
    UnknownSettingError,
)
from .frame import checksum
from .model import CellInfo, DeviceInfo, Settings

_MAX_VALUE_LENGTH = COMMAND_LENGTH - 7


def encode_command(command: int, value: bytes = b"", padding: bytes = b"") -> bytes:
    """Build a 20-byte command.

    The bytes after the value are ``padding`` (zeros by default; the app sends
    random ones), and the checksum covers them.
    """
    if not 0 <= command <= 0xFF or len(value) > _MAX_VALUE_LENGTH:
        raise ValueError("command byte or value length out of range")
    body = COMMAND_HEADER + bytes((command, len(value))) + value
    fill = COMMAND_LENGTH - 1 - len(body)
    body += (padding + bytes(fill))[:fill]
    return body + bytes((checksum(body),))


def encode_request(request: Request) -> bytes:
    """Build a read request (device info 0x97, settings 0x96)."""
    return encode_command(request)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed 20-byte command."""

    command: int
    value: bytes


def parse_command(data: bytes) -> Command:
    """Parse a command as a device does: header, length and checksum must hold."""
    if len(data) != COMMAND_LENGTH or not data.startswith(COMMAND_HEADER):
        raise FrameError("not a 20-byte command", length=str(len(data)))
    if checksum(data[:-1]) != data[-1]:
        raise FrameError("command checksum mismatch")
    length = data[5]
    if length > _MAX_VALUE_LENGTH:
        raise FrameError("command value length too large", length=str(length))
    return Command(data[4], bytes(data[6 : 6 + length]))


class Encoding(Enum):
    """How a register value is written."""

    FLOAT32 = "<f"
    UINT8 = "<B"
    UINT16 = "<H"
    UINT32 = "<I"

    @property
    def size(self) -> int:
        """Bytes on the wire (the command's length byte)."""
        return struct.calcsize(self.value)


@dataclass(frozen=True, slots=True)
class Register:
    """A writable register: address, encoding and the factor to raw units."""

    address: int
    encoding: Encoding
    scale: int = 1

    def encode(self, value: float) -> bytes:
        """Encode a physical value (V, A, count) for this register."""
        if self.encoding is Encoding.FLOAT32:
            return struct.pack(self.encoding.value, value)
        return struct.pack(self.encoding.value, round(value * self.scale))

    def decode(self, data: bytes) -> float:
        """Decode a written value back into physical units."""
        (raw,) = struct.unpack(self.encoding.value, data)
        return float(raw) / self.scale


class Confirmation(Enum):
    """How a write is shown to have taken effect."""

    # The settings frame read back after the write holds the value.
    READ_BACK = "read_back"
    # Voltage calibration: the pack voltage the device measures afterwards.
    PACK_VOLTAGE = "pack_voltage"


class ValueKind(Enum):
    """What kind of value a setting holds."""

    SWITCH = "switch"
    INTEGER = "integer"
    DECIMAL = "decimal"


@dataclass(frozen=True, slots=True)
class Limits:
    """Accepted range and resolution of a setting on one device."""

    minimum: float
    maximum: float
    step: float


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """A writable setting of the balancer."""

    key: str
    kind: ValueKind
    unit: str | None
    step: float
    registers: Mapping[Protocol, Register]
    ranges: Mapping[Protocol, tuple[float, float]]
    confirmation: Confirmation = Confirmation.READ_BACK
    description: str = field(default="", compare=False)

    def supported(self, protocol: Protocol) -> bool:
        """Return True when the layout has a register for this setting."""
        return protocol in self.registers


def _by_family[T](jk04: T | None, jk02: T) -> dict[Protocol, T]:
    """Map JK04 and both JK02 layouts (JK04 left out when None)."""
    result = {Protocol.JK02_24S: jk02, Protocol.JK02_32S: jk02}
    return result if jk04 is None else {Protocol.JK04: jk04, **result}


_F32 = Encoding.FLOAT32
_U32 = Encoding.UINT32
_MILLI = 1000

BALANCER_ENABLED: Final = SettingSpec(
    "balancer_enabled",
    ValueKind.SWITCH,
    None,
    1,
    _by_family(Register(0x6C, Encoding.UINT8), Register(0x1F, _U32)),
    _by_family((0, 1), (0, 1)),
    description="Balancer on/off",
)
BALANCE_TRIGGER_VOLTAGE: Final = SettingSpec(
    "balance_trigger_voltage",
    ValueKind.DECIMAL,
    "V",
    0.001,
    _by_family(Register(0x64, _F32), Register(0x06, _U32, _MILLI)),
    _by_family((0.001, 1.0), (0.003, 1.0)),
    description="Cell voltage difference above which balancing starts",
)
BALANCE_START_VOLTAGE: Final = SettingSpec(
    "balance_start_voltage",
    ValueKind.DECIMAL,
    "V",
    0.01,
    {
        Protocol.JK04: Register(0x58, _F32),
        Protocol.JK02_24S: Register(0x26, _U32, _MILLI),
        Protocol.JK02_32S: Register(0x22, _U32, _MILLI),
    },
    _by_family((1.0, 4.5), (1.2, 4.25)),
    description="Balancing only when the highest cell is above this voltage",
)
MAX_BALANCE_CURRENT: Final = SettingSpec(
    "max_balance_current",
    ValueKind.DECIMAL,
    "A",
    0.1,
    _by_family(Register(0x68, _F32), Register(0x13, _U32, _MILLI)),
    _by_family((0.1, 5.0), (0.1, 5.0)),
    description="Balance current (the model's rating is the upper limit)",
)
CELL_COUNT: Final = SettingSpec(
    "cell_count",
    ValueKind.INTEGER,
    None,
    1,
    _by_family(Register(0x1C, Encoding.UINT16), Register(0x1C, _U32)),
    {Protocol.JK04: (2, 24), Protocol.JK02_24S: (2, 24), Protocol.JK02_32S: (2, 32)},
    description="Number of cells wired to the balancer",
)
POWER_OFF_VOLTAGE: Final = SettingSpec(
    "power_off_voltage",
    ValueKind.DECIMAL,
    "V",
    0.01,
    _by_family(Register(0x20, _F32), Register(0x0B, _U32, _MILLI)),
    _by_family((1.2, 4.25), (1.2, 4.25)),
    description="Cell voltage below which the device switches off",
)
VOLTAGE_CALIBRATION: Final = SettingSpec(
    "voltage_calibration",
    ValueKind.DECIMAL,
    "V",
    0.01,
    {
        # JK04 takes the ADC reference voltage, scaled from the measured pack.
        Protocol.JK04: Register(0x44, _F32),
        Protocol.JK02_24S: Register(0x21, _U32, _MILLI),
        Protocol.JK02_32S: Register(0x64, _U32, _MILLI),
    },
    # Replaced per device by a window around the voltage it measures now.
    _by_family((1.0, 160.0), (1.0, 160.0)),
    Confirmation.PACK_VOLTAGE,
    description="Pack voltage measured with a meter",
)
BATTERY_CAPACITY: Final = SettingSpec(
    "battery_capacity",
    ValueKind.INTEGER,
    "Ah",
    1,
    _by_family(None, Register(0x20, _U32, _MILLI)),
    _by_family(None, (1, 2000)),
    description="Nominal battery capacity",
)

SETTINGS: Final = MappingProxyType(
    {
        spec.key: spec
        for spec in (
            BALANCER_ENABLED,
            BALANCE_TRIGGER_VOLTAGE,
            BALANCE_START_VOLTAGE,
            MAX_BALANCE_CURRENT,
            CELL_COUNT,
            POWER_OFF_VOLTAGE,
            VOLTAGE_CALIBRATION,
            BATTERY_CAPACITY,
        )
    }
)

# A calibration further than this from what the device measures is a typo.
CALIBRATION_WINDOW: Final = 0.10
# Accepted difference between the entered and the afterwards measured pack voltage.
CALIBRATION_TOLERANCE: Final = 0.01


def get_spec(key: str) -> SettingSpec:
    """Return the setting named ``key``."""
    try:
        return SETTINGS[key]
    except KeyError:
        raise UnknownSettingError(
            f"unknown setting {key!r}; known: {', '.join(SETTINGS)}", setting=key
        ) from None


def setting_limits(
    spec: SettingSpec,
    protocol: Protocol,
    device_info: DeviceInfo | None = None,
    cell_info: CellInfo | None = None,
) -> Limits:
    """Return the range this device accepts for the setting."""
    if not spec.supported(protocol):
        raise SettingNotSupportedError(
            f"{spec.key} cannot be written on {protocol} devices",
            setting=spec.key,
            protocol=str(protocol),
        )
    low, high = spec.ranges[protocol]
    if spec is MAX_BALANCE_CURRENT and device_info is not None:
        high = device_info.rated_balance_current or high
    elif spec is CELL_COUNT and device_info is not None:
        high = min(high, device_info.model_cells or high)
    elif spec is VOLTAGE_CALIBRATION:
        if cell_info is None or cell_info.total_voltage <= 0:
            raise SettingNotSupportedError(
                "voltage calibration needs a current pack voltage measurement",
                setting=spec.key,
                protocol=str(protocol),
            )
        measured = cell_info.total_voltage
        low = _round_step(measured * (1 - CALIBRATION_WINDOW), spec.step, math.ceil)
        high = _round_step(measured * (1 + CALIBRATION_WINDOW), spec.step, math.floor)
    return Limits(low, high, spec.step)


def _round_step(value: float, step: float, rounding: Callable[[float], int]) -> float:
    return round(rounding(round(value / step, 6)) * step, 6)


@dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A validated write: the command to send and the value to expect."""

    spec: SettingSpec
    value: float
    command: bytes


def prepare_write(
    key: str,
    value: float | bool,
    protocol: Protocol,
    *,
    device_info: DeviceInfo | None = None,
    settings: Settings | None = None,
    cell_info: CellInfo | None = None,
) -> PreparedWrite:
    """Validate a new value and build its command; nothing is sent.

    Raises SettingOutOfRangeError (with the accepted range) for a value the
    device would not accept.
    """
    spec = get_spec(key)
    limits = setting_limits(spec, protocol, device_info, cell_info)
    number = float(value)
    if spec.kind is not ValueKind.DECIMAL and number != int(number):
        raise _out_of_range(spec, number, limits)
    # Snap to the setting's resolution so 3.4500000001 is written as 3.45.
    number = round(round(number / spec.step) * spec.step, 6)
    if not limits.minimum - 1e-9 <= number <= limits.maximum + 1e-9:
        raise _out_of_range(spec, float(value), limits)
    register = spec.registers[protocol]
    raw = number
    if spec is VOLTAGE_CALIBRATION and protocol is Protocol.JK04:
        # JK04 wants its ADC reference: scale the present one by measured/shown.
        if settings is None or settings.voltage_calibration is None:
            raise SettingNotSupportedError(
                "voltage calibration needs the device's settings first",
                setting=spec.key,
                protocol=str(protocol),
            )
        assert cell_info is not None  # setting_limits demanded it
        raw = settings.voltage_calibration * number / cell_info.total_voltage
    payload = register.encode(raw)
    return PreparedWrite(spec, number, encode_command(register.address, payload))


def _out_of_range(
    spec: SettingSpec, value: float, limits: Limits
) -> SettingOutOfRangeError:
    unit = f" {spec.unit}" if spec.unit else ""
    return SettingOutOfRangeError(
        f"{spec.key} {value:g}{unit} is outside {limits.minimum:g}..{limits.maximum:g}"
        f"{unit}; nothing was sent",
        setting=spec.key,
        value=f"{value:g}",
        min=f"{limits.minimum:g}",
        max=f"{limits.maximum:g}",
        unit=spec.unit or "",
    )


def held_value(
    spec: SettingSpec, settings: Settings, cell_info: CellInfo | None
) -> float | None:
    """Return the value the device holds now, in the setting's own terms."""
    if spec.confirmation is Confirmation.PACK_VOLTAGE:
        return cell_info.total_voltage if cell_info is not None else None
    current = getattr(settings, spec.key)
    return None if current is None else float(current)


def is_confirmed(write: PreparedWrite, held: float | None) -> bool:
    """Return True when the value the device holds matches the written one."""
    if held is None:
        return False
    if write.spec.confirmation is Confirmation.PACK_VOLTAGE:
        return abs(held - write.value) <= write.value * CALIBRATION_TOLERANCE
    return abs(held - write.value) <= write.spec.step / 2
