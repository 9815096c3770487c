"""Energy into and out of a pack, integrated from every measurement of its power.

A JK BMS reports pack voltage and current in each cell-info frame (every 0.5 s
while a link stays open). Between two measurements the power is taken to change
linearly; where it changes sign, the part before the crossing counts as one
direction and the part after as the other. Nothing is counted across a gap: when
the link was down, lent or Home Assistant stopped, no one knows what flowed, so
the next measurement starts afresh instead of bridging it.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Final

WATT_SECONDS_PER_KWH: Final = 3_600_000.0
# The most a JK BMS's pack can move: 32 cells at 4.2 V and 600 A, the
# strongest models' rating. A day of it is the most energy a day can carry,
# and thirty years of such days the most a total can have counted.
MAX_PACK_POWER: Final = 32 * 4.2 * 600  # W
MAX_ENERGY_PER_DAY: Final = MAX_PACK_POWER * 24 / 1000  # kWh
MAX_TOTAL_ENERGY: Final = MAX_ENERGY_PER_DAY * 365 * 30  # kWh


@dataclass(slots=True)
class EnergyMeter:
    """Energy charged and discharged, in kWh, since the totals started.

    ``max_gap`` (s) is the longest time between two measurements that is still
    bridged; the caller also calls :meth:`interrupt` when it knows of a gap.
    """

    max_gap: float
    charged: float = 0.0
    discharged: float = 0.0
    # The previous measurement: when (s, any monotonic clock) and power (W).
    _last: tuple[float, float] | None = None

    def add(self, at: float, power: float) -> None:
        """Count the energy since the previous measurement (positive = charging)."""
        if not math.isfinite(power) or abs(power) > MAX_PACK_POWER:
            self._last = None
            return
        last, self._last = self._last, (at, power)
        if last is None:
            return
        started, before = last
        seconds = at - started
        if not 0 < seconds <= self.max_gap:
            return
        into, out_of = _split(before, power, seconds)
        self.charged += into / WATT_SECONDS_PER_KWH
        self.discharged += out_of / WATT_SECONDS_PER_KWH

    def interrupt(self) -> None:
        """What flows from now until the next measurement is not known."""
        self._last = None


def _split(before: float, after: float, seconds: float) -> tuple[float, float]:
    """Energy into and out of the pack (W s) with power linear from ``before``."""
    if before >= 0 and after >= 0:
        return (before + after) / 2 * seconds, 0.0
    if before <= 0 and after <= 0:
        return 0.0, -(before + after) / 2 * seconds
    # The power crosses zero at this fraction of the interval.
    crossing = before / (before - after)
    first = before * crossing * seconds / 2
    second = after * (1 - crossing) * seconds / 2
    if before > 0:
        return first, -second
    return second, -first
