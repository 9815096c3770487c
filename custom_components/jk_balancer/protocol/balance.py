"""Looking after a pack: why it is (not) balancing, imbalance, the drifting cell.

Everything here is derived from snapshots and the settings; nothing is sent.
The CLI shows it as Home Assistant does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import Any, Final, TypeGuard

from .model import Snapshot
from .plausibility import CELL_VOLTAGE_RANGE
from .settings import CELL_COUNT


class BalancingStatus(StrEnum):
    """What the balancer does now, or the first reason it does not balance."""

    BALANCING = "balancing"
    OFF = "off"
    WITHIN_TRIGGER = "within_trigger"
    BELOW_START_VOLTAGE = "below_start_voltage"
    WIRE_RESISTANCE_TOO_HIGH = "wire_resistance_too_high"
    CELL_COUNT_MISMATCH = "cell_count_mismatch"
    NO_CELLS = "no_cells"


# The device decides on its own sample, a few mV of noise away from the
# cells shown: a delta this close above the trigger is still within it.
TRIGGER_MARGIN: Final = 0.002  # V


def balancing_status(snapshot: Snapshot) -> BalancingStatus | None:
    """The balancing status, in the order the manuals' conditions apply.

    None when the balancer could balance but the device does not (yet): it
    decides on a sample of its own, which may lag the cells shown.
    """
    cells, settings = snapshot.cell_info, snapshot.settings
    if cells.max_cell_voltage is None or cells.delta_cell_voltage is None:
        return BalancingStatus.NO_CELLS
    reasons = (
        (not settings.balancer_enabled, BalancingStatus.OFF),
        (cells.balancing, BalancingStatus.BALANCING),
        (snapshot.cell_count_mismatch, BalancingStatus.CELL_COUNT_MISMATCH),
        (cells.wire_resistance_too_high, BalancingStatus.WIRE_RESISTANCE_TOO_HIGH),
        (
            settings.balance_start_voltage is not None
            and cells.max_cell_voltage < settings.balance_start_voltage,
            BalancingStatus.BELOW_START_VOLTAGE,
        ),
        (
            cells.delta_cell_voltage
            <= settings.balance_trigger_voltage + TRIGGER_MARGIN,
            BalancingStatus.WITHIN_TRIGGER,
        ),
    )
    return next((status for applies, status in reasons if applies), None)


# The vendors' advice: trigger 5 mV for 50 Ah and more, 10 mV below; a pack
# counts as out of balance well beyond what the balancer holds it to.
IMBALANCE_TRIGGERS: Final = 3
IMBALANCE_FLOOR: Final = 0.020  # V
DEFAULT_IMBALANCE_HOLD: Final = 60.0  # s


def default_imbalance_threshold(trigger: float) -> float:
    """Delta (V) above which cells are out of balance, from the trigger."""
    return round(max(IMBALANCE_TRIGGERS * trigger, IMBALANCE_FLOOR), 3)


@dataclass(slots=True)
class ImbalanceWatch:
    """Cells out of balance: the delta above a threshold for a hold time.

    The state changes only after the delta has stayed on the other side for
    the hold time, so one noisy sample changes nothing.
    """

    threshold: float  # V
    hold: float = DEFAULT_IMBALANCE_HOLD  # s
    out_of_balance: bool = False
    _since: float | None = None

    def update(self, delta: float | None, now: float) -> bool:
        """Take the delta measured at ``now`` (s); return the state."""
        if delta is None:  # nothing measured: nothing changes
            return self.out_of_balance
        if (delta > self.threshold) == self.out_of_balance:
            self._since = None
        elif self._since is None:
            self._since = now
        if self._since is not None and now - self._since >= self.hold:
            self.out_of_balance = not self.out_of_balance
            self._since = None
        return self.out_of_balance


DRIFT_WINDOW: Final = 24 * 3600.0  # s
DRIFT_BUCKETS: Final = 48
# What a stored window can hold: a cell is at most the range of the cell
# voltages away from the average, updates come at most this often, and a
# sample's deviations add up to zero but for rounding.
MAX_DEVIATION: Final = CELL_VOLTAGE_RANGE[1] - CELL_VOLTAGE_RANGE[0]  # V
MAX_SAMPLES_PER_SECOND: Final = 10
MAX_CELLS: Final = int(CELL_COUNT.reported[1])
SUM_TOLERANCE: Final = 1e-6  # V per cell and sample

type Bucket = tuple[float, list[float], int]


@dataclass(frozen=True, slots=True)
class Drift:
    """The cell that stayed furthest from the pack's average, and how far."""

    cell: int  # numbered from 1
    deviation: float  # V, negative: below the average (a weak cell)
    hours: float  # how much of the window the figure covers

    def drifts(self, trigger: float) -> bool:
        """The cell stayed further from the average than the balancer holds cells.

        Within the trigger delta some cell is always furthest: that is no drift.
        """
        return abs(self.deviation) > trigger


@dataclass(slots=True)
class DriftTracker:
    """Each cell's average deviation from the pack average over a window.

    The window is cut in buckets of equal time holding sums, so it rolls
    without keeping samples, and it can be stored and restored as plain data.
    It never holds more than :data:`DRIFT_BUCKETS` buckets, whatever the clock
    does (a bucket from a clock that was ahead is dropped once the clock is
    corrected) and whatever the cell count does (a bucket keeps the count its
    first sample had; samples of another count wait for the next bucket).
    """

    window: float = DRIFT_WINDOW
    buckets: list[Bucket] = field(default_factory=list)
    # When the oldest sample still in the window was taken.
    since: float | None = None

    @property
    def bucket_length(self) -> float:
        """Seconds one bucket covers."""
        return self.window / DRIFT_BUCKETS

    def add(self, cells: Sequence[float], now: float) -> None:
        """Take one sample of the cell voltages, measured at ``now`` (s)."""
        if not cells:
            return
        self._forget(now)
        average = sum(cells) / len(cells)
        deviations = [voltage - average for voltage in cells]
        start = now - now % self.bucket_length
        if self.buckets and self.buckets[-1][0] == start:
            _, sums, count = self.buckets[-1]
            if len(sums) == len(deviations):
                self.buckets[-1] = (
                    start,
                    [a + b for a, b in zip(sums, deviations, strict=True)],
                    count + 1,
                )
            return
        self.buckets.append((start, deviations, 1))
        if self.since is None:
            self.since = now

    def drift(self, now: float) -> Drift | None:
        """The furthest cell over the window, or None without data."""
        self._forget(now)
        if not self.buckets:
            return None
        cell_count = len(self.buckets[-1][1])
        usable = [b for b in self.buckets if len(b[1]) == cell_count]
        samples = sum(count for _, _, count in usable)
        means = [
            sum(sums[cell] for _, sums, _ in usable) / samples
            for cell in range(cell_count)
        ]
        furthest = max(range(cell_count), key=lambda cell: abs(means[cell]))
        first = max(self.since or now, usable[0][0])
        hours = round(max(now - first, 0.0) / 3600, 2)
        return Drift(furthest + 1, means[furthest], hours)

    def _forget(self, now: float) -> None:
        """Drop buckets older than the window, and any from a clock ahead of now."""
        oldest = now - self.window
        self.buckets = [b for b in self.buckets if oldest < b[0] <= now][
            -DRIFT_BUCKETS:
        ]
        if not self.buckets:
            self.since = None
        elif self.since is not None:
            self.since = min(max(self.since, self.buckets[0][0]), now)

    def to_data(self) -> dict[str, Any]:
        """What to store across restarts."""
        return {
            "window": self.window,
            "since": self.since,
            "buckets": [list(b) for b in self.buckets],
        }

    @classmethod
    def restore(
        cls, data: Mapping[str, Any], window: float = DRIFT_WINDOW
    ) -> tuple[DriftTracker, str | None]:
        """Restore what :meth:`to_data` stored, keeping only what can be used.

        Returns the tracker and, when something was dropped, why (for one
        warning). A window of another length cannot be reused at all.
        """
        tracker = cls(window)
        stored_window = data.get("window")
        if stored_window != window:
            return tracker, f"a window of {stored_window!r} s, not {window:g} s"
        raw = data.get("buckets")
        if not isinstance(raw, list):
            return tracker, "no list of buckets"
        buckets = [b for b in map(tracker._bucket, raw) if b is not None]
        buckets.sort(key=lambda bucket: bucket[0])
        # Two buckets for one time are one too many: keep the first.
        kept = [b for i, b in enumerate(buckets) if i == 0 or b[0] != buckets[i - 1][0]]
        tracker.buckets = kept[-DRIFT_BUCKETS:]
        since = data.get("since")
        if tracker.buckets and _finite(since):
            tracker.since = min(
                max(float(since), tracker.buckets[0][0]),
                tracker.buckets[-1][0] + tracker.bucket_length,
            )
        elif tracker.buckets:
            tracker.since = tracker.buckets[0][0]
        dropped = len(raw) - len(tracker.buckets)
        return tracker, f"{dropped} of {len(raw)} buckets unusable" if dropped else None

    def _bucket(self, raw: Any) -> Bucket | None:
        """A stored bucket, or None when it cannot be used.

        Bounded by what a balancer can measure: no more cells than it has, no
        deviation beyond its cell voltage range, deviations from the average
        that add up to nothing, and no more samples than updates fit in it.
        """
        if not isinstance(raw, list | tuple) or len(raw) != 3:
            return None
        start, sums, count = raw
        if (
            not _finite(start)
            or float(start) % self.bucket_length
            or not isinstance(count, int)
            or isinstance(count, bool)
            or not 1 <= count <= self.bucket_length * MAX_SAMPLES_PER_SECOND
            or not isinstance(sums, list)
            or not 0 < len(sums) <= MAX_CELLS
            or not all(_finite(value) for value in sums)
        ):
            return None
        if any(abs(value) > count * MAX_DEVIATION for value in sums):
            return None
        if abs(math.fsum(sums)) > count * len(sums) * SUM_TOLERANCE:
            return None
        return float(start), [float(value) for value in sums], count


def _finite(value: object) -> TypeGuard[int | float]:
    """A stored number (not a bool, NaN or infinity)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
