"""The frame layouts, one table per frame kind and protocol.

Offsets count from the first header byte; every frame is 300 bytes with the
checksum in byte 299. Values and their meaning were checked against the real
captures in the repository's ``captures/`` (tests decode every one of them).
Bytes not listed here are unknown or irrelevant to a balancer; the virtual
balancer sends them as zero.

JK04 (older balancers: JK-B2A16S hw 3.x, JK-B5A24S) stores every value as an
IEEE-754 float32; JK02 stores integers in mV, mA, mOhm and 0.1 degC. JK02_32S has
room for 32 cells: the block after the cell voltages sits 16 bytes later than in
JK02_24S, and everything after the resistances 32 bytes later.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from ..const import FrameType, Protocol
from ..layout import Field, Layout
from ..plausibility import CELL_VOLTAGE_RANGE, TEMPERATURE_RANGE
from ..settings import (
    BALANCE_START_VOLTAGE,
    BALANCE_TRIGGER_VOLTAGE,
    BALANCER_ENABLED,
    BATTERY_CAPACITY,
    CELL_COUNT,
    MAX_BALANCE_CURRENT,
    POWER_OFF_VOLTAGE,
    VOLTAGE_CALIBRATION,
)

# Raw temperature a JK02 device reports for a probe that is not fitted (-200.0 degC).
TEMPERATURE_ABSENT: Final = -2000


def _cell_voltages(offset: int, code: str, divisor: float, count: int) -> Field:
    """Cell voltages; only the cells in the connected-cells mask count."""
    return Field(
        "cell_voltages",
        offset,
        code,
        divisor,
        "V",
        count=count,
        valid=CELL_VOLTAGE_RANGE,
        length_from="connected_cells_mask",
    )


def _wire_resistances(offset: int, code: str, divisor: float, count: int) -> Field:
    """Balance wire resistances, one per connected cell."""
    return Field(
        "cell_resistances",
        offset,
        code,
        divisor,
        "Ohm",
        count=count,
        valid=(0.0, 100.0),
        length_from="connected_cells_mask",
    )


def _temperature(name: str, offset: int) -> Field:
    """A JK02 temperature: int16 in 0.1 degC, -200.0 when no probe is fitted."""
    return Field(
        name,
        offset,
        "h",
        10,
        "degC",
        valid=TEMPERATURE_RANGE,
        absent=TEMPERATURE_ABSENT,
    )


DEVICE_INFO: Final = Layout(
    "device_info",
    FrameType.DEVICE_INFO,
    [
        Field("vendor_id", 6, "s", size=16),
        Field("hardware_version", 22, "s", size=8),
        Field("software_version", 30, "s", size=8),
        Field("uptime", 38, "I", unit="s"),
        Field("power_on_count", 42, "I"),
        Field("device_name", 46, "s", size=16),
        Field("passcode", 62, "s", size=16),
        Field("manufacturing_date", 78, "s", size=8),
        # Older firmware ends the serial after 11 bytes; newer uses all 16.
        Field("serial_number", 86, "s", size=16),
        Field("user_data", 102, "s", size=16),
        Field("setup_passcode", 118, "s", size=16),
    ],
)

# Device-info fields that hold passcodes (redacted in diagnostics).
PASSCODE_FIELDS: Final = ("passcode", "setup_passcode")


SETTINGS_JK04: Final = Layout(
    "settings_jk04",
    FrameType.SETTINGS,
    [
        CELL_COUNT.field(34, "I"),
        POWER_OFF_VOLTAGE.field(38, "f"),
        # The ADC reference voltage; the app derives it from the pack voltage the
        # user measured.
        VOLTAGE_CALIBRATION.field(74, "f"),
        BALANCE_START_VOLTAGE.field(98, "f"),
        BALANCE_TRIGGER_VOLTAGE.field(106, "f"),
        MAX_BALANCE_CURRENT.field(110, "f"),
        BALANCER_ENABLED.field(114, "B"),
    ],
)

# JK02_24S and JK02_32S share the settings layout.
SETTINGS_JK02: Final = Layout(
    "settings_jk02",
    FrameType.SETTINGS,
    [
        BALANCE_TRIGGER_VOLTAGE.field(26, "I", 1000),
        POWER_OFF_VOLTAGE.field(46, "I", 1000),
        MAX_BALANCE_CURRENT.field(78, "I", 1000),
        CELL_COUNT.field(114, "I"),
        BALANCER_ENABLED.field(126, "B"),
        BATTERY_CAPACITY.field(130, "I", 1000),
        BALANCE_START_VOLTAGE.field(138, "I", 1000),
    ],
)

CELL_INFO_JK04: Final = Layout(
    "cell_info_jk04",
    FrameType.CELL_INFO,
    [
        _cell_voltages(6, "f", 1, count=24),
        _wire_resistances(102, "f", 1, count=24),
        Field("average_cell_voltage", 202, "f", unit="V", valid=CELL_VOLTAGE_RANGE),
        Field("delta_cell_voltage", 206, "f", unit="V", valid=CELL_VOLTAGE_RANGE),
        Field("connected_cells_mask", 214, "I"),
        # 0 idle, 1 charging a cell, 2 discharging a cell
        Field("balancing_action", 220, "B", valid=(0, 2)),
        Field("balancing_current", 222, "f", unit="A", valid=(-10.0, 10.0)),
        Field("total_runtime", 286, "I", unit="s"),
    ],
)

CELL_INFO_JK02_24S: Final = Layout(
    "cell_info_jk02_24s",
    FrameType.CELL_INFO,
    [
        _cell_voltages(6, "H", 1000, count=24),
        Field("connected_cells_mask", 54, "I"),
        Field("average_cell_voltage", 58, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("delta_cell_voltage", 60, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("max_voltage_cell_index", 62, "B"),
        Field("min_voltage_cell_index", 63, "B"),
        _wire_resistances(64, "H", 1000, count=24),
        Field("wire_resistance_warning_mask", 114, "I"),
        Field("total_voltage", 118, "I", 1000, "V", valid=(0.0, 200.0)),
        Field("current", 126, "i", 1000, "A", valid=(-2000.0, 2000.0)),
        _temperature("temperature_sensor_1", 130),
        _temperature("temperature_sensor_2", 132),
        _temperature("power_tube_temperature", 134),
        Field("errors_mask", 136, "H", swapped=True),
        Field("balancing_current", 138, "h", 1000, "A", valid=(-10.0, 10.0)),
        Field("balancing_action", 140, "B", valid=(0, 2)),
        Field("state_of_charge", 141, "B", unit="%", valid=(0, 100)),
        Field("remaining_capacity", 142, "I", 1000, "Ah", valid=(0.0, 20000.0)),
        Field("estimated_capacity", 146, "I", 1000, "Ah", valid=(0.0, 20000.0)),
        Field("cycle_count", 150, "I"),
        Field("state_of_health", 158, "B", unit="%", valid=(0, 100)),
        Field("total_runtime", 162, "I", unit="s"),
        Field("charging", 166, "B", valid=(0, 1)),
        Field("discharging", 167, "B", valid=(0, 1)),
    ],
)

CELL_INFO_JK02_32S: Final = Layout(
    "cell_info_jk02_32s",
    FrameType.CELL_INFO,
    [
        _cell_voltages(6, "H", 1000, count=32),
        Field("connected_cells_mask", 70, "I"),
        Field("average_cell_voltage", 74, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("delta_cell_voltage", 76, "H", 1000, "V", valid=CELL_VOLTAGE_RANGE),
        Field("max_voltage_cell_index", 78, "B"),
        Field("min_voltage_cell_index", 79, "B"),
        _wire_resistances(80, "H", 1000, count=32),
        _temperature("power_tube_temperature", 144),
        Field("wire_resistance_warning_mask", 146, "I"),
        Field("total_voltage", 150, "I", 1000, "V", valid=(0.0, 200.0)),
        Field("current", 158, "i", 1000, "A", valid=(-2000.0, 2000.0)),
        _temperature("temperature_sensor_1", 162),
        _temperature("temperature_sensor_2", 164),
        Field("errors_mask", 166, "H", swapped=True),
        Field("balancing_current", 170, "h", 1000, "A", valid=(-10.0, 10.0)),
        Field("balancing_action", 172, "B", valid=(0, 2)),
        Field("state_of_charge", 173, "B", unit="%", valid=(0, 100)),
        Field("remaining_capacity", 174, "I", 1000, "Ah", valid=(0.0, 20000.0)),
        Field("estimated_capacity", 178, "I", 1000, "Ah", valid=(0.0, 20000.0)),
        Field("cycle_count", 182, "I"),
        Field("state_of_health", 190, "B", unit="%", valid=(0, 100)),
        Field("total_runtime", 194, "I", unit="s"),
        Field("charging", 198, "B", valid=(0, 1)),
        Field("discharging", 199, "B", valid=(0, 1)),
    ],
)

SETTINGS_LAYOUTS: Final = MappingProxyType(
    {
        Protocol.JK04: SETTINGS_JK04,
        Protocol.JK02_24S: SETTINGS_JK02,
        Protocol.JK02_32S: SETTINGS_JK02,
    }
)
CELL_INFO_LAYOUTS: Final = MappingProxyType(
    {
        Protocol.JK04: CELL_INFO_JK04,
        Protocol.JK02_24S: CELL_INFO_JK02_24S,
        Protocol.JK02_32S: CELL_INFO_JK02_32S,
    }
)


# Bits of the JK02 errors mask (bit 0 is the least significant).
ERROR_BITS: Final = (
    "charge_overtemperature",
    "charge_undertemperature",
    "coprocessor_communication",
    "cell_undervoltage",
    "pack_undervoltage",
    "discharge_overcurrent",
    "discharge_short_circuit",
    "discharge_overtemperature",
    "wire_resistance",
    "mosfet_overtemperature",
    "cell_count_mismatch",
    "current_sensor_anomaly",
    "cell_overvoltage",
    "pack_overvoltage",
    "charge_overcurrent",
    "charge_short_circuit",
)
