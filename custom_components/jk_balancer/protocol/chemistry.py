"""Cell chemistries and their voltages, as the JK app's battery-type presets know them.

One place for what a chemistry means: the voltage a full cell reaches (the
presets' over-charge limit), where an empty one sits, when a cell is low
enough to warn about, the highest power-off voltage that still lets the pack
be used, and a cell spread that is no longer a matter of balancing. The
integration, the virtual balancer and the checks before a write all read these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .model import CellInfo


class Chemistry(StrEnum):
    """Cell chemistry, as the JK app's battery-type presets name it."""

    LFP = "lfp"
    NCM = "ncm"
    LTO = "lto"

    @property
    def voltages(self) -> ChemistryVoltages:
        """The voltages that matter for this chemistry."""
        return CHEMISTRY_VOLTAGES[self]

    @property
    def full_voltage(self) -> float:
        """Cell over-charge voltage of the JK presets: no cell goes above it."""
        return self.voltages.full


@dataclass(frozen=True, slots=True)
class ChemistryVoltages:
    """A chemistry's cell voltages, in V.

    ``full``: the presets' over-charge limit. ``empty``: a cell at rest with
    nothing left to give, the presets' power-off voltage. ``low``: below
    this a cell is nearly empty (the steep end of its curve): owners are
    warned. ``power_off_ceiling``: a power-off voltage above it cuts the pack
    off while it still holds much of its charge, at the first discharge under
    load. ``severe_spread``: cells this far apart (V) point at a failing cell
    or a fault, far beyond what balancing corrects.
    """

    full: float
    empty: float
    low: float
    power_off_ceiling: float
    severe_spread: float


# A cell under load sits this far below its resting voltage (packs sag): a
# power-off voltage closer than this to the lowest cell is reached at once.
LOAD_SAG: Final = 0.1  # V

CHEMISTRY_VOLTAGES: Final = MappingProxyType(
    {
        Chemistry.NCM: ChemistryVoltages(
            full=4.2, empty=3.0, low=3.3, power_off_ceiling=3.5, severe_spread=0.3
        ),
        # LiFePO4 rests at 3.2-3.35 V over most of its charge: above 3.0 V a
        # power-off voltage would be reached as soon as a load pulls the pack.
        Chemistry.LFP: ChemistryVoltages(
            full=3.6, empty=2.5, low=2.8, power_off_ceiling=3.0, severe_spread=0.2
        ),
        Chemistry.LTO: ChemistryVoltages(
            full=2.7, empty=1.8, low=2.0, power_off_ceiling=2.2, severe_spread=0.2
        ),
    }
)


def infer_chemistry(cell_info: CellInfo) -> Chemistry:
    """The chemistry the cells' voltages suggest (the user can correct it).

    Above an LFP cell's full voltage only NCM cells go; LTO cells stay below
    where an LFP cell is empty. In between, LFP (the common case on solar).
    """
    highest = cell_info.max_cell_voltage
    if highest is not None and highest > Chemistry.LFP.full_voltage + 0.05:
        return Chemistry.NCM
    if highest is not None and highest < Chemistry.LFP.voltages.empty:
        return Chemistry.LTO
    return Chemistry.LFP
