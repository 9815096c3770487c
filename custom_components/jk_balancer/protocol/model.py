"""Typed results of decoding: device info, settings, cell info, snapshot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
import re
from typing import Any, NamedTuple

from .const import Protocol

# Model names encode the balance current and cell count: JK-B2A24S (2 A, 24 cells),
# JK-BD6A17S6P (0.6 A, 17 cells, BMS), JK-B5A24S (5 A). "S<n>P" marks a BMS.
_BALANCE_CURRENT = re.compile(r"B(D?)(\d+)A")
_MODEL_CELLS = re.compile(r"A(\d+)S")
_BMS_MODEL = re.compile(r"S\d+P")
_VERSION_MAJOR = re.compile(r"\d+")
# Cells are measured to the millivolt: how messages show a cell's voltage.
CELL_VOLTAGE_FORMAT = "{:.3f}"


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
        result = asdict(self)
        if not show_passcode:
            del result["passcode"]
        return result


@dataclass(frozen=True, slots=True)
class Settings:
    """The balancer's settings as the device holds them (BLE frame 0x01).

    Every field is a setting of the same name (see ``SETTING_SPECS``).
    """

    cell_count: int
    balancer_enabled: bool
    balance_trigger_voltage: float
    # Bluetooth only: the RS485 reply carries neither.
    balance_start_voltage: float | None
    max_balance_current: float
    power_off_voltage: float | None
    # JK04 reports its ADC reference voltage; JK02 does not report calibration.
    voltage_calibration: float | None
    # JK02 only.
    battery_capacity: float | None

    @classmethod
    def from_values(cls, values: Any) -> Settings:
        """Build from a decoded record; fields its layout lacks are None."""
        found: dict[str, Any] = {
            f.name: getattr(values, f.name, None) for f in fields(cls)
        }
        found["balancer_enabled"] = bool(found["balancer_enabled"])
        return cls(**found)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields for JSON output."""
        return asdict(self)


type Summary = tuple[
    float | None, float | None, float | None, float | None, int | None, int | None
]
_NOTHING_MEASURED: Summary = (None, None, None, None, None, None)


def summarize(cells: tuple[float, ...], decimals: int) -> Summary:
    """Average, delta, lowest, highest and the numbers (from 1) of those cells.

    The numbers point at the first cell holding the value; the delta is
    highest minus lowest. Average and delta are rounded to the cells'
    resolution (``decimals``): more digits would be noise. All None when no
    cell was measured.
    """
    if not cells:
        return _NOTHING_MEASURED
    lowest, highest = min(cells), max(cells)
    return (
        round(sum(cells) / len(cells), decimals),
        round(highest - lowest, decimals),
        lowest,
        highest,
        cells.index(lowest) + 1,
        cells.index(highest) + 1,
    )


class DeviceFigures(NamedTuple):
    """The device's own summary bytes of a cell-info frame.

    They lag the cell voltages by a sample, so users see figures derived from
    the cells; these serve as plausibility checks and show in diagnostics.
    JK04 sends no min/max cell numbers; JK02 numbers them from 1 here.
    """

    average_cell_voltage: float
    delta_cell_voltage: float
    min_voltage_cell: int | None
    max_voltage_cell: int | None


class CellInfo(NamedTuple):
    """Measurements: BLE frame 0x02 (streamed about every 0.5 s), or RS485 reply.

    Minimum, maximum, their cell numbers (the first cell holding the value),
    delta and average are derived from the cells of this frame, so a snapshot
    never contradicts itself. With no cell measured (balance leads unplugged)
    they are None and ``cell_voltages`` is empty.

    A named tuple rather than a dataclass: it is built twice a second per
    device, and a tuple is the cheapest immutable record to build.
    """

    protocol: Protocol
    cell_voltages: tuple[float, ...]
    cell_resistances: tuple[float, ...]
    # The pack voltage: measured on JK02, the sum of the cells on JK04.
    total_voltage: float | None
    average_cell_voltage: float | None
    delta_cell_voltage: float | None
    min_cell_voltage: float | None
    max_cell_voltage: float | None
    min_voltage_cell: int | None
    max_voltage_cell: int | None
    balancing: bool
    balancing_current: float
    # Seconds the device has run; the RS485 reply does not carry it.
    total_runtime: int | None
    # Cells (numbered from 1) whose balance wire resistance is too high.
    wire_resistance_warnings: tuple[int, ...]
    device_figures: DeviceFigures
    # JK02 layouts only (None on JK04; a temperature is None without a probe).
    current: float | None = None
    state_of_charge: int | None = None
    state_of_health: int | None = None
    remaining_capacity: float | None = None
    # The BMS's present estimate of the pack's full capacity (not the nominal
    # capacity the user set, which is the battery_capacity setting).
    estimated_capacity: float | None = None
    cycle_count: int | None = None
    temperature_sensor_1: float | None = None
    temperature_sensor_2: float | None = None
    power_tube_temperature: float | None = None
    # JK BMS: whether its charge and discharge MOSFETs conduct.
    charging: bool | None = None
    discharging: bool | None = None
    errors: tuple[str, ...] = ()

    @property
    def cell_count(self) -> int:
        """Number of cells measured."""
        return len(self.cell_voltages)

    @property
    def wire_resistance_too_high(self) -> bool:
        """Return True when a balance wire is too resistive to balance.

        Over RS485 the device raises one alarm without naming the cell.
        """
        return bool(self.wire_resistance_warnings) or "wire_resistance" in self.errors

    @property
    def power(self) -> float | None:
        """Pack power in W (positive while charging), where current is known."""
        if self.current is None or self.total_voltage is None:
            return None
        return round(self.total_voltage * self.current, 3)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields for JSON output (every field but the layout)."""
        return {
            name: _json_value(value)
            for name, value in zip(self._fields, self, strict=True)
            if name != "protocol"
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, DeviceFigures):
        return value._asdict()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything known about a device after a complete handshake."""

    protocol: Protocol
    device_info: DeviceInfo
    settings: Settings
    cell_info: CellInfo

    def __post_init__(self) -> None:
        """A balancer switched off does not balance, whatever older frames say.

        Settings and measurements come in frames of their own: just after the
        balancer was switched off, the newest cell-info frame may still tell
        of balancing. A snapshot never contradicts itself.
        """
        cells = self.cell_info
        if not self.settings.balancer_enabled and (
            cells.balancing or cells.balancing_current
        ):
            stopped = cells._replace(balancing=False, balancing_current=0.0)
            object.__setattr__(self, "cell_info", stopped)

    @property
    def measures_pack_current(self) -> bool:
        """Return True for a JK BMS: it reports the current through the pack."""
        return self.protocol.is_jk02 and self.device_info.is_bms

    @property
    def cell_count_mismatch(self) -> bool:
        """Return True when the cells measured differ from the cell-count setting."""
        return (
            self.settings.cell_count != self.cell_info.cell_count
            or "cell_count_mismatch" in self.cell_info.errors
        )
