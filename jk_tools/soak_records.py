"""What the soak records: faults, what each balancer showed, logs, memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import gc
import logging
from pathlib import Path
import tracemalloc

from jk_emulator import BluetoothBalancer

from . import simulation
from .simulation import Simulation


@dataclass
class Fault:
    """One injected fault and what was seen of it."""

    name: str
    device: BluetoothBalancer | None  # None: every device
    start: float
    cleared: float = 0.0
    unavailable: float = 0.0
    fresh_after: float | None = None
    failed_updates: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class DeviceWatch:
    """Availability and updates of one device's entities."""

    entity_ids: set[str]
    unavailable_since: float | None = None
    unavailable_total: float = 0.0
    updates: list[tuple[float, bool]] = field(default_factory=list)


class LogRecorder(logging.Handler):
    """Keeps every warning and error, with the simulated time it came at."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Record from now on."""
        super().__init__(logging.WARNING)
        self.clock = clock
        self.records: list[tuple[float, logging.LogRecord]] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append((self.clock(), record))


def rss_mib() -> float:
    """Resident memory of this process."""
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return float("nan")
    pages = int(statm.read_text().split()[1])
    return pages * 4096 / 2**20


def heap_snapshot() -> tracemalloc.Snapshot:
    """What the Python heap holds, less the soak's own records and snapshots."""
    return tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(False, __file__),
            tracemalloc.Filter(False, simulation.__file__),
            tracemalloc.Filter(False, tracemalloc.__file__),
        ]
    )


@dataclass
class Census:
    """What could leak: links, tasks, timers, Python objects, memory."""

    links: int
    tasks: int
    timers: int
    objects: int
    heap: tracemalloc.Snapshot = field(repr=False)
    traced: float
    rss: float

    @classmethod
    def take(cls, sim: Simulation) -> Census:
        """Count now (after a garbage collection)."""
        gc.collect()
        return cls(
            links=sim.connections,
            tasks=len(asyncio.all_tasks(sim.loop)),
            # The loop's timer heap: asyncio offers no public count.
            timers=sum(
                not handle.cancelled()
                for handle in sim.loop._scheduled  # type: ignore[attr-defined]
            ),
            objects=len(gc.get_objects()),
            heap=(heap := heap_snapshot()),
            traced=sum(trace.size for trace in heap.traces) / 2**20,
            rss=rss_mib(),
        )
