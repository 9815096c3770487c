"""Checking a new value before it is written, and confirming it after.

Three checks, in order, before anything is sent: the value is a finite number
of the setting's kind; it lies within the range the device accepts (narrowed
by its model); and it does the pack no harm as the pack is now (a power-off
voltage at or above the lowest cell would switch the balancer off together
with its radio, which nothing can undo from afar).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import math
from typing import Final

from .chemistry import Chemistry, infer_chemistry
from .const import Protocol
from .errors import (
    SettingNotSupportedError,
    SettingOutOfRangeError,
    UnsafeSettingError,
    WriteNotConfirmedError,
)
from .model import CellInfo, DeviceInfo, Settings, Snapshot
from .settings import (
    BALANCE_START_VOLTAGE,
    CELL_COUNT,
    MAX_BALANCE_CURRENT,
    POWER_OFF_VOLTAGE,
    VOLTAGE_CALIBRATION,
    Confirmation,
    Limits,
    Register,
    SettingSpec,
    ValueKind,
    get_spec,
)

# A calibration further than this from what the device measures is a typo.
CALIBRATION_WINDOW: Final = 0.10
# Accepted difference between the entered and the afterwards measured pack voltage.
CALIBRATION_TOLERANCE: Final = 0.01


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
        measured = None if cell_info is None else cell_info.total_voltage
        if not measured or measured <= 0:
            raise SettingNotSupportedError(
                "voltage calibration needs a current pack voltage measurement",
                setting=spec.key,
                protocol=str(protocol),
            )
        low = _round_step(measured * (1 - CALIBRATION_WINDOW), spec.step, math.ceil)
        high = _round_step(measured * (1 + CALIBRATION_WINDOW), spec.step, math.floor)
    return Limits(low, high, spec.step)


def _round_step(value: float, step: float, rounding: Callable[[float], int]) -> float:
    return round(rounding(round(value / step, 6)) * step, 6)


def check_value(spec: SettingSpec, value: float | bool, limits: Limits) -> float:
    """The value snapped to the setting's step, or SettingOutOfRangeError.

    NaN, infinities and values beyond the limits are refused before any
    arithmetic that could fail on them.
    """
    number = float(value)
    if not math.isfinite(number) or not (
        limits.minimum - 1e-9 <= number <= limits.maximum + 1e-9
    ):
        raise _out_of_range(spec, number, limits)
    if spec.kind is not ValueKind.DECIMAL and number != int(number):
        raise _out_of_range(spec, number, limits)
    # Snap to the setting's resolution so 3.4500000001 is written as 3.45.
    snapped = round(round(number / spec.step) * spec.step, 6)
    return min(max(snapped, limits.minimum), limits.maximum)


def check_plausible(spec: SettingSpec, value: float | bool) -> float:
    """Refuse a value no device of any layout would take (nothing connected)."""
    low, high = spec.widest_range()
    return check_value(spec, value, Limits(low, high, spec.step))


@dataclass(frozen=True, slots=True)
class PreparedWrite:
    """A validated write: the register, its encoded value, the value to expect.

    Each transport wraps register and payload into its own command.
    """

    spec: SettingSpec
    value: float
    register: Register
    payload: bytes


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
    device would not accept, including NaN and infinities.
    """
    spec = get_spec(key)
    number = check_value(
        spec, value, setting_limits(spec, protocol, device_info, cell_info)
    )
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
        assert cell_info.total_voltage is not None
        raw = settings.voltage_calibration * number / cell_info.total_voltage
    return PreparedWrite(spec, number, register, register.encode(raw))


def validate_write(
    snapshot: Snapshot,
    key: str,
    value: float | bool,
    *,
    chemistry: Chemistry | None = None,
    fewer_cells_confirmed: bool = False,
) -> PreparedWrite:
    """Check a new value against the device as it is now; nothing is sent.

    Beyond the device's range (SettingOutOfRangeError), refuses what would
    harm (UnsafeSettingError): a power-off voltage at or above the lowest
    cell, a start voltage the cells of this ``chemistry`` never reach
    (inferred from the cells when not given), and a cell count below the cells
    connected, unless the user confirmed that they rewired the pack.
    """
    write = prepare_write(
        key,
        value,
        snapshot.protocol,
        device_info=snapshot.device_info,
        settings=snapshot.settings,
        cell_info=snapshot.cell_info,
    )
    spec, number, cells = write.spec, write.value, snapshot.cell_info
    unit = spec.shown_unit or ""
    if spec is POWER_OFF_VOLTAGE:
        if cells.min_cell_voltage is None:
            raise UnsafeSettingError(
                "power_off_without_cells",
                f"power-off voltage {number:g} V cannot be checked: no cell is "
                "measured; nothing was sent",
                value=f"{number:g}",
                unit=unit,
            )
        if number >= cells.min_cell_voltage:
            raise UnsafeSettingError(
                "power_off_at_cells",
                f"power-off voltage {number:g} V is at or above the lowest cell "
                f"({cells.min_cell_voltage:g} V): the balancer would switch itself "
                "off, radio and all; nothing was sent",
                value=f"{number:g}",
                lowest=f"{cells.min_cell_voltage:g}",
                unit=unit,
            )
    elif spec is BALANCE_START_VOLTAGE:
        chemistry = chemistry or infer_chemistry(cells)
        if number >= chemistry.full_voltage:
            raise UnsafeSettingError(
                "start_voltage_unreachable",
                f"start voltage {number:g} V: {chemistry.name} cells never go above "
                f"{chemistry.full_voltage:g} V, so balancing would never start; "
                "nothing was sent",
                value=f"{number:g}",
                chemistry=chemistry.name,
                full=f"{chemistry.full_voltage:g}",
                unit=unit,
            )
    elif spec is CELL_COUNT and number < cells.cell_count and not fewer_cells_confirmed:
        raise UnsafeSettingError(
            "cell_count_below_connected",
            f"cell count {number:g}: {cells.cell_count} cells are connected, the "
            "ones above would go unwatched and unbalanced; nothing was sent",
            value=f"{number:g}",
            connected=str(cells.cell_count),
        )
    return write


def _out_of_range(
    spec: SettingSpec, value: float, limits: Limits
) -> SettingOutOfRangeError:
    """The error names values in the unit users see; its reason in ``unit``."""
    unit = f" {spec.unit}" if spec.unit else ""
    shown = spec.shown_unit or ""

    def show(number: float) -> str:
        return f"{spec.to_display(number):g}"

    return SettingOutOfRangeError(
        f"{spec.key} {value:g}{unit} is outside {limits.minimum:g}..{limits.maximum:g}"
        f"{unit}; nothing was sent",
        setting=spec.key,
        value=show(value),
        min=show(limits.minimum),
        max=show(limits.maximum),
        unit=shown,
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


def not_confirmed(
    write: PreparedWrite, held: float | None, name: str
) -> WriteNotConfirmedError:
    """The error for a write the device did not take: what it holds instead."""
    spec = write.spec
    return WriteNotConfirmedError(
        f"did not take {spec.key} = {write.value:g}; "
        f"it holds {held if held is not None else 'nothing'}",
        name=name,
        setting=spec.key,
        value=f"{spec.to_display(write.value):g}",
        held="" if held is None else f"{spec.to_display(held):g}",
        unit=spec.shown_unit or "",
    )
