"""Battery care over weeks of real use: clock corrections, loose leads, reloads.

The drift window stays bounded and true, stored contents that cannot be used
are dropped, and the out-of-balance state survives reloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
import logging
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.jk_balancer.const import CONF_IMBALANCE_HOLD
from custom_components.jk_balancer.coordinator import BalancerCoordinator
from custom_components.jk_balancer.protocol.balance import DRIFT_BUCKETS
from tests.integration.conftest import Proxy, config_entry, next_update, setup_entry

DRIFTING = "sensor.jk_b2a16s_drifting_cell"
OUT_OF_BALANCE = "binary_sensor.jk_b2a16s_cells_out_of_balance"


@pytest.fixture
def wall_clock() -> Iterator[list[timedelta]]:
    """Home Assistant's wall clock, set off by the list's one element."""
    offset = [timedelta()]
    real = dt_util.utcnow

    def utcnow() -> datetime:
        return real() + offset[0]

    with patch("custom_components.jk_balancer.battery_care.dt_util.utcnow", utcnow):
        yield offset


def coordinator_of(entry: Any) -> BalancerCoordinator:
    coordinator = entry.runtime_data
    assert isinstance(coordinator, BalancerCoordinator)
    return coordinator


async def test_a_clock_a_year_ahead_then_corrected_leaves_a_true_window(
    hass: HomeAssistant, proxy: Proxy, wall_clock: list[timedelta]
) -> None:
    device = proxy.add("jk-b2a16s", drifting_cell=4)
    entry = await setup_entry(hass, device)
    wall_clock[0] = timedelta(days=365)  # a wrong time server
    await next_update(hass)
    wall_clock[0] = timedelta()  # corrected
    for _ in range(2):
        await next_update(hass)
    state = hass.states.get(DRIFTING)
    assert state is not None
    assert state.attributes["hours"] >= 0
    # Nothing from the future is left to block the window's trimming.
    now = dt_util.utcnow().timestamp()
    assert all(
        start <= now for start, _, _ in coordinator_of(entry).care.tracker.buckets
    )


async def test_a_flickering_cell_count_keeps_the_window_and_the_store_bounded(
    hass: HomeAssistant, proxy: Proxy, hass_storage: dict[str, Any]
) -> None:
    """A loose lead: 16 cells, 15, 16, ... for 200 updates."""
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    coordinator = coordinator_of(entry)
    whole = coordinator.data
    cells = whole.cell_info
    loose = replace(
        whole,
        cell_info=cells._replace(
            cell_voltages=cells.cell_voltages[:15],
            cell_resistances=cells.cell_resistances[:15],
        ),
    )
    for update in range(200):
        coordinator.async_set_updated_data(loose if update % 2 else whole)
    assert len(coordinator.care.tracker.buckets) <= DRIFT_BUCKETS
    await hass.config_entries.async_unload(entry.entry_id)  # stores the window
    stored = hass_storage[f"jk_balancer.{entry.entry_id}.drift"]["data"]
    assert len(stored["buckets"]) <= DRIFT_BUCKETS


ODD_STORES = {
    "window of zero": {"version": 1, "data": {"window": 0, "buckets": [[0, [], 1]]}},
    "bucket without cells": {
        "version": 1,
        "data": {"window": 86400.0, "since": 1.0, "buckets": [[0.0, [], 1]]},
    },
    "not a number": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, ["x", None], "many"]]},
    },
    "version 0": {"version": 0, "data": {"window": 86400.0, "buckets": []}},
    "version 2 (a downgrade)": {"version": 2, "data": {"drift": "newer format"}},
    "a list": {"version": 1, "data": ["not", "a", "window"]},
    "sums beyond any cell voltage": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, [1e308, -1e308], 5]]},
    },
    "a cell 300 V below the others": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, [-900.0, 0.0, 0.0], 3]]},
    },
    "deviations that do not add up to nothing": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, [-0.9, 0.0, 0.0], 3]]},
    },
    "more samples than a bucket holds": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, [0.01, -0.01], 10**9]]},
    },
    "more cells than a balancer has": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [[0.0, [0.0] * 40, 1]]},
    },
    "chemistries ruled out that are none": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [], "chemistry_ruled_out": ["x"]},
    },
    "a state that is not one": {
        "version": 1,
        "data": {"window": 86400.0, "buckets": [], "out_of_balance": "yes"},
    },
}


@pytest.mark.parametrize("stored", ODD_STORES.values(), ids=ODD_STORES)
async def test_stored_care_that_cannot_be_used_is_dropped_with_one_warning(
    hass: HomeAssistant,
    proxy: Proxy,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    stored: dict[str, Any],
) -> None:
    device = proxy.add("jk-b2a16s")
    entry = config_entry(device)
    hass_storage[f"jk_balancer.{entry.entry_id}.drift"] = {
        "key": f"jk_balancer.{entry.entry_id}.drift",
        **stored,
    }
    entry.add_to_hass(hass)
    with caplog.at_level(logging.WARNING, "custom_components.jk_balancer"):
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    warnings = [
        record
        for record in caplog.records
        if record.name.startswith("custom_components.jk_balancer")
        and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    assert "drift window" in warnings[0].getMessage() or "battery care" in (
        warnings[0].getMessage()
    )
    await next_update(hass)
    assert hass.states.get(DRIFTING) is not None
    deviation = hass.states.get("sensor.jk_b2a16s_drifting_cell_deviation")
    assert deviation is not None
    assert abs(float(deviation.state)) < 100  # mV: what the cells show now


async def test_out_of_balance_survives_a_reload_and_an_options_save(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Every "turns on" automation would fire again if it reset to OK."""
    device = proxy.add("jk-b2a16s", spread=0.5)  # cells tens of mV apart
    entry = await setup_entry(hass, device, options={CONF_IMBALANCE_HOLD: 0})
    await next_update(hass)
    state = hass.states.get(OUT_OF_BALANCE)
    assert state is not None
    assert state.state == STATE_ON
    changes: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: changes.append(event.data["new_state"].state)
        if event.data["entity_id"] == OUT_OF_BALANCE and event.data["new_state"]
        else None,
    )
    # An hour's hold now: a state that was forgotten could not come back soon.
    hass.config_entries.async_update_entry(entry, options={CONF_IMBALANCE_HOLD: 3600})
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await next_update(hass)
    assert STATE_OFF not in changes
    state = hass.states.get(OUT_OF_BALANCE)
    assert state is not None
    assert state.state == STATE_ON


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_switching_off_shows_no_balancing_in_the_same_snapshot(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s", spread=0.5)
    # Its cell-info frames lag its settings: they go on telling of balancing
    # (1 A) when the switch's read-back arrives.
    balancing_frame = replace(device.measure(), balancing=True, balancing_current=-1.0)
    device.measure = lambda: balancing_frame  # type: ignore[method-assign]
    await setup_entry(hass, device)
    await next_update(hass)
    balancing = hass.states.get("binary_sensor.jk_b2a16s_balancing")
    assert balancing is not None
    assert balancing.state == STATE_ON
    await hass.services.async_call(
        "switch",
        "turn_off",
        {ATTR_ENTITY_ID: "switch.jk_b2a16s_balancer"},
        blocking=True,
    )
    switch = hass.states.get("switch.jk_b2a16s_balancer")
    balancing = hass.states.get("binary_sensor.jk_b2a16s_balancing")
    current = hass.states.get("sensor.jk_b2a16s_balancing_current")
    status = hass.states.get("sensor.jk_b2a16s_balancing_status")
    assert switch is not None
    assert switch.state == STATE_OFF
    assert balancing is not None
    assert balancing.state == STATE_OFF
    assert current is not None
    assert float(current.state) == 0
    assert status is not None
    assert status.state == "off"
