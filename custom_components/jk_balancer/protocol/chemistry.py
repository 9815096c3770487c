"""Cell chemistries and their voltages, as the JK app's battery-type presets know them.

One place for what a chemistry means: the voltage a full cell reaches (the
presets' over-charge limit) and where an empty one sits. The integration, the
virtual balancer and the checks before a write all read these.
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
    nothing left to give.
    """

    full: float
    empty: float


CHEMISTRY_VOLTAGES: Final = MappingProxyType(
    {
        Chemistry.NCM: ChemistryVoltages(full=4.2, empty=3.0),
        Chemistry.LFP: ChemistryVoltages(full=3.6, empty=2.5),
        Chemistry.LTO: ChemistryVoltages(full=2.7, empty=1.8),
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
