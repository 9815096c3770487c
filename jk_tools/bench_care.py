"""Benchmark ``care``: the stored drift window over a simulated day (see bench.py).

A 16-cell pack is sampled for 24 simulated hours at a 1 s and a 30 s update
interval, once healthy and once with a loose lead (every other sample 15
cells, which the integration does not count as drift but the window must
survive). Printed: the window's buckets, the size of what Home Assistant
stores for it, and the time to encode and write it as its Store does
(orjson, then an atomic file write).
"""

from __future__ import annotations

from pathlib import Path
import random
import statistics
import tempfile
import time
from typing import Final

from homeassistant.helpers.json import json_bytes
from homeassistant.util.file import write_utf8_file_atomic

from custom_components.jk_balancer.protocol import DriftTracker

DAY: Final = 24 * 3600
CELLS: Final = 16
SAVES: Final = 50


def simulated_day(interval: int, *, loose_lead: bool) -> DriftTracker:
    """A day of samples; cell 7 drifts down, the others jitter."""
    rng = random.Random(7)  # noqa: S311 - jitter, not secrets
    tracker = DriftTracker()
    start = 1_780_000_000.0
    for number, second in enumerate(range(0, DAY, interval)):
        cells = [3.30 + rng.uniform(-0.002, 0.002) for _ in range(CELLS)]
        cells[6] -= 0.02 * second / DAY
        if loose_lead and number % 2:
            cells = cells[:-1]
        tracker.add(cells, start + second)
    return tracker


def bench_care() -> None:
    """Print buckets, stored size and save time per interval and case."""
    print(
        f"== Stored drift window: a {CELLS}-cell pack over a simulated day, "
        f"encoded and written {SAVES} times"
    )
    print(f"{'interval':>9} {'case':<11} {'buckets':>8} {'stored':>9} {'save':>9}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "jk_balancer.drift"
        for interval in (1, 30):
            for loose_lead in (False, True):
                tracker = simulated_day(interval, loose_lead=loose_lead)
                data = {
                    "version": 1,
                    "minor_version": 2,
                    "key": "jk_balancer.drift",
                    "data": tracker.to_data() | {"out_of_balance": False},
                }
                timings = []
                for _ in range(SAVES):
                    began = time.perf_counter()
                    encoded = json_bytes(data)
                    write_utf8_file_atomic(str(path), encoded.decode())
                    timings.append(time.perf_counter() - began)
                case = "loose lead" if loose_lead else "healthy"
                print(
                    f"{interval:>7} s {case:<11} {len(tracker.buckets):>8} "
                    f"{len(encoded) / 1024:>6.1f} kB "
                    f"{statistics.median(timings) * 1000:>6.2f} ms"
                )
