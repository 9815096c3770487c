"""Where cells stand for their chemistry: nearly empty, nearly full, too far apart.

The cell card draws the working range, and the warnings (a cell nearly
empty, a spread beyond balancing) are raised from it, with a margin before
they clear so they do not come and go with every sample near a threshold.
While the chemistry is not known, nearly empty and too far apart are where
they are for every candidate the cells fit now, so no healthy pack of any of
them is warned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .chemistry import LOAD_SAG, Chemistry, PackChemistry, as_pack_chemistry
from .model import Snapshot

# A warning clears only once the pack is this far back on the safe side, so
# it does not come and go with every sample near its threshold.
LOW_CELL_RECOVERY: Final = 0.05  # V
SPREAD_RECOVERY: Final = 0.8  # of the severe spread


@dataclass(frozen=True, slots=True)
class LowCell:
    """The lowest cell is nearly empty: ``limit`` is the voltage it approaches."""

    cell: int  # numbered from 1
    voltage: float
    threshold: float  # warned below this
    limit: float  # the power-off voltage, or the chemistry's empty voltage
    chemistry: Chemistry  # whose low voltage the threshold is


# A cell this close below its chemistry's full voltage is about to end the
# charge (the presets' over-charge protection).
NEAR_FULL: Final = 0.05  # V


@dataclass(frozen=True, slots=True)
class CellRange:
    """Where a pack's cells work, in V: what the cell card draws and marks.

    ``power_off``: the device's power-off voltage (or the chemistry's empty
    one); below ``low`` a cell is nearly empty (warned), above ``high`` it is
    nearly full; ``full`` is the chemistry's full voltage.
    """

    power_off: float
    low: float
    high: float
    full: float


def cell_range(
    snapshot: Snapshot, chemistry: Chemistry | PackChemistry | None = None
) -> CellRange:
    """The working range of the cells: a chemistry and the power-off setting.

    Nearly empty below the chemistry's low voltage, or a load's sag above the
    power-off voltage if that is higher: there the balancer is about to
    switch itself off. While the chemistry is not known, nearly empty is
    where it is for every candidate the cells fit now, and full is the
    likeliest one's.
    """
    known = as_pack_chemistry(chemistry, snapshot.cell_info).plausible
    _, empty = known.lowest(lambda v: v.empty)
    _, low = known.lowest(lambda v: v.low)
    full = known.likely.full_voltage
    limit = snapshot.settings.power_off_voltage or empty
    return CellRange(
        power_off=limit,
        low=round(max(low, limit + LOAD_SAG), 3),
        high=round(full - NEAR_FULL, 3),
        full=full,
    )


def low_cell(
    snapshot: Snapshot,
    chemistry: Chemistry | PackChemistry | None = None,
    *,
    warned: bool,
) -> LowCell | None:
    """The low cell to warn about, or None (``warned``: a warning stands)."""
    cells = snapshot.cell_info
    if cells.min_cell_voltage is None or cells.min_voltage_cell is None:
        return None
    known = as_pack_chemistry(chemistry, cells).plausible
    working = cell_range(snapshot, known)
    threshold = working.low
    if cells.min_cell_voltage >= threshold + (LOW_CELL_RECOVERY if warned else 0):
        return None
    return LowCell(
        cells.min_voltage_cell,
        cells.min_cell_voltage,
        threshold,
        working.power_off,
        known.lowest(lambda v: v.low)[0],
    )


@dataclass(frozen=True, slots=True)
class SevereSpread:
    """Cells so far apart that balancing will not set it right."""

    lowest_cell: int
    lowest: float
    highest_cell: int
    highest: float
    limit: float  # V, the chemistry's severe spread
    chemistry: Chemistry  # whose severe spread the limit is


def severe_spread(
    snapshot: Snapshot,
    chemistry: Chemistry | PackChemistry | None = None,
    *,
    warned: bool,
) -> SevereSpread | None:
    """The severe spread to warn about, or None (``warned``: a warning stands)."""
    cells = snapshot.cell_info
    if (
        cells.delta_cell_voltage is None
        or cells.min_voltage_cell is None
        or cells.max_voltage_cell is None
        or cells.min_cell_voltage is None
        or cells.max_cell_voltage is None
    ):
        return None
    of, limit = as_pack_chemistry(chemistry, cells).plausible.lowest(
        lambda v: v.severe_spread
    )
    if cells.delta_cell_voltage <= limit * (SPREAD_RECOVERY if warned else 1):
        return None
    return SevereSpread(
        cells.min_voltage_cell,
        cells.min_cell_voltage,
        cells.max_voltage_cell,
        cells.max_cell_voltage,
        limit,
        of,
    )
