"""Set-up, the link's life cycle and recovery from radio trouble."""

from __future__ import annotations

import asyncio
from unittest.mock import patch

from homeassistant.components.bluetooth import (
    BluetoothChange,
    BluetoothServiceInfoBleak,
    async_last_service_info,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest

from custom_components.jk_balancer import bluetooth as bluetooth_module
from custom_components.jk_balancer.connection_turns import NO_RADIO, async_get_turns
from tests.integration.conftest import (
    Proxy,
    config_entry,
    device_of,
    next_update,
    setup_entry,
)


def available(hass: HomeAssistant, entity_id: str) -> bool:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state != STATE_UNAVAILABLE


async def test_setup_and_unload(hass: HomeAssistant, proxy: Proxy) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    assert entry.state is ConfigEntryState.LOADED
    assert len(proxy.radio.connections) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not proxy.radio.connections
    assert device.link is None


async def test_setup_retries_while_the_device_is_absent(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    proxy.radio.devices.clear()  # heard once, then never again
    entry = config_entry(device)
    entry.add_to_hass(hass)
    with patch(
        "homeassistant.components.bluetooth.async_ble_device_from_address",
        return_value=None,
    ):
        await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "is not in range of any Bluetooth adapter or proxy" in str(entry.reason)


async def test_setup_retries_when_the_device_does_not_answer(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add(clock=lambda: 0.0)
    device.go_silent(60)
    entry = await setup_entry(hass, device)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not proxy.radio.connections


async def test_device_disappears_and_returns(hass: HomeAssistant, proxy: Proxy) -> None:
    device = proxy.add()
    await setup_entry(hass, device)
    entity_id = "sensor.jk_b2a16s_total_voltage"
    assert available(hass, entity_id)
    device.set_powered(False)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not available(hass, entity_id)
    device.set_powered(True)
    await next_update(hass)
    assert available(hass, entity_id)
    assert len(proxy.radio.connections) == 1


async def test_advertising_again_reconnects_without_waiting(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """After Home Assistant lost the device, its next advertisement reconnects."""
    device = proxy.add()
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    device.set_powered(False)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not coordinator.last_update_success
    device.set_powered(True)
    service_info = async_last_service_info(hass, device.address)
    assert service_info is not None
    coordinator.link.async_device_seen(service_info, BluetoothChange.ADVERTISEMENT)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert coordinator.last_update_success
    assert len(proxy.radio.connections) == 1


async def test_lost_link_is_reestablished_at_once(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    await setup_entry(hass, device)
    attempts = proxy.radio.connection_attempts
    device.drop_link(mid_frame=False)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert proxy.radio.connection_attempts == attempts + 1
    assert len(proxy.radio.connections) == 1
    assert available(hass, "sensor.jk_b2a16s_total_voltage")


async def test_no_new_link_while_home_assistant_stops(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Proxies drop their links as Home Assistant stops: nothing reconnects
    into a Bluetooth stack on its way down."""
    device = proxy.add()
    await setup_entry(hass, device)
    attempts = proxy.radio.connection_attempts
    hass.set_state(CoreState.stopping)
    device.drop_link(mid_frame=False)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert proxy.radio.connection_attempts == attempts
    hass.set_state(CoreState.running)


async def test_home_assistant_no_longer_hearing_the_device(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    service_info = BluetoothServiceInfoBleak.__new__(BluetoothServiceInfoBleak)
    # While the link is up the stream proves the device is there.
    coordinator.link.async_device_gone(service_info)
    assert coordinator.last_update_success
    await coordinator.link.client.disconnect()
    coordinator.link.async_device_gone(service_info)
    await hass.async_block_till_done()
    assert not coordinator.last_update_success
    assert not available(hass, "sensor.jk_b2a16s_total_voltage")


async def test_stale_stream_reconnects(hass: HomeAssistant, proxy: Proxy) -> None:
    clock = [0.0]
    device = proxy.add(clock=lambda: clock[0])
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    device.go_silent(120)
    coordinator.link.client.stale_after = 0.0
    await next_update(hass)
    # No data: the link is dropped and the entities say so.
    assert not coordinator.last_update_success
    assert not available(hass, "sensor.jk_b2a16s_total_voltage")
    clock[0] += 121  # the silence ends
    await next_update(hass)
    assert coordinator.last_update_success
    assert available(hass, "sensor.jk_b2a16s_total_voltage")


async def test_connect_per_update_mode(hass: HomeAssistant, proxy: Proxy) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device, options={"connection_mode": "per_update"})
    assert entry.state is ConfigEntryState.LOADED
    assert not proxy.radio.connections
    attempts = proxy.radio.connection_attempts
    await next_update(hass)
    assert proxy.radio.connection_attempts == attempts + 1
    assert not proxy.radio.connections
    assert available(hass, "sensor.jk_b2a16s_total_voltage")
    # A write connects, confirms and disconnects again.
    await entry.runtime_data.async_write_setting("balance_trigger_voltage", 0.01)
    assert device.settings.balance_trigger_voltage == pytest.approx(0.01)
    assert not proxy.radio.connections


async def test_password_changed_later_starts_reauth(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    device.passcode = "9999"
    await entry.runtime_data.link.client.disconnect()
    await next_update(hass)
    # (A discovery flow the advertisement started before the entry was added
    # may be there too, depending on timing: only the reauth matters here.)
    flows = hass.config_entries.flow.async_progress_by_handler("jk_balancer")
    assert [flow for flow in flows if flow["context"]["source"] == "reauth"]
    assert not proxy.radio.connections


async def test_a_proxy_without_free_slots(hass: HomeAssistant, proxy: Proxy) -> None:
    proxy.radio.slots = 0
    device = proxy.add()
    entry = await setup_entry(hass, device)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Cannot connect to JK-B2A16S" in str(entry.reason)


async def test_a_link_lost_twice_in_a_row_is_reestablished_at_once(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Not held back by the refresh debouncer's 10 s cooldown."""
    device = proxy.add()
    await setup_entry(hass, device)
    attempts = proxy.radio.connection_attempts
    for lost in (1, 2, 3):
        device.drop_link(mid_frame=False)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert proxy.radio.connection_attempts == attempts + lost
        assert len(proxy.radio.connections) == 1
    assert available(hass, "sensor.jk_b2a16s_total_voltage")


async def test_values_older_than_the_stream_timeout_are_not_shown_as_current(
    hass: HomeAssistant, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bluetooth_module, "STALE_AFTER", 0.2)
    clock = [0.0]
    device = proxy.add(clock=lambda: clock[0])
    entry = await setup_entry(hass, device)
    assert available(hass, "sensor.jk_b2a16s_total_voltage")
    device.go_silent(120)
    # Long before the next update (30 s), the watchdog notices the silence.
    await asyncio.sleep(0.5)
    assert not available(hass, "sensor.jk_b2a16s_total_voltage")
    assert not entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_balancers_connecting_per_update_take_turns_at_the_slots(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """First come, first served: nobody gets a second turn while others wait."""
    proxy.radio.slots = 1
    turns = async_get_turns(hass)
    order: list[str] = []
    release = asyncio.Event()

    async def take(address: str, times: int) -> None:
        for _ in range(times):
            async with turns.turn(address):
                order.append(address)
                await release.wait()

    tasks = [asyncio.create_task(take(name, 2)) for name in ("a", "b", "c")]
    for _ in range(6):
        await asyncio.sleep(0)
        release.set()
        await asyncio.sleep(0)
        release.clear()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c", "a", "b", "c"]


async def test_a_slot_freed_late_by_the_proxy_still_admits_the_next(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy reports a freed slot after the link is gone: nobody waits forever."""
    turns = async_get_turns(hass)
    free = [0]
    monkeypatch.setattr(turns, "_capacities", lambda: {NO_RADIO: free[0]})
    monkeypatch.setattr(
        "custom_components.jk_balancer.connection_turns.RECHECK_SECONDS", 0.01
    )
    admitted = asyncio.Event()

    async def update() -> None:
        async with turns.turn("C8:47:80:00:00:01"):
            admitted.set()

    task = asyncio.create_task(update())
    await asyncio.sleep(0.05)
    assert not admitted.is_set()
    # The proxy frees its slot; no turn ends to tell.
    free[0] = 1
    async with asyncio.timeout(1):
        await admitted.wait()
    await task


async def test_device_registry_entry(
    hass: HomeAssistant, proxy: Proxy, device_registry: dr.DeviceRegistry
) -> None:
    device = proxy.add("jk-pb2a16s20p", name="Rack-1")
    config_entry = await setup_entry(hass, device)
    entry = device_of(hass, config_entry.entry_id)
    assert entry.connections == {("bluetooth", device.address)}
    assert entry.name == "Rack-1"
    assert entry.manufacturer == "Jikong (JK)"
    assert entry.model == "JK-PB2A16S20P"
    assert (entry.hw_version, entry.sw_version) == ("19A", "19.27")
    assert entry.serial_number == device.device_info().serial_number
