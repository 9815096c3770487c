"""A balancer's lifecycle as homes live it: moves, reloads mid-write, hung gateways.

Each test is a sequence a real installation produces: the adapter moved to
another port, a reload while a write is still connecting or confirming, the
same adapter under two names, a network gateway that never answers, a repair
fixed while the balancer is away, the device heard through another proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import os
from pathlib import Path
import socket
from unittest.mock import patch

from bleak_retry_connector.bluez import Allocations
from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.config_entries import (
    SOURCE_USB,
    ConfigEntryDisabler,
    ConfigEntryState,
)
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.connection_turns import async_get_turns
from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    bus_unique_id,
)
from custom_components.jk_balancer.rs485 import DATA_PORTS, rs485_device_key
from jk_emulator import PROFILES, BluetoothBalancer, VirtualBus, VirtualRadio
from jk_emulator.ha_proxy import async_register_virtual_proxy
from tests.conftest import wait_for
from tests.integration.conftest import (
    Proxy,
    bus_entry,
    entity_id,
    open_fds,
    setup_bus,
    setup_entry,
    start_user_flow,
    writes,
)

pytestmark = pytest.mark.usefixtures("quick_scan")


def entity_ids(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """The entity ids of ``entry``, sorted."""
    return sorted(
        item.entity_id
        for item in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
    )


def device_ids(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """The device ids of ``entry``."""
    return [
        device.id
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), entry.entry_id
        )
    ]


# -- a balancer moved to another port -------------------------------------------------


async def test_a_balancer_moved_to_another_port_keeps_its_device_and_entities(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    entries = await setup_bus(hass, virtual_bus)
    entry = entries[1]
    before, devices = entity_ids(hass, entry), device_ids(hass, entry)
    assert len(before) > 30
    # The adapter now answers under another name.
    moved = tmp_path / "ttyUSB1"
    moved.symlink_to(virtual_bus.path)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: str(moved)}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_SERIAL_PORT] == str(moved)
    # Dashboards, automations and history keep pointing at the same entities.
    assert entity_ids(hass, entry) == before
    assert device_ids(hass, entry) == devices
    states = [hass.states.get(entity) for entity in before]
    assert not [
        state.entity_id
        for state in states
        if state is not None
        and state.state == STATE_UNAVAILABLE
        and not state.entity_id.startswith("number.")
    ]


async def test_entries_identified_by_their_port_are_migrated_with_their_history(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    """Up to 1.2 the port was the identity: the same entities carry on."""
    entry = bus_entry(virtual_bus, 1)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, minor_version=2)
    old_key = f"{virtual_bus.path}#1"
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, old_key)}
    )
    old = er.async_get(hass).async_get_or_create(
        "sensor",
        DOMAIN,
        f"{old_key}-total_voltage",
        config_entry=entry,
        device_id=device.id,
        suggested_object_id="jk_balancer_1_total_voltage",
    )
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.minor_version == 3
    migrated = er.async_get(hass).async_get(old.entity_id)
    assert migrated is not None
    assert migrated.unique_id == f"{rs485_device_key(entry.entry_id)}-total_voltage"
    assert migrated.device_id == device.id
    assert device_ids(hass, entry) == [device.id]
    # One sensor for the total, the old one, not a second one beside it.
    totals = [
        item
        for item in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
        if item.unique_id.endswith("-total_voltage")
    ]
    assert [item.entity_id for item in totals] == [old.entity_id]
    state = hass.states.get(old.entity_id)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


# -- nothing outlives its entry --------------------------------------------------------


async def test_a_bluetooth_write_still_connecting_at_unload_leaves_no_link(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    await coordinator.link.client.disconnect()
    proxy.radio.connect_delay = 0.2
    attempts = proxy.radio.connection_attempts
    write = hass.async_create_task(
        hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: "number.jk_b2a16s_trigger_delta", ATTR_VALUE: 12},
            blocking=True,
        )
    )
    await wait_for(lambda: proxy.radio.connection_attempts > attempts)
    # Options saved, a reload: the write is still connecting.
    await hass.config_entries.async_reload(entry.entry_id)
    with pytest.raises(HomeAssistantError) as caught:
        await write
    assert caught.value.translation_key == "link_closed"
    await asyncio.sleep(0.5)
    await hass.async_block_till_done(wait_background_tasks=True)
    # The entry set up again: the only link is its own.
    assert entry.state is ConfigEntryState.LOADED
    assert len(proxy.radio.connections) == 1
    assert device.settings.balance_trigger_voltage == pytest.approx(0.005)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await asyncio.sleep(0.5)
    assert not proxy.radio.connections
    assert device.link is None


async def test_an_rs485_write_in_flight_at_the_last_unload_reopens_nothing(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    fds_before = open_fds(virtual_bus.path)
    entries = await setup_bus(hass, virtual_bus)
    await hass.config_entries.async_unload(entries[1].entry_id)
    write = hass.async_create_task(
        hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {
                ATTR_ENTITY_ID: entity_id(hass, "number", 1, "balance_trigger_voltage"),
                ATTR_VALUE: 7,
            },
            blocking=True,
        )
    )
    await wait_for(lambda: bool(writes(virtual_bus)))
    # The write is on the wire, its read-back not yet: the last balancer unloads.
    await hass.config_entries.async_unload(entries[0].entry_id)
    with pytest.raises(HomeAssistantError):
        await write
    await asyncio.sleep(0.5)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.data[DATA_PORTS] == {}
    assert open_fds(virtual_bus.path) == fds_before


# -- one adapter, two names ------------------------------------------------------------


async def test_the_same_adapter_under_another_name_is_not_added_twice(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    await setup_bus(hass, virtual_bus)
    alias = tmp_path / "usb-FTDI_FT232R_USB_UART_A10K5-if00-port0"
    alias.symlink_to(virtual_bus.path)
    result = await start_user_flow(hass, "rs485")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: str(alias)}
    )
    # Both balancers on it are set up already: nothing new answers.
    assert result["errors"] == {"base": "no_balancers_found"}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def test_balancers_stored_under_two_names_of_one_adapter_share_its_port(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    fds_before = open_fds(virtual_bus.path)
    alias = tmp_path / "ttyRS485"
    alias.symlink_to(virtual_bus.path)
    first, second = bus_entry(virtual_bus, 1), bus_entry(virtual_bus, 2)
    second.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        second, data={**second.data, CONF_SERIAL_PORT: str(alias)}
    )
    first.add_to_hass(hass)
    # Setting up the integration sets up both.
    await hass.config_entries.async_setup(first.entry_id)
    await hass.async_block_till_done()
    assert [first.state, second.state] == [ConfigEntryState.LOADED] * 2
    # One port, not two fighting over one tty.
    assert len(hass.data[DATA_PORTS]) == 1
    assert open_fds(virtual_bus.path) == fds_before + 1


async def test_a_port_is_stored_as_its_stable_by_id_link(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    by_id = tmp_path / "usb-1a86_USB_Serial-if00-port0"
    by_id.symlink_to(virtual_bus.path)

    def serial_by_id(path: str) -> str:
        return str(by_id) if os.path.realpath(path) == virtual_bus.path else path

    with patch("custom_components.jk_balancer.rs485.get_serial_by_id", serial_by_id):
        result = await start_user_flow(hass, "rs485")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: virtual_bus.path}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_BUS_ADDRESS: "1"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SERIAL_PORT] == str(by_id)


async def test_usb_discovery_of_a_known_adapter_at_a_new_path_moves_its_entries(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    entries = [bus_entry(virtual_bus, address) for address in (1, 2)]
    for entry in entries:
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(
            entry,
            data={
                **entry.data,
                # Where the adapter was before it was plugged in elsewhere.
                CONF_SERIAL_PORT: str(tmp_path / "ttyUSB0"),
                CONF_USB_ADAPTER: "0403:6001:A10K5",
            },
        )
        await hass.config_entries.async_setup(entry.entry_id)
    assert [entry.state for entry in entries] == [ConfigEntryState.SETUP_RETRY] * 2
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_USB},
        data=UsbServiceInfo(
            device=virtual_bus.path,
            vid="0403",
            pid="6001",
            serial_number="A10K5",
            manufacturer="FTDI",
            description="FT232R USB UART - RS485",
        ),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    for entry in entries:
        assert entry.data[CONF_SERIAL_PORT] == virtual_bus.path
        assert entry.unique_id == bus_unique_id(
            virtual_bus.path, entry.data[CONF_BUS_ADDRESS]
        )
        assert entry.state is ConfigEntryState.LOADED


# -- every wait has a limit ------------------------------------------------------------


@contextlib.contextmanager
def listener_that_never_accepts() -> Iterator[int]:
    """A TCP port whose connects hang: its backlog is full and nobody accepts."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        waiting = []
        try:
            for _ in range(4):
                client = socket.socket()
                client.setblocking(False)
                client.connect_ex(("127.0.0.1", port))
                waiting.append(client)
            yield port
        finally:
            for client in waiting:
                client.close()


@pytest.mark.usefixtures("socket_enabled")
async def test_a_gateway_that_never_accepts_fails_within_the_limit(
    hass: HomeAssistant,
) -> None:
    with (
        listener_that_never_accepts() as tcp_port,
        patch("custom_components.jk_balancer.protocol.rs485.port.OPEN_TIMEOUT", 0.3),
    ):
        gateway = f"socket://127.0.0.1:{tcp_port}"
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="JK balancer 1",
            unique_id=bus_unique_id(gateway, 1),
            data={
                CONF_TRANSPORT: "rs485",
                CONF_SERIAL_PORT: gateway,
                CONF_BUS_ADDRESS: 1,
            },
            minor_version=3,
        )
        assert await async_setup_component(hass, DOMAIN, {})
        entry.add_to_hass(hass)
        async with asyncio.timeout(5):
            await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == (
        f"Cannot use {gateway} for JK balancer 1: no answer within 0.3 s"
    )


# -- an entry that is not loaded -------------------------------------------------------


async def test_repairs_and_diagnostics_of_an_entry_that_is_not_loaded(
    hass: HomeAssistant, proxy: Proxy, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    assert await async_setup_component(hass, "diagnostics", {})
    device = proxy.add("jk-b5a24s", cells=16)
    device.change_settings(cell_count=17)
    entry = await setup_entry(hass, device)
    issue_id = f"cell_count_mismatch_{entry.entry_id}"
    # The balancer stops answering; its entry waits to retry.
    device.go_silent(600)
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert response.status == 200
    flow = await response.json()
    assert flow["type"] == "abort"
    assert flow["reason"] == "not_loaded"
    assert device.settings.cell_count == 17
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["state"] == "setup_retry"
    assert "password" not in str(diagnostics["entry"]["data"]).lower().replace(
        "'password': '**redacted**'", ""
    )
    await hass.config_entries.async_set_disabled_by(
        entry.entry_id, ConfigEntryDisabler.USER
    )
    await hass.async_block_till_done()
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["state"] == "not_loaded"


# -- heard through another proxy -------------------------------------------------------


async def test_a_balancer_heard_through_another_proxy_stays_the_same_device(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    before, devices = entity_ids(hass, entry), device_ids(hass, entry)
    # It is moved next to another proxy, out of reach of the first.
    other = VirtualRadio(slots=3, source="AA:BB:CC:DD:EE:02")
    scanner, remove = async_register_virtual_proxy(hass, other, "Garage proxy")
    try:
        del proxy.radio.devices[device.address]
        device.drop_link(mid_frame=False)
        other.add(device)
        scanner.advertise(device)
        await hass.async_block_till_done(wait_background_tasks=True)
        await wait_for(lambda: bool(other.connections), 5)
        assert entry.runtime_data.last_update_success
        assert entity_ids(hass, entry) == before
        assert device_ids(hass, entry) == devices
        state = hass.states.get("sensor.jk_b2a16s_total_voltage")
        assert state is not None
        assert state.state != STATE_UNAVAILABLE
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        remove()


# -- connection turns grow with the radios ---------------------------------------------


async def take_turns_together(hass: HomeAssistant, *addresses: str) -> None:
    """Every one of ``addresses`` is inside its turn at the same time."""
    turns = async_get_turns(hass)
    inside: set[str] = set()
    together = asyncio.Event()

    async def update(address: str) -> None:
        async with turns.turn(address):
            inside.add(address)
            if len(inside) == len(addresses):
                together.set()
            await together.wait()

    async with asyncio.timeout(2):
        await asyncio.gather(*(update(address) for address in addresses))


async def test_each_proxy_admits_as_many_balancers_as_it_has_slots(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Two proxies of one slot: a balancer at each connects at the same time."""
    proxy.radio.slots = 1
    garage = VirtualRadio(slots=1, source="AA:BB:CC:DD:EE:02")
    scanner, remove = async_register_virtual_proxy(hass, garage, "Garage proxy")
    house = proxy.add()
    shed = garage.add(
        BluetoothBalancer(PROFILES["jk-b2a16s"], address="C8:47:80:12:34:F0")
    )
    scanner.advertise(shed)
    try:
        await take_turns_together(hass, house.address, shed.address)
    finally:
        remove()


async def test_our_own_links_are_ours_however_the_proxy_reports_them(
    hass: HomeAssistant, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bleak-esphome before 4.0 (Home Assistant 2026.2) reports a node's
    connections as integers: a link of ours taking its turn is still ours, so
    the node's other slot is used, not taken to be held by someone else."""
    proxy.radio.slots = 2
    first, second = proxy.add(), proxy.add()
    monkeypatch.setattr(
        proxy.scanner,
        "get_allocations",
        lambda: Allocations(
            adapter=proxy.scanner.source,
            slots=2,
            free=1,
            allocated=[int(first.address.replace(":", ""), 16)],
        ),
    )
    await take_turns_together(hass, first.address, second.address)
