"""A simulated day of a virtual JK BMS through Home Assistant: its energy within 1 %."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from jk_tools.bench_energy import simulate_day


@pytest.mark.usefixtures("socket_enabled")
def test_a_day_with_gaps_is_counted_within_1_percent_of_what_flowed() -> None:
    """The BMS out of reach for 20 min, lent for 15 min, Home Assistant stopped 2 h."""
    # In a thread of its own: the simulation brings and removes its own loop.
    with ThreadPoolExecutor(max_workers=1) as worker:
        day = worker.submit(simulate_day).result()
    assert day.charged == pytest.approx(day.true_charged, rel=0.01)
    assert day.discharged == pytest.approx(day.true_discharged, rel=0.01)
    # Counting across the gaps would have been further off than that.
    assert day.gap_charged > 0.01 * day.true_charged
    assert day.gap_discharged > 0.01 * day.true_discharged
