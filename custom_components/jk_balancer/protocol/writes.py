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

from .chemistry import LOAD_SAG, Chemistry, PackChemistry, as_pack_chemistry
from .const import Protocol
from .errors import (
    SettingBetweenStepsError,
    SettingNotSupportedError,
    SettingOutOfRangeError,
    UnsafeSettingError,
    WriteNotConfirmedError,
)
from .model import CELL_VOLTAGE_FORMAT, CellInfo, DeviceInfo, Settings, Snapshot
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
    get_spec,
)

# A calibration further than this from what the device measures is a typo.
CALIBRATION_WINDOW: Final = 0.10
# The refusal of a cell count below the cells connected (a repair confirms it).
CELL_COUNT_BELOW_CONNECTED: Final = "cell_count_below_connected"
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


# Of a step: closer than this to one is that step (float rounding, float32
# registers, not intent).
STEP_TOLERANCE: Final = 1e-3


def check_value(spec: SettingSpec, value: float | bool, limits: Limits) -> float:
    """The value, exactly on one of the setting's steps, or a SettingOutOfRangeError.

    NaN, infinities and values beyond the limits are refused before any
    arithmetic that could fail on them. A value between two steps is refused
    with both named (SettingBetweenStepsError): writing another value than
    the one asked for would be a surprise. What a float's last digit adds
    (3.4500000001) is not a value between steps.
    """
    number = float(value)
    if not math.isfinite(number) or not (
        limits.minimum - 1e-9 <= number <= limits.maximum + 1e-9
    ):
        raise _out_of_range(spec, number, limits)
    steps = number / spec.step
    if abs(steps - round(steps)) > STEP_TOLERANCE:
        raise _between_steps(spec, number, limits)
    snapped = round(round(steps) * spec.step, 6)
    return min(max(snapped, limits.minimum), limits.maximum)


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
    chemistry: Chemistry | PackChemistry | None = None,
    fewer_cells_confirmed: bool = False,
) -> PreparedWrite:
    """Check a new value against the device as it is now; nothing is sent.

    Beyond the device's range (SettingOutOfRangeError), refuses what would
    harm (UnsafeSettingError): a power-off voltage at or above the lowest
    cell, or above where the pack's ``chemistry`` (what is known of it, or
    else what the cells tell) still holds much of its charge; a start voltage
    its cells never reach; and a cell count below the cells connected, unless
    the user confirmed that they rewired the pack.
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
    known = as_pack_chemistry(chemistry, cells)
    if spec is POWER_OFF_VOLTAGE:
        _check_power_off(number, cells, known)
    elif spec is BALANCE_START_VOLTAGE:
        likely = known.likely
        if number >= likely.full_voltage:
            raise UnsafeSettingError(
                "start_voltage_unreachable",
                f"start voltage {number:g} V: {likely.name} cells never go above "
                f"{likely.full_voltage:g} V, so balancing would never start; "
                "nothing was sent",
                value=spec.format(number),
                chemistry=likely.name,
                full=spec.format(likely.full_voltage),
                unit=unit,
            )
    elif spec is CELL_COUNT and number < cells.cell_count and not fewer_cells_confirmed:
        raise UnsafeSettingError(
            CELL_COUNT_BELOW_CONNECTED,
            f"cell count {number:g}: {cells.cell_count} cells are connected, the "
            "ones above would go unwatched and unbalanced; nothing was sent",
            value=spec.format(number),
            connected=str(cells.cell_count),
        )
    return write


def _check_power_off(number: float, cells: CellInfo, known: PackChemistry) -> None:
    """Refuse a power-off voltage the pack would reach now, or soon under load.

    Reaching it switches the balancer off, radio and all: nothing can undo
    that from afar. Above the chemistry's ceiling (the lowest of the
    candidates while it is not known) the pack is cut off while still charged.
    """
    spec = POWER_OFF_VOLTAGE
    unit = spec.shown_unit or ""
    # Without a cell nothing can be checked, the chemistry included.
    lowest = cells.min_cell_voltage
    if lowest is None:
        raise UnsafeSettingError(
            "power_off_without_cells",
            f"power-off voltage {number:g} V cannot be checked: no cell is "
            "measured; nothing was sent",
            value=spec.format(number),
            unit=unit,
        )
    chemistry, ceiling = known.lowest(lambda v: v.power_off_ceiling)
    voltages = chemistry.voltages
    if number > ceiling:
        raise UnsafeSettingError(
            "power_off_above_chemistry"
            if known.chosen
            else "power_off_above_inferred_chemistry",
            f"power-off voltage {number:g} V is above "
            f"{ceiling:g} V, where {chemistry.name} cells still "
            "hold much of their charge: the pack "
            f"would be cut off at its next discharge (usual: {voltages.empty:g} V); "
            "nothing was sent",
            value=spec.format(number),
            chemistry=chemistry.name,
            ceiling=spec.format(ceiling),
            usual=spec.format(voltages.empty),
            unit=unit,
        )
    highest_safe = _round_step(lowest - LOAD_SAG, spec.step, math.floor)
    if number > highest_safe + 1e-9:
        raise UnsafeSettingError(
            "power_off_at_cells",
            f"power-off voltage {number:g} V is within {LOAD_SAG:g} V of the lowest "
            f"cell ({lowest:.3f} V): under load the balancer would switch itself "
            "off, radio and all; nothing was sent",
            value=spec.format(number),
            lowest=CELL_VOLTAGE_FORMAT.format(lowest),
            margin=spec.format(LOAD_SAG),
            highest=spec.format(highest_safe),
            unit=unit,
        )


def _between_steps(
    spec: SettingSpec, value: float, limits: Limits
) -> SettingBetweenStepsError:
    """The error names the steps either side of ``value`` within the limits."""
    below = max(_round_step(value, spec.step, math.floor), limits.minimum)
    above = min(_round_step(value, spec.step, math.ceil), limits.maximum)
    unit = f" {spec.shown_unit}" if spec.shown_unit else ""
    return SettingBetweenStepsError(
        f"{spec.key} {value:g} lies between the steps of {spec.step:g}; "
        f"{below:g} or {above:g} can be written; nothing was sent",
        setting=spec.key,
        # With their unit: a count has none, and "16.5  lies" would show it.
        value=_as_entered(spec, value) + unit,
        step=spec.format(spec.step) + unit,
        below=spec.format(below) + unit,
        above=spec.format(above) + unit,
    )


def _as_entered(spec: SettingSpec, value: float) -> str:
    """A refused value as the user gave it (rounding it could hide why)."""
    return f"{value * spec.display_scale:g}"


def _out_of_range(
    spec: SettingSpec, value: float, limits: Limits
) -> SettingOutOfRangeError:
    """The error names values in the unit users see; its reason in ``unit``."""
    unit = f" {spec.unit}" if spec.unit else ""
    shown = spec.shown_unit or ""

    return SettingOutOfRangeError(
        f"{spec.key} {value:g}{unit} is outside {limits.minimum:g}..{limits.maximum:g}"
        f"{unit}; nothing was sent",
        setting=spec.key,
        value=_as_entered(spec, value),
        min=spec.format(limits.minimum),
        max=spec.format(limits.maximum),
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
        value=spec.format(write.value),
        held="" if held is None else spec.format(held),
        unit=spec.shown_unit or "",
    )
