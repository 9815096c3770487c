"""Typed results of decoding: device info, settings, cell info, snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any, NamedTuple

from .const import Protocol

# Model names encode the balance current and cell count: JK-B2A24S (2 A, 24 cells),
# JK-BD6A17S6P (0.6 A, 17 cells, BMS), JK-B5A24S (5 A). "S<n>P" marks a BMS.
_BALANCE_CURRENT = re.compile(r"B(D?)(\d+)A")
_MODEL_CELLS = re.compile(r"A(\d+)S")
_BMS_MODEL = re.compile(r"S\d+P")
_VERSION_MAJOR = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Frame 0x03: what the device says about itself."""

    vendor_id: str
    hardware_version: str
    software_version: str
    device_name: str
    serial_number: str
    manufacturing_date: str
    uptime: int
    power_on_count: int
    # Sent in clear text by the device; kept out of repr so it cannot reach a log.
    passcode: str = field(repr=False)

    @property
    def is_bms(self) -> bool:
        """Return True for a JK BMS (which also measures current and charge)."""
        return _BMS_MODEL.search(self.vendor_id) is not None

    @property
    def software_major(self) -> int | None:
        """Major software version, which hints at the frame layout."""
        match = _VERSION_MAJOR.match(self.software_version)
        return int(match.group()) if match else None

    @property
    def rated_balance_current(self) -> float | None:
        """Balance current the model is built for, in A, when the name tells."""
        if (match := _BALANCE_CURRENT.search(self.vendor_id)) is None:
            return None
        amps = int(match.group(2))
        return amps / 10 if match.group(1) else float(amps)

    @property
    def model_cells(self) -> int | None:
        """Number of cells the model is built for, when the name tells."""
        match = _MODEL_CELLS.search(self.vendor_id)
        return int(match.group(1)) if match else None

    def to_dict(self, *, show_passcode: bool = False) -> dict[str, Any]:
        """Return the fields for JSON output; the passcode only when asked."""
        result: dict[str, Any] = {
            "vendor_id": self.vendor_id,
            "hardware_version": self.hardware_version,
            "software_version": self.software_version,
            "device_name": self.device_name,
            "serial_number": self.serial_number,
            "manufacturing_date": self.manufacturing_date,
            "uptime": self.uptime,
            "power_on_count": self.power_on_count,
        }
        if show_passcode:
            result["passcode"] = self.passcode
        return result


@dataclass(frozen=True, slots=True)
class Settings:
    """Frame 0x01: the balancer's settings as the device holds them."""

    cell_count: int
    balancer_enabled: bool
    balance_trigger_voltage: float
    balance_start_voltage: float
    max_balance_current: float
    power_off_voltage: float
    # JK04 reports its ADC reference voltage; JK02 does not report calibration.
    voltage_calibration: float | None
    # JK02 only.
    battery_capacity: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the fields for JSON output."""
        result: dict[str, Any] = {
            "cell_count": self.cell_count,
            "balancer_enabled": self.balancer_enabled,
            "balance_trigger_voltage": self.balance_trigger_voltage,
            "balance_start_voltage": self.balance_start_voltage,
            "max_balance_current": self.max_balance_current,
            "power_off_voltage": self.power_off_voltage,
            "voltage_calibration": self.voltage_calibration,
        }
        if self.battery_capacity is not None:
            result["battery_capacity"] = self.battery_capacity
        return result


class CellInfo(NamedTuple):
    """Frame 0x02: measurements, streamed about every 0.5 s.

    A named tuple rather than a dataclass: it is built twice a second per
    device, and a tuple is the cheapest immutable record to build.
    """

    protocol: Protocol
    cell_voltages: tuple[float, ...]
    cell_resistances: tuple[float, ...]
    total_voltage: float
    average_cell_voltage: float
    delta_cell_voltage: float
    min_cell_voltage: float
    max_cell_voltage: float
    min_voltage_cell: int
    max_voltage_cell: int
    balancing: bool
    balancing_current: float
    total_runtime: int
    # Cells (numbered from 1) whose balance wire resistance is too high.
    wire_resistance_warnings: tuple[int, ...]
    # JK02 layouts only (None on JK04; a temperature is None without a probe).
    current: float | None = None
    state_of_charge: int | None = None
    state_of_health: int | None = None
    remaining_capacity: float | None = None
    nominal_capacity: float | None = None
    cycle_count: int | None = None
    temperature_sensor_1: float | None = None
    temperature_sensor_2: float | None = None
    power_tube_temperature: float | None = None
    charging: bool | None = None
    discharging: bool | None = None
    errors: tuple[str, ...] = ()

    @property
    def cell_count(self) -> int:
        """Number of connected cells."""
        return len(self.cell_voltages)

    @property
    def power(self) -> float | None:
        """Pack power in W (positive while charging), where current is known."""
        if self.current is None:
            return None
        return round(self.total_voltage * self.current, 3)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields for JSON output."""
        result: dict[str, Any] = {
            "cell_voltages": list(self.cell_voltages),
            "cell_resistances": list(self.cell_resistances),
            "total_voltage": self.total_voltage,
            "average_cell_voltage": self.average_cell_voltage,
            "delta_cell_voltage": self.delta_cell_voltage,
            "min_cell_voltage": self.min_cell_voltage,
            "max_cell_voltage": self.max_cell_voltage,
            "min_voltage_cell": self.min_voltage_cell,
            "max_voltage_cell": self.max_voltage_cell,
            "balancing": self.balancing,
            "balancing_current": self.balancing_current,
            "total_runtime": self.total_runtime,
            "wire_resistance_warnings": list(self.wire_resistance_warnings),
        }
        if self.protocol.is_jk02:
            result |= {
                "current": self.current,
                "state_of_charge": self.state_of_charge,
                "state_of_health": self.state_of_health,
                "remaining_capacity": self.remaining_capacity,
                "nominal_capacity": self.nominal_capacity,
                "cycle_count": self.cycle_count,
                "temperature_sensor_1": self.temperature_sensor_1,
                "temperature_sensor_2": self.temperature_sensor_2,
                "power_tube_temperature": self.power_tube_temperature,
                "charging": self.charging,
                "discharging": self.discharging,
                "errors": list(self.errors),
            }
        return result


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything known about a device after a complete handshake."""

    protocol: Protocol
    device_info: DeviceInfo
    settings: Settings
    cell_info: CellInfo
