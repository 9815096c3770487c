"""JK DZ-series balancers on RS485: the 7-byte request and the 74-byte reply.

The master asks ``55 AA <address> <command> <value, u16 big endian> <sum>``.
Command 0xFF reads everything; the balancer at that address answers with 74
bytes: ``EB 90 <address> <command>``, big-endian values (the table below) and
the sum of the bytes before it, modulo 256, in the last byte. Writes (0xF0 cell
count, 0xF2 trigger delta, 0xF4 max balance current, 0xF6 balancer on/off; see
``SETTING_SPECS``) are confirmed by reading 0xFF back. Several balancers share
a bus, each at the address set on its DIP switch.

Offsets and scales were checked on the real capture in
the repository's ``captures/rs485``. The reply carries no identity, runtime, start or
power-off voltage, and no per-cell wire resistance.
"""

from __future__ import annotations

from typing import Final

from ..checksum import checksum
from ..const import Protocol
from ..errors import FrameError, ImplausibleFrameError
from ..layout import Field, Layout
from ..model import CellInfo, DeviceFigures, DeviceInfo, Settings, Snapshot, summarize
from ..plausibility import (
    CELL_VOLTAGE_RANGE,
    TEMPERATURE_RANGE,
    FigureScale,
    cell_decimals,
    check_figures,
    check_total_voltage,
)
from ..settings import BALANCE_TRIGGER_VOLTAGE, BALANCER_ENABLED, MAX_BALANCE_CURRENT

BAUD_RATE: Final = 9600
REQUEST_HEADER: Final = b"\x55\xaa"
REPLY_HEADER: Final = b"\xeb\x90"
REPLY_LENGTH: Final = 74
READ_ALL: Final = 0xFF
CELL_SLOTS: Final = 24
# The addresses a DZ balancer's DIP switch sets; a bus scan asks each.
BUS_ADDRESSES: Final = range(1, 16)
# What the device model is called where the reply does not say.
MODEL: Final = "JK-DZ (RS485)"

REPLY: Final = Layout(
    "rs485_reply",
    READ_ALL,
    [
        Field("total_voltage", 4, "H", 100, "V", valid=(0.0, 200.0)),
        Field("average_cell_voltage", 6, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("cells_detected", 8, "B", valid=(0, CELL_SLOTS)),
        # From 0; they lag the cells by a sample like over Bluetooth.
        Field("max_voltage_cell_index", 9, "B", valid=(0, CELL_SLOTS - 1)),
        Field("min_voltage_cell_index", 10, "B", valid=(0, CELL_SLOTS - 1)),
        # Bit 0: charging a cell, bit 1: discharging one.
        Field("balancing_bits", 11, "B", valid=(0, 3)),
        Field("alarm_bits", 12, "B", valid=(0, 7)),
        Field("delta_cell_voltage", 13, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("balancing_current", 15, "h", 1000, "A", valid=(-10.0, 10.0)),
        BALANCE_TRIGGER_VOLTAGE.field(17, "H", 1000),
        MAX_BALANCE_CURRENT.field(19, "H", 1000),
        BALANCER_ENABLED.field(21, "B"),
        Field("cell_count", 22, "B", valid=(1, CELL_SLOTS)),
        # Only the detected cells count (checked in decode_rs485_reply).
        Field("cell_voltages", 23, "H", 1000, "V", count=CELL_SLOTS),
        # Without a probe fitted the device may report anything: not a reason
        # to distrust the rest (out of range it decodes to None).
        Field("temperature_sensor_1", 71, "h", 10, "degC"),
    ],
    start=4,
    length=REPLY_LENGTH,
    byte_order=">",
)

# Bits of the alarm byte (bit 0 is the least significant); the names are those
# of the same faults in the Bluetooth errors mask.
ALARM_BITS: Final = ("cell_count_mismatch", "wire_resistance", "cell_overvoltage")

_CELLS: Final = REPLY.fields["cell_voltages"]
_DECIMALS: Final = cell_decimals(_CELLS)
# The figures are compared in volts, as decoded.
_VOLTS: Final = FigureScale(1, 1, 1)


def encode_rs485_request(
    address: int, command: int = READ_ALL, value: bytes = b""
) -> bytes:
    """Build a request; ``value`` is the two big-endian bytes of a write."""
    if not 0 <= address <= 0xFF or not 0 <= command <= 0xFF or len(value) > 2:
        raise ValueError("address, command or value out of range")
    body = REQUEST_HEADER + bytes((address, command)) + value.rjust(2, b"\0")
    return body + bytes((checksum(body),))


def rs485_reply_problem(raw: bytes, address: int | None = None) -> str | None:
    """Why ``raw`` is not an intact reply (from ``address``), or None."""
    if len(raw) != REPLY_LENGTH:
        return f"{len(raw)} bytes, a reply has {REPLY_LENGTH}"
    if not raw.startswith(REPLY_HEADER) or raw[3] != READ_ALL:
        return "not a reply to a read (EB 90 .. FF)"
    if address is not None and raw[2] != address:
        return f"from address {raw[2]}, not {address}"
    if checksum(raw[:-1]) != raw[-1]:
        return "checksum mismatch"
    return None


def decode_rs485_reply(raw: bytes, address: int | None = None) -> Snapshot:
    """Check a reply and decode it into a snapshot of the balancer.

    FrameError when it is not an intact reply (from ``address``, when given),
    ImplausibleFrameError when its values are impossible: out of range, a 0 V
    cell among those detected, the device's own figures or pack voltage far
    from the cells. No cell detected (balance leads unplugged) is valid.
    """
    if (problem := rs485_reply_problem(raw, address)) is not None:
        raise FrameError(problem)
    values = REPLY.decode(raw)
    cells = values.cell_voltages[: values.cells_detected]
    low, high = CELL_VOLTAGE_RANGE
    if bad := [voltage for voltage in cells if not low < voltage <= high]:
        raise ImplausibleFrameError(
            f"a detected cell reads {bad[0]} V",
            field="cell_voltages",
            value=str(bad[0]),
        )
    if cells:
        check_figures(
            _VOLTS,
            cells,
            values.average_cell_voltage,
            values.delta_cell_voltage,
            values.min_voltage_cell_index,
            values.max_voltage_cell_index,
        )
        check_total_voltage(values.total_voltage, sum(cells))
    cell_info = CellInfo(
        Protocol.DZ_RS485,
        cells,
        (),
        values.total_voltage,
        *summarize(cells, _DECIMALS),
        balancing=values.balancing_bits != 0,
        balancing_current=values.balancing_current,
        total_runtime=None,
        wire_resistance_warnings=(),
        device_figures=DeviceFigures(
            values.average_cell_voltage,
            values.delta_cell_voltage,
            values.min_voltage_cell_index + 1,
            values.max_voltage_cell_index + 1,
        ),
        temperature_sensor_1=_probe(values.temperature_sensor_1),
        errors=tuple(
            name for bit, name in enumerate(ALARM_BITS) if values.alarm_bits >> bit & 1
        ),
    )
    return Snapshot(
        Protocol.DZ_RS485,
        device_info_on_bus(raw[2]),
        Settings.from_values(values),
        cell_info,
    )


def unit_name(port: str, address: int) -> str:
    """How errors name the balancer at ``address`` on ``port``."""
    return f"{port} #{address}"


def device_info_on_bus(address: int) -> DeviceInfo:
    """What is known of a balancer on a bus: its address, nothing more."""
    return DeviceInfo(
        vendor_id=MODEL,
        hardware_version="",
        software_version="",
        device_name=f"JK balancer {address}",
        serial_number="",
        manufacturing_date="",
        uptime=0,
        power_on_count=0,
        passcode="",
    )


def _probe(temperature: float) -> float | None:
    low, high = TEMPERATURE_RANGE
    return temperature if low <= temperature <= high else None
