"""Every writable setting, defined once.

A :class:`SettingSpec` names a field of :class:`Settings` and says how it is
written on each layout (register, encoding, scale), what it accepts (range and
step, narrowed by the device's model), what a device may report holding (the
frames' plausibility check), its usual value, how users are shown it (unit,
such as millivolts for the trigger delta) and how a write is confirmed. The
number and switch entities, the frame layouts, the CLI's ``set`` and the
virtual balancer all read these definitions; nothing about a setting is
restated elsewhere. How a value is checked before it is written is in
:mod:`.writes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
import math
import struct
from types import MappingProxyType
from typing import Final

from .const import Protocol
from .errors import UnknownSettingError
from .layout import Field
from .model import Settings


class Encoding(Enum):
    """How a register value is written."""

    FLOAT32 = "<f"
    UINT8 = "<B"
    UINT16 = "<H"
    UINT32 = "<I"
    # The RS485 request's value.
    UINT16_BE = ">H"

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
    """A writable setting of the balancer; ``key`` is its Settings field.

    Values are in ``unit`` (SI, as in :class:`Settings`); users see them in
    ``display_unit``, ``display_scale`` times larger. ``ranges`` is what each
    layout accepts in a write; ``reported`` what a device may hold (set by the
    app or the factory), beyond which a decoded value is impossible.
    ``default`` is the usual value (the vendors' advice where they give one).
    """

    key: str
    kind: ValueKind
    unit: str | None
    step: float
    registers: Mapping[Protocol, Register]
    ranges: Mapping[Protocol, tuple[float, float]]
    reported: tuple[float, float]
    default: float
    confirmation: Confirmation = Confirmation.READ_BACK
    description: str = field(default="", compare=False)
    display_unit: str | None = None
    display_scale: float = 1

    @property
    def shown_unit(self) -> str | None:
        """The unit users see."""
        return self.display_unit or self.unit

    def to_display(self, value: float) -> float:
        """A value in the unit users see, rounded to the step (whole: an int)."""
        decimals = _decimals(self.step * self.display_scale)
        shown = value * self.display_scale
        if decimals or not math.isfinite(shown):
            return round(shown, decimals)
        return round(shown)

    def format(self, value: float) -> str:
        """A value as users see it: in their unit, to the step, no trailing zeros."""
        return f"{self.to_display(value):g}"

    def from_display(self, value: float) -> float:
        """A value users entered, in the setting's own unit."""
        return value / self.display_scale

    def coerce(self, value: float) -> float | bool:
        """A written number as the Settings field holds it (bool, int, float)."""
        if self.kind is ValueKind.SWITCH:
            return bool(value)
        if self.kind is ValueKind.INTEGER:
            return round(value)
        return value

    def supported(self, protocol: Protocol) -> bool:
        """Return True when the layout has a register for this setting."""
        return protocol in self.registers

    def field(self, offset: int, code: str, divisor: float = 1) -> Field:
        """The setting in a frame: what a device may hold is its valid range."""
        return Field(self.key, offset, code, divisor, self.unit, valid=self.reported)

    def widest_range(self) -> tuple[float, float]:
        """What some layout accepts: outside it no device takes the value."""
        lows, highs = zip(*self.ranges.values(), strict=True)
        return min(lows), max(highs)


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0


def _by_family[T](jk04: T | None, jk02: T, rs485: T | None = None) -> dict[Protocol, T]:
    """Map JK04, both JK02 layouts and RS485 (those given as None left out)."""
    result = {Protocol.JK04: jk04, Protocol.JK02_24S: jk02, Protocol.JK02_32S: jk02}
    result[Protocol.DZ_RS485] = rs485
    return {protocol: item for protocol, item in result.items() if item is not None}


_F32 = Encoding.FLOAT32
_U32 = Encoding.UINT32
_BE16 = Encoding.UINT16_BE
_MILLI = 1000

BALANCER_ENABLED: Final = SettingSpec(
    "balancer_enabled",
    ValueKind.SWITCH,
    None,
    1,
    _by_family(
        Register(0x6C, Encoding.UINT8), Register(0x1F, _U32), Register(0xF6, _BE16)
    ),
    _by_family((0, 1), (0, 1), (0, 1)),
    reported=(0, 1),
    default=1,
    description="Balancer on/off",
)
BALANCE_TRIGGER_VOLTAGE: Final = SettingSpec(
    "balance_trigger_voltage",
    ValueKind.DECIMAL,
    "V",
    0.001,
    _by_family(
        Register(0x64, _F32),
        Register(0x06, _U32, _MILLI),
        Register(0xF2, _BE16, _MILLI),
    ),
    _by_family((0.001, 1.0), (0.003, 1.0), (0.002, 1.0)),
    reported=(0.001, 1.0),
    # The vendors' advice for packs of 50 Ah and more (10 mV below).
    default=0.005,
    description="Cell voltage difference above which balancing starts",
    # The manuals speak of 5 and 10 mV, like the cell difference sensor.
    display_unit="mV",
    display_scale=1000,
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
    reported=(0.0, 5.0),
    # The LFP and NCM presets of the JK app.
    default=3.0,
    description="Balancing only when the highest cell is above this voltage",
)
MAX_BALANCE_CURRENT: Final = SettingSpec(
    "max_balance_current",
    ValueKind.DECIMAL,
    "A",
    0.1,
    _by_family(
        Register(0x68, _F32),
        Register(0x13, _U32, _MILLI),
        Register(0xF4, _BE16, _MILLI),
    ),
    # RS485 takes from 30 mA; the entity's 0.1 A steps start at 0.1 A.
    _by_family((0.1, 5.0), (0.1, 5.0), (0.1, 2.0)),
    reported=(0.01, 10.0),
    default=2.0,
    description="Balance current (the model's rating is the upper limit)",
)
CELL_COUNT: Final = SettingSpec(
    "cell_count",
    ValueKind.INTEGER,
    None,
    1,
    _by_family(
        Register(0x1C, Encoding.UINT16), Register(0x1C, _U32), Register(0xF0, _BE16)
    ),
    {
        Protocol.JK04: (2, 24),
        Protocol.JK02_24S: (2, 24),
        Protocol.JK02_32S: (2, 32),
        Protocol.DZ_RS485: (2, 24),
    },
    reported=(1, 32),
    # The JK-B2A16S, and the 48 V LFP packs most owners build.
    default=16,
    description="Number of cells wired to the balancer",
)
POWER_OFF_VOLTAGE: Final = SettingSpec(
    "power_off_voltage",
    ValueKind.DECIMAL,
    "V",
    0.01,
    _by_family(Register(0x20, _F32), Register(0x0B, _U32, _MILLI)),
    _by_family((1.2, 4.25), (1.2, 4.25)),
    reported=(0.0, 5.0),
    default=2.5,
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
    # What JK04 reports: its ADC reference voltage (3.0 V from the factory).
    reported=(0.5, 10.0),
    default=3.0,
    confirmation=Confirmation.PACK_VOLTAGE,
    description="Pack voltage measured with a meter",
)
BATTERY_CAPACITY: Final = SettingSpec(
    "battery_capacity",
    ValueKind.INTEGER,
    "Ah",
    1,
    _by_family(None, Register(0x20, _U32, _MILLI)),
    _by_family(None, (1, 2000)),
    reported=(0.0, 20000.0),
    default=100,
    description="Nominal battery capacity",
)

SETTING_SPECS: Final = MappingProxyType(
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
if set(SETTING_SPECS) != {f.name for f in fields(Settings)}:  # pragma: no cover
    raise RuntimeError("every Settings field is a setting and vice versa")


def get_spec(key: str) -> SettingSpec:
    """Return the setting named ``key``."""
    try:
        return SETTING_SPECS[key]
    except KeyError:
        raise UnknownSettingError(
            f"unknown setting {key!r}; known: {', '.join(SETTING_SPECS)}", setting=key
        ) from None
