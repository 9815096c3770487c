"""Cell chemistries and their voltages, as the JK app's battery-type presets know them.

One place for what a chemistry means: the voltage a full cell reaches (the
presets' over-charge limit), where an empty one sits, when a cell is low
enough to warn about, the highest power-off voltage that still lets the pack
be used, a cell spread that is no longer a matter of balancing, and the
highest a healthy pack's middle cell reaches. The integration, the virtual
balancer and the checks before a write all read these.

Which chemistry a pack is, when the owner has not said, is told by the cells
over time (:class:`ChemistryWatch`): each frame can only rule chemistries out,
never back in, so the answer never flips with the state of charge. Until one
chemistry is left, a write is checked against the candidate that errs on the
safe side (the lowest power-off ceiling), so none is harmed, and a warning
goes by the candidates the cells fit now (the lowest low-cell voltage among
them), so no healthy pack of any of them is warned about.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import median
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
    or a fault, far beyond what balancing corrects. ``highest_middle``: the
    highest the middle cell of a healthy pack reaches, charging included (a
    runner cell may go higher; the middle one does not).
    """

    full: float
    empty: float
    low: float
    power_off_ceiling: float
    severe_spread: float
    highest_middle: float


# A cell under load sits this far below its resting voltage (packs sag): a
# power-off voltage closer than this to the lowest cell is reached at once.
LOAD_SAG: Final = 0.1  # V

CHEMISTRY_VOLTAGES: Final = MappingProxyType(
    {
        Chemistry.NCM: ChemistryVoltages(
            full=4.2,
            empty=3.0,
            low=3.3,
            power_off_ceiling=3.5,
            severe_spread=0.3,
            highest_middle=4.35,
        ),
        # LiFePO4 rests at 3.2-3.35 V over most of its charge: above 3.0 V a
        # power-off voltage would be reached as soon as a load pulls the pack.
        # Chargers set to 3.65 V a cell and more push it up to about 3.7 V.
        Chemistry.LFP: ChemistryVoltages(
            full=3.6,
            empty=2.5,
            low=2.8,
            power_off_ceiling=3.0,
            severe_spread=0.2,
            highest_middle=3.75,
        ),
        Chemistry.LTO: ChemistryVoltages(
            full=2.7,
            empty=1.8,
            low=2.0,
            power_off_ceiling=2.2,
            severe_spread=0.2,
            highest_middle=2.85,
        ),
    }
)
# From the lowest voltages to the highest: every voltage above rises in this
# order, so the first candidate is the one that errs on the safe side.
_ASCENDING: Final = (Chemistry.LTO, Chemistry.LFP, Chemistry.NCM)
# The chemistry most packs on solar are, where the cells fit several.
_COMMON: Final = (Chemistry.LFP, Chemistry.NCM, Chemistry.LTO)


def middle_cell_voltage(cell_voltages: Sequence[float]) -> float | None:
    """The median of the measured cells: what a runner or a lagging cell
    does not move. None without a measured cell."""
    measured = [voltage for voltage in cell_voltages if voltage > 0]
    return median(measured) if measured else None


@dataclass(frozen=True, slots=True)
class PackChemistry:
    """What a pack's chemistry is known to be: one, or the candidates left.

    ``chosen``: the owner set it. With several candidates, each check takes
    the one that errs on the safe side (:meth:`lowest`); what is only shown
    or offered goes by the likeliest one (:attr:`likely`).
    """

    candidates: frozenset[Chemistry]
    chosen: bool = False
    # The middle cell's voltage now, for the likeliest candidate.
    middle: float | None = None

    def __post_init__(self) -> None:
        """A pack is some chemistry: no candidate left is a bug."""
        if not self.candidates:
            raise ValueError("a pack chemistry needs a candidate")

    @classmethod
    def of(cls, chemistry: Chemistry) -> PackChemistry:
        """The chemistry the owner chose."""
        return cls(frozenset({chemistry}), chosen=True)

    @classmethod
    def from_cells(cls, cell_info: CellInfo) -> PackChemistry:
        """What one frame tells: those whose middle cell never gets this high."""
        middle = middle_cell_voltage(cell_info.cell_voltages)
        return cls(
            frozenset(c for c in Chemistry if middle is None or _fits(c, middle))
            or frozenset({Chemistry.NCM}),
            middle=middle,
        )

    @property
    def known(self) -> Chemistry | None:
        """The chemistry, once only one is left."""
        return next(iter(self.candidates)) if len(self.candidates) == 1 else None

    @property
    def likely(self) -> Chemistry:
        """The likeliest candidate: the lowest whose range holds the cells now,
        the common one when nothing is measured."""
        if self.middle is None:
            return next(c for c in _COMMON if c in self.candidates)
        return next(
            (c for c in _ASCENDING if c in self.candidates and _fits(c, self.middle)),
            self.ordered[-1],
        )

    @property
    def ordered(self) -> list[Chemistry]:
        """The candidates, from the lowest voltages to the highest."""
        return [c for c in _ASCENDING if c in self.candidates]

    @property
    def name(self) -> str:
        """As messages name it: ``LFP``, or ``LFP/NCM`` while not known."""
        return "/".join(c.name for c in self.ordered)

    @property
    def plausible(self) -> PackChemistry:
        """The candidates the cells fit now, or all of them if they fit none.

        Warnings go by these: cells beyond a chemistry's healthy range now
        are no healthy pack of it (an LFP pack near empty is no full LTO one).
        Writes keep every candidate: they must harm none.
        """
        middle = self.middle
        if middle is None:
            return self
        fitting = frozenset(c for c in self.candidates if _fits(c, middle))
        if not fitting or fitting == self.candidates:
            return self
        return PackChemistry(fitting, chosen=self.chosen, middle=middle)

    def lowest(
        self, voltage: Callable[[ChemistryVoltages], float]
    ) -> tuple[Chemistry, float]:
        """The candidate with the lowest of ``voltage``, and that voltage.

        The safe side for a ceiling (a power-off voltage no candidate is cut
        off by) and for a warning (cells low for every candidate).
        """
        chemistry = self.ordered[0]
        return chemistry, voltage(chemistry.voltages)


def as_pack_chemistry(
    chemistry: Chemistry | PackChemistry | None, cell_info: CellInfo
) -> PackChemistry:
    """What the caller knows of the chemistry, or else what these cells tell."""
    if isinstance(chemistry, PackChemistry):
        return chemistry
    if chemistry is not None:
        return PackChemistry.of(chemistry)
    return PackChemistry.from_cells(cell_info)


def _fits(chemistry: Chemistry, middle: float) -> bool:
    return middle <= chemistry.voltages.highest_middle


# A middle cell this far above a chemistry's highest rules it out at once;
# closer, only after it stayed above for the hold time (a charger set high
# for a while). A contradiction is told after the hold, and clears once the
# middle cell is back this far below the highest.
CLEAR_MARGIN: Final = 0.15  # V
CHEMISTRY_HOLD: Final = 1800.0  # s
CONTRADICTION_RECOVERY: Final = 0.1  # V


@dataclass(slots=True)
class ChemistryWatch:
    """Rules chemistries out as a pack's cells show what they are not.

    Fed with the cells of every frame and a monotonic time. A chemistry is
    ruled out for good once the middle cell went clearly above its highest,
    or stayed above it for :data:`CHEMISTRY_HOLD`. The last candidate is never
    ruled out: cells beyond it contradict it (:meth:`contradicted`), as they
    contradict a chemistry the owner chose.
    """

    ruled_out: set[Chemistry] = field(default_factory=set)
    hold: float = CHEMISTRY_HOLD
    # Since when the middle cell has been above each chemistry's highest.
    _above_since: dict[Chemistry, float] = field(default_factory=dict)
    _middle: float | None = None
    _now: float = 0.0

    @classmethod
    def restore(cls, stored: object) -> tuple[ChemistryWatch, str | None]:
        """The chemistries ruled out before, as stored; why not, if dropped."""
        if stored is None:
            return cls(), None
        if not isinstance(stored, list) or not all(
            isinstance(item, str) and item in Chemistry._value2member_map_
            for item in stored
        ):
            return cls(), f"ruled-out chemistries {stored!r}"
        ruled_out = {Chemistry(item) for item in stored}
        if len(ruled_out) >= len(Chemistry):
            return cls(), "every chemistry ruled out"
        return cls(ruled_out), None

    def to_data(self) -> list[str]:
        """What to store across restarts."""
        return sorted(c.value for c in self.ruled_out)

    @property
    def candidates(self) -> frozenset[Chemistry]:
        """The chemistries not ruled out."""
        return frozenset(Chemistry) - self.ruled_out

    @property
    def middle(self) -> float | None:
        """The middle cell's voltage in the newest frame."""
        return self._middle

    def pack_chemistry(self, chosen: Chemistry | None = None) -> PackChemistry:
        """The owner's choice, or what is left of the candidates."""
        if chosen is not None:
            return PackChemistry.of(chosen)
        return PackChemistry(self.candidates, middle=self._middle)

    def update(self, cell_voltages: Sequence[float], now: float) -> None:
        """Take the cells of one frame, measured at ``now`` (monotonic s)."""
        middle = middle_cell_voltage(cell_voltages)
        if middle is None:
            return
        self._middle, self._now = middle, now
        for chemistry in Chemistry:
            if middle <= chemistry.voltages.highest_middle:
                self._above_since.pop(chemistry, None)
            else:
                self._above_since.setdefault(chemistry, now)
        for chemistry in self.candidates:
            if self._beyond(chemistry) and len(self.candidates) > 1:
                self.ruled_out.add(chemistry)

    def contradicted(
        self, chosen: Chemistry | None = None, *, warned: bool = False
    ) -> Chemistry | None:
        """The chemistry the cells contradict: the owner's, or the last candidate.

        Told once the middle cell stayed above its highest for the hold time;
        ``warned`` (it was told): until the cell is back well below. None while
        they fit it, or while several candidates are left.
        """
        target = chosen or self.pack_chemistry().known
        if target is None or self._middle is None:
            return None
        highest = target.voltages.highest_middle
        if warned:
            beyond = self._middle > highest - CONTRADICTION_RECOVERY
        else:
            since = self._above_since.get(target)
            beyond = since is not None and self._now - since >= self.hold
        return target if beyond else None

    def fitting(self) -> list[Chemistry]:
        """The chemistries the cells fit now, lowest voltages first."""
        middle = self._middle
        return [c for c in _ASCENDING if middle is None or _fits(c, middle)]

    def _beyond(self, chemistry: Chemistry) -> bool:
        """The middle cell went clearly above ``chemistry``'s highest, or stayed."""
        since = self._above_since.get(chemistry)
        if since is None or self._middle is None:
            return False
        clearly = self._middle > chemistry.voltages.highest_middle + CLEAR_MARGIN
        return clearly or self._now - since >= self.hold
