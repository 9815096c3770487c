"""Cascaded balancers as one pack: the cells numbered through.

Packs above 24 cells take several balancers, each watching its own run of
cells. Seen as one pack, unit 1's cells are 1 to n, unit 2's follow from
n + 1, and the pack's figures are derived from all of them, so the pack's
view never contradicts the cells it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from .model import CellInfo, summarize

# The finest resolution of any layout (JK04 sends float32 volts).
_DECIMALS: Final = 6


class CascadedPack(NamedTuple):
    """The cells of several balancers as one pack."""

    cell_voltages: tuple[float, ...]
    # How many cells each unit contributes, in order.
    unit_cells: tuple[int, ...]
    # The sum of the units' own pack voltages.
    total_voltage: float | None
    average_cell_voltage: float | None
    delta_cell_voltage: float | None
    min_cell_voltage: float | None
    max_cell_voltage: float | None
    min_voltage_cell: int | None
    max_voltage_cell: int | None
    balancing_units: int

    @property
    def cell_count(self) -> int:
        """The cells of the whole pack."""
        return len(self.cell_voltages)


def cascade(units: Sequence[CellInfo]) -> CascadedPack:
    """The pack of ``units`` in cascade order.

    ValueError when a unit measures no cell: the cells after it could not be
    numbered, and a pack figure without them would be false.
    """
    if not units:
        raise ValueError("a pack needs at least one balancer")
    if any(not unit.cell_voltages for unit in units):
        raise ValueError("a balancer of the pack measures no cell")
    cells = tuple(voltage for unit in units for voltage in unit.cell_voltages)
    totals = [unit.total_voltage for unit in units]
    total = None if None in totals else sum(t or 0.0 for t in totals)
    return CascadedPack(
        cells,
        tuple(len(unit.cell_voltages) for unit in units),
        None if total is None else round(total, _DECIMALS),
        *summarize(cells, _DECIMALS),
        balancing_units=sum(unit.balancing for unit in units),
    )
