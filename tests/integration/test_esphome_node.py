"""Through the proxy owners use: Home Assistant's esphome integration, with
bleak-esphome and aioesphomeapi, talking to an emulated ESPHome node over TCP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, CONF_PASSWORD, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.jk_balancer.const import (
    CONF_CONNECTION_MODE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from jk_emulator import PROFILES, BluetoothBalancer, VirtualRadio
from jk_emulator.esphome_node import EsphomeNode
from tests.integration.conftest import FAST, setup_entry

NODE_MAC = "0A:00:00:00:E5:01"


async def until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Let real time pass (the node is a real TCP server) until ``condition``."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.05)


async def add_node(hass: HomeAssistant, node: EsphomeNode) -> MockConfigEntry:
    """Home Assistant's esphome entry on ``node``, with its key if it has one."""
    await node.start()
    # The esphome integration's assist pipeline needs the core integration,
    # and its ffmpeg a program this machine lacks (only voice would use it).
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass, "ffmpeg", {"ffmpeg": {"ffmpeg_bin": "true"}}
    )
    entry = MockConfigEntry(
        domain="esphome",
        data={
            "host": "127.0.0.1",
            "port": node.port,
            "password": "",
            "noise_psk": node.noise_psk or "",
        },
        unique_id=node.mac.replace(":", "").lower(),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def node(
    hass: HomeAssistant,
    enable_bluetooth: None,
    socket_enabled: None,
    mock_async_zeroconf: None,
) -> AsyncIterator[EsphomeNode]:
    """An emulated node with three slots, Home Assistant's esphome entry on it."""
    node = EsphomeNode(VirtualRadio(slots=3, source=NODE_MAC), mac=NODE_MAC)
    entry = await add_node(hass, node)
    yield node
    await hass.config_entries.async_unload(entry.entry_id)
    await node.stop()


def balancer(node: EsphomeNode, number: int = 1) -> BluetoothBalancer:
    device = BluetoothBalancer(
        PROFILES["jk-b2a16s"],
        address=f"C8:47:80:12:34:{number:02X}",
        name=f"Shed {number}",
        time_scale=FAST,
        seed=3,
        noise=False,
        clock=lambda: 1000.0,
    )
    node.radio.add(device)
    return device


async def add_through_discovery(
    hass: HomeAssistant, device: BluetoothBalancer
) -> ConfigEntry:
    """Take the discovery the node's advertisements raise; the new entry."""

    def flow() -> dict | None:
        return next(
            (
                f
                for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
                if f["context"].get("unique_id") == device.address
            ),
            None,
        )

    await until(lambda: flow() is not None)
    found = flow()
    assert found is not None
    result = await hass.config_entries.flow.async_configure(found["flow_id"])
    if result["type"] is FlowResultType.FORM and result["step_id"] != "password":
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["step_id"] == "password"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: device.passcode}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


async def write_trigger_delta(
    hass: HomeAssistant, device: BluetoothBalancer, millivolts: int
) -> None:
    """Set Shed 1's trigger delta; it must reach the device once, confirmed."""
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.shed_1_trigger_delta", ATTR_VALUE: millivolts},
        blocking=True,
    )
    assert device.settings.balance_trigger_voltage == pytest.approx(millivolts / 1000)
    assert state(hass, "number.shed_1_trigger_delta") == str(millivolts)
    assert len(device.writes) == 1  # written once, not twice


def state(hass: HomeAssistant, entity_id: str) -> str:
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found.state


async def test_found_added_and_read_through_the_esphome_integration(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    device = balancer(node)
    entry = await add_through_discovery(hass, device)
    assert entry.state is ConfigEntryState.LOADED
    measured = device.measure()
    shown = float(state(hass, "sensor.shed_1_voltage_cell_16"))
    assert shown == pytest.approx(measured.cell_voltages[15], abs=0.002)
    # A write goes through the node and is confirmed by reading back.
    await write_trigger_delta(hass, device, 8)


async def test_an_encrypted_node_is_used_with_its_key(
    hass: HomeAssistant,
    enable_bluetooth: None,
    socket_enabled: None,
    mock_async_zeroconf: None,
) -> None:
    """Most nodes have an API encryption key: the same, through noise."""
    key = base64.b64encode(bytes(range(32))).decode()
    node = EsphomeNode(
        VirtualRadio(slots=3, source=NODE_MAC), mac=NODE_MAC, noise_psk=key
    )
    entry = await add_node(hass, node)
    try:
        assert entry.state is ConfigEntryState.LOADED
        device = balancer(node)
        await add_through_discovery(hass, device)
        shown = float(state(hass, "sensor.shed_1_voltage_cell_1"))
        assert shown == pytest.approx(device.measure().cell_voltages[0], abs=0.002)
        await write_trigger_delta(hass, device, 8)
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await node.stop()


async def test_values_come_back_after_the_node_restarts(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """Every link drops with the node; once it is back, so are fresh values."""
    device = balancer(node)
    await add_through_discovery(hass, device)
    entity = "sensor.shed_1_voltage_cell_1"
    before = state(hass, entity)
    assert before != STATE_UNAVAILABLE
    await node.restart(downtime=1.0)
    assert not node.connections
    # Cell 1 loses charge meanwhile: only a new frame can tell.
    device.battery.cells[0].charge -= 0.2 * device.battery.capacity
    await until(
        lambda: state(hass, entity) not in (before, STATE_UNAVAILABLE), seconds=90
    )
    assert float(state(hass, entity)) == pytest.approx(
        device.measure().cell_voltages[0], abs=0.002
    )


async def test_a_node_gone_offline_is_not_taken_for_a_full_one(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """The only proxy in range loses power: unavailable, said to be out of
    range of anything online (not that the slots are full), then back."""
    device = balancer(node)
    entry = await add_through_discovery(hass, device)
    entity = "sensor.shed_1_total_voltage"
    await node.stop()
    # Connection attempts bridge a short restart; then it is said.
    await until(lambda: state(hass, entity) == STATE_UNAVAILABLE, seconds=60)
    failure = entry.runtime_data.last_exception
    assert isinstance(failure, HomeAssistantError)
    assert str(failure) == (
        f"{device.address} is not in range of any Bluetooth adapter or proxy "
        "that is online"
    )
    # Back online, its advertisements repeat what Home Assistant remembers:
    # the node's return itself brings the values back, long before the next
    # update (30 s).
    await node.start(node.port)
    await until(lambda: state(hass, entity) != STATE_UNAVAILABLE, seconds=15)


async def test_a_full_node_is_said_so_and_nothing_is_written(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """Every slot held elsewhere: unavailable, why in words, then back."""
    device = balancer(node)
    entry = await add_through_discovery(hass, device)
    node.hold_slots(node.radio.slots)
    device.drop_link(mid_frame=False)
    entity = "sensor.shed_1_total_voltage"
    await until(lambda: state(hass, entity) == STATE_UNAVAILABLE)
    failure = entry.runtime_data.last_exception
    assert isinstance(failure, HomeAssistantError)
    assert failure.translation_domain == DOMAIN
    assert str(failure) == (
        "Cannot connect to Shed 1: no Bluetooth adapter or proxy with a free "
        "connection slot reaches it"
    )
    assert device.writes == []
    # A slot again: the values come back by themselves.
    node.hold_slots(0)
    await until(lambda: state(hass, entity) != STATE_UNAVAILABLE, seconds=90)


async def test_a_link_lost_mid_frame_shows_no_torn_frame(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """Half a frame, then the device drops the link: the half is never decoded."""
    device = balancer(node)
    await add_through_discovery(hass, device)
    entity = "sensor.shed_1_voltage_cell_1"
    seen: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: seen.append(event.data["new_state"].state)
        if event.data["entity_id"] == entity
        else None,
    )
    device.battery.cells[0].charge -= 0.2 * device.battery.capacity
    device.drop_link(mid_frame=True)
    expected = device.measure().cell_voltages[0]
    await until(
        lambda: any(
            value != STATE_UNAVAILABLE
            and float(value) == pytest.approx(expected, abs=0.002)
            for value in seen
        ),
        seconds=90,
    )
    # Nothing in between but the true value and, at most, unavailable.
    assert {value for value in seen if value != STATE_UNAVAILABLE} == {seen[-1]}


async def test_a_slot_reported_free_late_is_waited_for(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """One slot: the first balancer goes, the node frees its slot seconds later,
    and the next balancer still comes up with its values."""
    node.radio.slots = 1
    first = await add_through_discovery(hass, balancer(node, 1))
    second = balancer(node, 2)
    await until(
        lambda: any(
            flow["context"].get("unique_id") == second.address
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        )
    )
    # bleak-esphome waits up to 5 s for the node to report a slot free after a
    # disconnect; this node reports it later than that.
    node.late_free_slot = 6.0
    await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    # Its password is checked while the node still holds the slot: the check
    # and the setup wait or retry, and nothing fails for good.
    await add_through_discovery(hass, second)
    await until(
        lambda: (found := hass.states.get("sensor.shed_2_total_voltage")) is not None
        and found.state != STATE_UNAVAILABLE,
        seconds=60,
    )
    assert node.free_slots().free == 0  # the second balancer holds the slot


async def test_six_balancers_take_fair_turns_at_a_three_slot_node(
    hass: HomeAssistant, node: EsphomeNode
) -> None:
    """Connecting for each update, six balancers share three slots: every one
    is read again and again, and the node never holds more than three."""
    devices = [balancer(node, number) for number in range(1, 7)]
    await until(
        lambda: len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 6
    )
    peak = 0
    original = node.device_request

    def counting(client: Any, message: Any) -> None:
        nonlocal peak
        original(client, message)
        peak = max(peak, len(node.connections))

    node.device_request = counting  # type: ignore[method-assign]
    for device in devices:
        await setup_entry(
            hass,
            device,
            options={CONF_CONNECTION_MODE: "per_update", CONF_UPDATE_INTERVAL: 5},
        )
    reads = {device.address: 0 for device in devices}

    def count(event: Event) -> None:
        entity_id = event.data["entity_id"]
        for number, device in enumerate(devices, 1):
            if entity_id == f"sensor.shed_{number}_voltage_cell_1":
                reads[device.address] += 1

    hass.bus.async_listen("state_changed", count)

    def all_read_twice() -> bool:
        # A new charge all the time: only a fresh read changes the state.
        for device in devices:
            device.battery.cells[0].charge -= 0.001 * device.battery.capacity
        return all(value >= 2 for value in reads.values())

    await until(all_read_twice, seconds=90)
    assert peak <= node.radio.slots
