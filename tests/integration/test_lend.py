"""Lending the Bluetooth link to the JK app: nothing connects until it comes back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import math
import time
from typing import Any
from unittest.mock import MagicMock, patch

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.switch import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import DOMAIN
from custom_components.jk_balancer.protocol import STALE_AFTER
from jk_emulator import BluetoothBalancer, VirtualBus
from tests.integration.conftest import (
    Proxy,
    next_update,
    restart_with_stored,
    setup_bus,
    setup_entry,
)

LENT = "switch.jk_b2a16s_lent_to_jk_app"
LINK_BACK = "sensor.jk_b2a16s_link_back"
LEND_DURATION = "number.jk_b2a16s_lend_duration"
TOTAL_VOLTAGE = "sensor.jk_b2a16s_total_voltage"
MODES = ["persistent", "per_update"]


def state(hass: HomeAssistant, entity_id: str) -> State:
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found


async def switch(hass: HomeAssistant, service: str) -> None:
    await hass.services.async_call(
        "switch", service, {ATTR_ENTITY_ID: LENT}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)


class Later:
    """Time passing for every timer (the updates, the watchdog, the lend)."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.passed = timedelta()

    async def __call__(self, minutes: float) -> None:
        """Let ``minutes`` more pass."""
        self.passed += timedelta(minutes=minutes)
        async_fire_time_changed(self.hass, dt_util.utcnow() + self.passed)
        await self.hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def later(hass: HomeAssistant) -> Later:
    return Later(hass)


async def lent_device(
    hass: HomeAssistant, proxy: Proxy, mode: str, **options: Any
) -> BluetoothBalancer:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device, options={"connection_mode": mode, **options})
    await switch(hass, SERVICE_TURN_ON)
    return device


@pytest.mark.parametrize("mode", MODES)
async def test_a_lent_link_is_left_alone_until_its_time_is_up(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    mode: str,
    later: Later,
) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device, options={"connection_mode": mode})
    before = state(hass, TOTAL_VOLTAGE).state
    lent_at = dt_util.utcnow().replace(microsecond=0)
    await switch(hass, SERVICE_TURN_ON)
    # The phone can connect: the device has no link from Home Assistant.
    assert device.link is None
    assert state(hass, LENT).state == STATE_ON
    back = dt_util.parse_datetime(state(hass, LINK_BACK).state)
    assert back is not None
    assert timedelta(minutes=15) <= back - lent_at < timedelta(minutes=15, seconds=5)
    attempts = proxy.radio.connection_attempts
    # Updates, the stream watchdog and advertisements come and go: no one connects.
    for _ in range(4):
        proxy.scanner.advertise(device)
        await later(3)
    assert proxy.radio.connection_attempts == attempts
    assert device.link is None
    # Values stay as they were, not unavailable; the silence is no problem.
    assert state(hass, TOTAL_VOLTAGE).state == before
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
    await later(3.5)
    assert state(hass, LENT).state == STATE_OFF
    assert state(hass, LINK_BACK).state == STATE_UNKNOWN
    assert proxy.radio.connection_attempts > attempts
    if mode == "persistent":
        assert device.link is not None
    assert state(hass, TOTAL_VOLTAGE).state == before


@pytest.mark.parametrize("mode", MODES)
async def test_the_owner_takes_the_link_back_before_the_time_is_up(
    hass: HomeAssistant, proxy: Proxy, mode: str, later: Later
) -> None:
    device = await lent_device(hass, proxy, mode)
    attempts = proxy.radio.connection_attempts
    await switch(hass, SERVICE_TURN_OFF)
    assert state(hass, LENT).state == STATE_OFF
    assert proxy.radio.connection_attempts == attempts + 1
    # The time that was set no longer counts: it lends nothing again later.
    await later(16)
    assert state(hass, LENT).state == STATE_OFF
    if mode == "persistent":
        assert device.link is not None


async def test_the_stream_watchdog_does_not_count_a_lent_link(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    await lent_device(hass, proxy, "persistent")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2 * STALE_AFTER))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, TOTAL_VOLTAGE).state != "unavailable"


async def test_a_device_that_stops_advertising_while_lent_is_no_fault(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Connected to the phone, a device is not heard: that is expected."""
    device = await lent_device(hass, proxy, "persistent")
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    entry.runtime_data.link.async_device_gone(MagicMock())
    await hass.async_block_till_done()
    assert state(hass, TOTAL_VOLTAGE).state != "unavailable"
    assert device.link is None


async def test_nothing_is_written_to_a_lent_link(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = await lent_device(hass, proxy, "per_update")
    attempts = proxy.radio.connection_attempts
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.jk_b2a16s_trigger_delta", ATTR_VALUE: 20},
            blocking=True,
        )
    assert caught.value.translation_key == "link_lent"
    assert "is lent to the JK app until" in str(caught.value)
    assert device.writes == []
    assert proxy.radio.connection_attempts == attempts


async def test_a_lend_in_flight_ends_the_read_that_was_connecting(
    hass: HomeAssistant, proxy: Proxy, later: Later
) -> None:
    """A read that waits for the device ends: no link is made after the lend."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device, options={"connection_mode": "per_update"})
    proxy.radio.connect_delay = 0.2
    attempts = proxy.radio.connection_attempts
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await asyncio.sleep(0.05)  # the update is connecting now
    assert proxy.radio.connection_attempts == attempts + 1
    asked = len(device.received)
    await switch(hass, SERVICE_TURN_ON)
    await asyncio.sleep(0.5)  # the attempt, which ran on, has made its link
    await later(2)
    # The link the attempt made after all was dropped before a word was said.
    assert len(device.received) == asked
    assert device.link is None
    assert state(hass, TOTAL_VOLTAGE).state != "unavailable"


async def test_the_lend_duration_is_the_owners_choice(
    hass: HomeAssistant, proxy: Proxy, later: Later
) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: LEND_DURATION, ATTR_VALUE: 5},
        blocking=True,
    )
    assert state(hass, LEND_DURATION).state == "5"
    await switch(hass, SERVICE_TURN_ON)
    await later(4)
    assert state(hass, LENT).state == STATE_ON
    await later(1.5)
    assert state(hass, LENT).state == STATE_OFF
    assert device.link is not None


@pytest.mark.parametrize(
    ("stored", "used"),
    [(30, "30"), (1e9, "15"), (math.nan, "15"), ("30", "15"), (None, "15")],
)
async def test_the_lend_duration_is_restored_if_it_can_be_chosen(
    hass: HomeAssistant,
    proxy: Proxy,
    hass_storage: dict[str, Any],
    stored: Any,
    used: str,
) -> None:
    entry = await setup_entry(hass, proxy.add("jk-b2a16s"))
    assert state(hass, LEND_DURATION).state == "15"
    await restart_with_stored(
        hass, hass_storage, entry, LEND_DURATION, native_value=stored
    )
    assert state(hass, LEND_DURATION).state == used


async def test_a_reconnect_timer_from_before_the_lend_connects_nothing(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """A link lost just before the lend would reconnect at once: not while lent."""
    device = await lent_device(hass, proxy, "persistent")
    attempts = proxy.radio.connection_attempts
    await next_update(hass)
    assert proxy.radio.connection_attempts == attempts
    assert device.link is None


async def test_an_rs485_balancer_has_nothing_to_lend(
    hass: HomeAssistant, virtual_bus: VirtualBus, entity_registry: er.EntityRegistry
) -> None:
    """The bus is shared, not held by one."""
    entries = await setup_bus(hass, virtual_bus)
    keys = {
        item.translation_key
        for entry in entries
        for item in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert "cell_count" in keys
    assert not keys & {"lend_link", "lend_minutes", "link_returns"}


async def test_the_diagnostics_say_until_when_the_link_is_lent(
    hass: HomeAssistant, proxy: Proxy, hass_client: ClientSessionGenerator
) -> None:
    await lent_device(hass, proxy, "persistent")
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    lent_until = dt_util.parse_datetime(diagnostics["connection"]["lent_until"])
    assert lent_until is not None
    assert lent_until.replace(microsecond=0) == dt_util.parse_datetime(
        state(hass, LINK_BACK).state
    )
    await switch(hass, SERVICE_TURN_OFF)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["connection"]["lent_until"] is None


async def test_a_balancer_lent_while_unreachable_stays_unavailable(
    hass: HomeAssistant, proxy: Proxy, later: Later
) -> None:
    """Nothing from before the failure is shown as if it were current."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device, options={"connection_mode": "per_update"})
    device.set_powered(False)
    await next_update(hass)
    assert state(hass, TOTAL_VOLTAGE).state == "unavailable"
    await switch(hass, SERVICE_TURN_ON)
    attempts = proxy.radio.connection_attempts
    await later(1)
    assert state(hass, TOTAL_VOLTAGE).state == "unavailable"
    assert proxy.radio.connection_attempts == attempts
    device.set_powered(True)
    await switch(hass, SERVICE_TURN_OFF)
    assert state(hass, TOTAL_VOLTAGE).state != "unavailable"


async def test_taken_back_while_the_lend_waits_for_a_write_keeps_the_link(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """The owner changes their mind at once: the link Home Assistant has stays."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    lending = entry.runtime_data.lending
    assert lending is not None
    write = hass.async_create_task(
        hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.jk_b2a16s_trigger_delta", ATTR_VALUE: 8},
            blocking=True,
        )
    )
    await asyncio.sleep(0)
    lend = hass.async_create_task(lending.async_lend())
    await asyncio.sleep(0)
    lending.async_take_back()
    await write
    await lend
    await hass.async_block_till_done(wait_background_tasks=True)
    assert device.settings.balance_trigger_voltage == pytest.approx(0.008)
    assert state(hass, LENT).state == STATE_OFF
    assert device.link is not None


async def test_a_wall_clock_corrected_backwards_does_not_stretch_the_lend(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """The clock was a day ahead when the link was lent; then it is corrected.

    Sixteen minutes later (as the monotonic clock counts them) the link is
    back, although the wall clock says the lend began tomorrow.
    """
    device = await lent_device(hass, proxy, "persistent")
    day = timedelta(days=1)
    real_time, real_utcnow = time.time, dt_util.utcnow
    with (
        patch("time.time", lambda: real_time() - day.total_seconds()),
        patch("homeassistant.util.dt.utcnow", lambda: real_utcnow() - day),
    ):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=16))
        await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, LENT).state == STATE_OFF
    assert device.link is not None


async def test_a_lend_duration_that_is_no_number_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    await setup_entry(hass, proxy.add("jk-b2a16s"))
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: LEND_DURATION, ATTR_VALUE: math.nan},
            blocking=True,
        )
    assert caught.value.translation_key == "lend_minutes_out_of_range"
    assert state(hass, LEND_DURATION).state == "15"
