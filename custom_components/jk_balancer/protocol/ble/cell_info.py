"""Checking and converting cell-info frames, the stream of measurements.

Every frame of the half-second stream is checked: values in range, cells from
the connected-cells mask, the device's own figures in agreement with those
cells. A frame read with the wrong layout fails these checks, which is how the
layout is detected (see :mod:`.decode`). Converting into a :class:`CellInfo`
happens only for the frame that is read.
"""

from __future__ import annotations

import functools
from operator import itemgetter
from typing import Any, Final, NamedTuple

from ..const import Protocol
from ..errors import ImplausibleFrameError
from ..layout import FLOAT_DIGITS
from ..model import CellInfo, DeviceFigures, summarize
from ..plausibility import (
    FigureScale,
    cell_decimals,
    check_figures,
    check_total_voltage,
)
from .frame import Frame
from .layouts import CELL_INFO_LAYOUTS, ERROR_BITS

# JK04 reports no warning bits; the app marks a wire above about this as too high.
WIRE_RESISTANCE_LIMIT: Final = 1.0  # Ohm
# A JK BMS derives its state of charge from remaining / estimated capacity; the
# captures agree within 1.5 points (it rounds and updates them apart).
STATE_OF_CHARGE_TOLERANCE: Final = 5  # percentage points


class _CellInfoPlan:
    """How one layout's cell-info frame is checked and converted."""

    def __init__(self, protocol: Protocol) -> None:
        layout = CELL_INFO_LAYOUTS[protocol]
        cells = layout.fields["cell_voltages"]
        self.protocol = protocol
        names = _COMMON_VALUES + (_JK02_VALUES if protocol.is_jk02 else ())
        self.decoder = layout.decoder(names)
        self.values = self.decoder.picker(names)
        # Raw values the checks compare, straight from the unpacked frame.
        checked = _CHECKED_RAW + (_CHECKED_RAW_JK02 if protocol.is_jk02 else ())
        self.raw = itemgetter(*(layout.index(name) for name in checked))
        fields = layout.fields
        self.scale = FigureScale(
            cells.divisor,
            fields["average_cell_voltage"].divisor,
            fields["delta_cell_voltage"].divisor,
        )
        self.total_divisor = fields.get("total_voltage", cells).divisor
        self.capacity_divisor = fields.get("remaining_capacity", cells).divisor
        self.first_cell = layout.index("cell_voltages")
        self.cell_block = (cells.offset, cells.offset + cells.length)
        self.slots = cells.count
        self.decimals = cell_decimals(cells)


# The cell-info values the record is built from, per layout.
_COMMON_VALUES: Final = (
    "cell_voltages",
    "cell_resistances",
    "average_cell_voltage",
    "delta_cell_voltage",
    "balancing_action",
    "balancing_current",
    "total_runtime",
)
# A JK BMS's measurements that the record takes as the frame has them: named
# by the record's own fields (the layouts name them alike), so each lands in
# its place and one added to both needs no other change here.
_AS_MEASURED: Final = CellInfo._fields[
    CellInfo._fields.index("current") : CellInfo._fields.index("charging")
]
_JK02_VALUES: Final = (
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "total_voltage",
    "wire_resistance_warning_mask",
    "errors_mask",
    *_AS_MEASURED,
    "charging",
    "discharging",
)
# The raw values the checks compare, per layout.
_CHECKED_RAW: Final = (
    "connected_cells_mask",
    "average_cell_voltage",
    "delta_cell_voltage",
    "total_runtime",
)
_CHECKED_RAW_JK02: Final = (
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "total_voltage",
    "state_of_charge",
    "remaining_capacity",
    "estimated_capacity",
)
_PLANS: Final = {protocol: _CellInfoPlan(protocol) for protocol in CELL_INFO_LAYOUTS}
# Records are built without their keyword-argument constructors: this runs
# twice a second per device.
_new: Final = tuple.__new__
# What JK04 frames do not carry: the record's defaults (None, no errors).
_NOT_ON_JK04: Final = tuple(CellInfo._field_defaults.values())


class CheckedCellInfo(NamedTuple):
    """A cell-info frame that passed every check, not yet converted.

    Checking is what every frame of the half-second stream needs; converting
    into a :class:`CellInfo` only what is read (:meth:`cell_info`).
    """

    protocol: Protocol
    values: tuple[Any, ...]  # the frame's raw values, as the layout unpacks them
    cells: int  # cells measured (0: none)

    def cell_info(self) -> CellInfo:
        """The measurements in physical units, summarized from the cells."""
        protocol, plan = self.protocol, _PLANS[self.protocol]
        values = plan.values(plan.decoder.convert(self.values))
        cells, resistances, average, delta, action, balancing_current, runtime = values[
            :7
        ]
        cells, resistances = cells[: self.cells], resistances[: self.cells]
        summary = summarize(cells, plan.decimals)
        if protocol is Protocol.JK04:
            return _new(
                CellInfo,
                (
                    protocol,
                    cells,
                    resistances,
                    round(sum(cells), FLOAT_DIGITS) if cells else None,
                    *summary,
                    action != 0,
                    balancing_current,
                    runtime,
                    _cells_above(resistances, WIRE_RESISTANCE_LIMIT),
                    _new(DeviceFigures, (average, delta, None, None)),
                    *_NOT_ON_JK04,
                ),
            )
        (
            min_index,
            max_index,
            total,
            warnings,
            errors,
            *measured,
            charging,
            discharging,
        ) = values[7:]
        return _new(
            CellInfo,
            (
                protocol,
                cells,
                resistances,
                total,
                *summary,
                action != 0,
                balancing_current,
                runtime,
                _cells_in_mask(warnings, self.cells),
                _new(DeviceFigures, (average, delta, min_index + 1, max_index + 1)),
                *measured,
                charging == 1,
                discharging == 1,
                _error_names(errors),
            ),
        )


def check_cell_info(frame: Frame, protocol: Protocol) -> CheckedCellInfo:
    """Check a cell-info frame; raise ImplausibleFrameError on a wrong layout.

    Three steps, on raw values: every field is range-checked as it is
    unpacked; the measured cells are taken from the connected-cells mask; and
    the device's own figures (and, on JK02, its pack voltage or charge
    figures) must agree with those cells. A frame without cells says less, so
    it must at least carry the device's clock (its runtime is never 0).
    """
    plan = _PLANS[protocol]
    raw = frame.raw
    values = plan.decoder.check(raw)
    if protocol.is_jk02:
        (mask, average, delta, runtime, min_index, max_index, *pack) = plan.raw(values)
    else:
        mask, average, delta, runtime = plan.raw(values)
        min_index = max_index = None
    cells = _measured_cells(plan, raw, values, mask)
    if cells:
        check_figures(plan.scale, cells, average, delta, min_index, max_index)
    elif not runtime:
        raise ImplausibleFrameError(
            "no cell measured and no runtime: the frame says nothing",
            field="total_runtime",
            value="0",
        )
    if protocol.is_jk02:
        _check_pack(plan, cells, pack)
    return _new(CheckedCellInfo, (protocol, values, len(cells)))


def _measured_cells(
    plan: _CellInfoPlan, raw: bytes, values: tuple[Any, ...], mask: int
) -> tuple[Any, ...]:
    """The cells the device measured (raw), from its connected-cells mask.

    Cells are wired from B1 upwards, so the mask is a run of ones from bit 0.
    A frame with every cell slot at zero measured no cell (balance leads
    unplugged): valid, with no cells. Cells reading 0 V at the top of the mask
    were not measured (seen while the cell-count setting changes); a 0 V cell
    below a measured one is impossible.
    """
    slots = plan.slots
    if mask & (mask + 1) or mask.bit_length() > slots:
        raise ImplausibleFrameError(
            f"connected-cells mask {mask:#x} is not a run of 0..{slots} cells",
            field="connected_cells_mask",
            value=hex(mask),
        )
    start, end = plan.cell_block
    if raw.count(0, start, end) == end - start:
        return ()
    if not mask:
        raise ImplausibleFrameError(
            "cells are measured outside the connected-cells mask 0x0",
            field="connected_cells_mask",
            value="0x0",
        )
    first = plan.first_cell
    count = mask.bit_length()
    while not values[first + count - 1]:
        count -= 1
    cells = values[first : first + count]
    if 0 in cells:
        raise ImplausibleFrameError(
            "a cell below a measured one reads 0 V", field="cell_voltages", value="0"
        )
    return cells


def _check_pack(plan: _CellInfoPlan, cells: tuple[float, ...], pack: list[int]) -> None:
    """A JK02 pack voltage is about the sum of its cells (raw values).

    With no cell measured, the BMS's charge figures must agree instead: that
    and the runtime are what tell a frame without cells from another
    layout's bytes. ``pack`` holds the raw total voltage, state of charge,
    remaining and estimated capacity.
    """
    total, state_of_charge, remaining, estimated = pack
    if cells:
        check_total_voltage(
            total / plan.total_divisor, sum(cells) / plan.scale.cell_divisor
        )
        return
    if remaining > estimated * 1.05 + 1 or (
        estimated > 0
        and abs(state_of_charge - 100 * remaining / estimated)
        > STATE_OF_CHARGE_TOLERANCE
    ):
        divisor = plan.capacity_divisor
        raise ImplausibleFrameError(
            f"state of charge {state_of_charge} % disagrees with "
            f"{remaining / divisor} Ah of {estimated / divisor} Ah",
            field="state_of_charge",
            value=str(state_of_charge),
        )


def _cells_above(resistances: tuple[float, ...], limit: float) -> tuple[int, ...]:
    return tuple(cell for cell, value in enumerate(resistances, 1) if value > limit)


# A device repeats the same few masks frame after frame.
@functools.lru_cache(maxsize=256)
def _cells_in_mask(mask: int, count: int) -> tuple[int, ...]:
    """Numbers (from 1) of the cells whose bit is set."""
    return tuple(cell for cell in range(1, count + 1) if mask >> (cell - 1) & 1)


@functools.lru_cache(maxsize=256)
def _error_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(ERROR_BITS) if mask >> bit & 1)
