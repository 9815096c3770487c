"""Looking after a pack: why it is (not) balancing, imbalance, the drifting cell.

Everything here is derived from snapshots and the settings; nothing is sent.
The CLI shows it as Home Assistant does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from .model import Snapshot


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


@dataclass(frozen=True, slots=True)
class Drift:
    """The cell that stayed furthest from the pack's average, and how far."""

    cell: int  # numbered from 1
    deviation: float  # V, negative: below the average (a weak cell)
    hours: float  # how much of the window the figure covers


@dataclass(slots=True)
class DriftTracker:
    """Each cell's average deviation from the pack average over a window.

    The window is cut in buckets of equal time holding sums, so it rolls
    without keeping samples, and it can be stored and restored as plain data.
    """

    window: float = DRIFT_WINDOW
    buckets: list[tuple[float, list[float], int]] = field(default_factory=list)
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
        self._forget(now)

    def drift(self, now: float) -> Drift | None:
        """The furthest cell over the window, or None without data."""
        self._forget(now)
        cell_count = len(self.buckets[-1][1]) if self.buckets else 0
        usable = [b for b in self.buckets if len(b[1]) == cell_count]
        samples = sum(count for _, _, count in usable)
        if not samples:
            return None
        means = [
            sum(sums[cell] for _, sums, _ in usable) / samples
            for cell in range(cell_count)
        ]
        furthest = max(range(cell_count), key=lambda cell: abs(means[cell]))
        first = max(self.since or now, usable[0][0])
        return Drift(furthest + 1, means[furthest], round((now - first) / 3600, 2))

    def _forget(self, now: float) -> None:
        while self.buckets and self.buckets[0][0] <= now - self.window:
            self.buckets.pop(0)
        if not self.buckets:
            self.since = None

    def to_data(self) -> dict[str, Any]:
        """What to store across restarts."""
        return {
            "window": self.window,
            "since": self.since,
            "buckets": [list(b) for b in self.buckets],
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DriftTracker:
        """Restore what :meth:`to_data` stored (empty if it is unreadable)."""
        try:
            buckets = [
                (float(start), [float(value) for value in sums], int(count))
                for start, sums, count in data["buckets"]
            ]
            since = data.get("since")
            return cls(
                float(data["window"]), buckets, None if since is None else float(since)
            )
        except (KeyError, TypeError, ValueError):
            return cls()
