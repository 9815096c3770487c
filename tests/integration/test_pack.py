"""Cascaded balancers shown as one pack, the cells numbered through."""

from __future__ import annotations

import logging

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_NAME, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.jk_balancer.const import CONF_MEMBERS, DOMAIN
from custom_components.jk_balancer.rs485 import rs485_device_key
from jk_emulator import VirtualBus
from tests.integration.conftest import (
    Proxy,
    bus_entry,
    device_of,
    next_update,
    setup_bus,
    setup_entry,
)


async def submit_pack(
    hass: HomeAssistant, members: list[str], name: str = "Rack"
) -> ConfigFlowResult:
    """Pick ``members`` (entry ids) as a pack in the config flow; its result."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert "pack" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "pack"}
    )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: name, CONF_MEMBERS: members}
    )


async def add_pack(
    hass: HomeAssistant, members: list[MockConfigEntry], name: str = "Rack"
) -> str:
    """Add a pack of ``members`` through the config flow; its entry id."""
    result = await submit_pack(hass, [entry.entry_id for entry in members], name)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return result["result"].entry_id


def pack_state(hass: HomeAssistant, pack_id: str, key: str) -> str:
    """The state of the pack's sensor ``key``."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"pack_{pack_id}-{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state


def unit_cells(hass: HomeAssistant, entry: MockConfigEntry, count: int) -> list[float]:
    """The cell voltages a balancer's own sensors show."""
    registry = er.async_get(hass)
    values = []
    for cell in range(1, count + 1):
        entity_id = registry.async_get_entity_id(
            "sensor", DOMAIN, f"{rs485_device_key(entry.entry_id)}-cell_voltage_{cell}"
        )
        assert entity_id is not None
        state = hass.states.get(entity_id)
        assert state is not None
        values.append(float(state.state))
    return values


async def test_the_pack_numbers_the_cells_through_and_sums_up(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])

    cells = unit_cells(hass, first, 16) + unit_cells(hass, second, 16)
    shown = [
        float(pack_state(hass, pack_id, f"cell_voltage_{cell}"))
        for cell in range(1, 33)
    ]
    assert shown == cells
    assert int(pack_state(hass, pack_id, "cell_count")) == 32
    lowest, highest = min(cells), max(cells)
    assert float(pack_state(hass, pack_id, "min_cell_voltage")) == lowest
    assert float(pack_state(hass, pack_id, "max_cell_voltage")) == highest
    assert int(pack_state(hass, pack_id, "min_voltage_cell")) == cells.index(lowest) + 1
    assert (
        int(pack_state(hass, pack_id, "max_voltage_cell")) == cells.index(highest) + 1
    )
    # Shown in mV, like a balancer's own delta.
    assert float(pack_state(hass, pack_id, "delta_cell_voltage")) == pytest.approx(
        (highest - lowest) * 1000
    )
    totals = []
    for number in (1, 2):
        state = hass.states.get(f"sensor.jk_balancer_{number}_total_voltage")
        assert state is not None
        totals.append(float(state.state))
    assert float(pack_state(hass, pack_id, "total_voltage")) == pytest.approx(
        sum(totals), abs=0.011
    )
    device = device_of(hass, pack_id)
    assert device.identifiers == {(DOMAIN, f"pack_{pack_id}")}
    assert device.name == "Rack"


async def test_the_pack_is_unavailable_while_one_balancer_is_missing(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])

    virtual_bus.go_silent(3600, address=2)
    await next_update(hass)
    assert pack_state(hass, pack_id, "total_voltage") == STATE_UNAVAILABLE
    assert pack_state(hass, pack_id, "cell_voltage_1") == STATE_UNAVAILABLE

    virtual_bus.speak_again()
    await next_update(hass)
    assert float(pack_state(hass, pack_id, "total_voltage")) > 80

    await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert pack_state(hass, pack_id, "max_cell_voltage") == STATE_UNAVAILABLE


async def test_the_cell_card_shows_the_whole_pack(
    hass: HomeAssistant, virtual_bus: VirtualBus, hass_ws_client: WebSocketGenerator
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [second, first], name="Rack reversed")
    device = device_of(hass, pack_id)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": f"{DOMAIN}/device_entities", "device_id": device.id}
    )
    reply = await client.receive_json()
    roles = reply["result"]
    assert roles["name"] == "Rack reversed"
    assert len(roles["cells"]) == 32
    # In the order picked: the second balancer's cells come first.
    first_cell = hass.states.get(roles["cells"][0])
    assert first_cell is not None
    assert float(first_cell.state) == unit_cells(hass, second, 1)[0]
    assert {"total_voltage", "delta_cell_voltage", "min_voltage_cell"} <= set(
        roles["entities"]
    )
    # The card's balancing line counts of two balancers; LiFePO4 cells with
    # no power-off setting on the bus are warned below 2.8 V, above 3.55 V.
    assert roles["units"] == 2
    assert roles["range"] == {
        "power_off": 2.5,
        "low": 2.8,
        "high": 3.55,
        "full": 3.6,
    }


async def test_the_pack_and_its_balancers_are_linked_as_devices(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])
    pack = device_of(hass, pack_id)
    # Each balancer's page names its pack; the pack's lists its balancers.
    for unit in (first, second):
        assert device_of(hass, unit.entry_id).via_device_id == pack.id
    await hass.config_entries.async_remove(pack_id)
    await hass.async_block_till_done()
    for unit in (first, second):
        assert device_of(hass, unit.entry_id).via_device_id is None


async def test_a_pack_needs_two_balancers(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    first, _second = await setup_bus(hass, virtual_bus)
    result = await submit_pack(hass, [first.entry_id])
    assert result["errors"] == {CONF_MEMBERS: "pick_two"}


async def test_one_balancer_offers_no_pack(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    entries = await setup_bus(hass, virtual_bus)
    await hass.config_entries.async_remove(entries[1].entry_id)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["menu_options"] == ["bluetooth_device", "rs485"]


async def test_reconfigure_changes_the_balancers_of_a_pack(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])
    pack = hass.config_entries.async_get_entry(pack_id)
    assert pack is not None
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": pack_id}
    )
    assert result["step_id"] == "pack"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_NAME: "Rack 2", CONF_MEMBERS: [second.entry_id, first.entry_id]},
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert pack.title == "Rack 2"
    assert pack.data[CONF_MEMBERS] == [second.entry_id, first.entry_id]
    assert pack.state is ConfigEntryState.LOADED
    # Settings and options stay with each balancer.
    assert not pack.supports_options


async def test_a_balancer_taken_out_of_the_pack_no_longer_names_it(
    hass: HomeAssistant, virtual_bus: VirtualBus, proxy: Proxy
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    shed = await setup_entry(hass, proxy.add(name="Shed"))
    pack_id = await add_pack(hass, [first, second])
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": pack_id}
    )
    await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_NAME: "Rack", CONF_MEMBERS: [first.entry_id, shed.entry_id]},
    )
    await hass.async_block_till_done()
    pack = device_of(hass, pack_id)
    assert device_of(hass, first.entry_id).via_device_id == pack.id
    assert device_of(hass, shed.entry_id).via_device_id == pack.id
    assert device_of(hass, second.entry_id).via_device_id is None


async def test_diagnostics_of_a_pack_name_its_balancers_in_order(
    hass: HomeAssistant, virtual_bus: VirtualBus, hass_client: ClientSessionGenerator
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [second, first])
    pack = hass.config_entries.async_get_entry(pack_id)
    assert pack is not None
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, pack)
    assert diagnostics["balancers"] == ["JK balancer 2", "JK balancer 1"]
    assert diagnostics["pack"]["unit_cells"] == [16, 16]
    assert len(diagnostics["pack"]["cell_voltages"]) == 32


async def test_one_balancer_given_twice_is_refused(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    """Its cells would count twice: double the voltage."""
    first, second = await setup_bus(hass, virtual_bus)
    result = await submit_pack(hass, [first.entry_id, second.entry_id] * 2)
    assert result["errors"] == {CONF_MEMBERS: "duplicate_member"}
    assert not [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.title == "Rack"
    ]


async def test_the_pack_is_back_as_soon_as_a_reloaded_balancer_is(
    hass: HomeAssistant, virtual_bus: VirtualBus, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])
    with caplog.at_level(logging.INFO):
        assert await hass.config_entries.async_reload(second.entry_id)
        await hass.async_block_till_done()
    # A reload is expected and passes: no error in the log for it.
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "figures unavailable" in caplog.text
    # No update of the balancer since it was set up again: its first counts.
    assert float(pack_state(hass, pack_id, "total_voltage")) > 80


async def test_a_deleted_balancer_is_named_and_the_pack_repaired(
    hass: HomeAssistant,
    virtual_bus: VirtualBus,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    first, second = await setup_bus(hass, virtual_bus)
    pack_id = await add_pack(hass, [first, second])
    await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done()
    assert pack_state(hass, pack_id, "total_voltage") == STATE_UNAVAILABLE
    pack = hass.config_entries.async_get_entry(pack_id)
    assert pack is not None
    coordinator = pack.runtime_data
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert str(coordinator.last_exception).startswith(
        "Rack: balancer 2 of the pack was deleted"
    )
    issue_id = f"pack_member_missing_{pack_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {"name": "Rack", "units": "2"}

    # The balancer is added again (a new entry); the repair picks it.
    again = bus_entry(virtual_bus, 2)
    again.add_to_hass(hass)
    await hass.config_entries.async_setup(again.entry_id)
    await hass.async_block_till_done()
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "members"
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}",
        json={CONF_MEMBERS: [first.entry_id, first.entry_id]},
    )
    flow = await response.json()
    assert flow["errors"] == {CONF_MEMBERS: "duplicate_member"}
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}",
        json={CONF_MEMBERS: [first.entry_id, again.entry_id]},
    )
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert pack.data[CONF_MEMBERS] == [first.entry_id, again.entry_id]
    assert float(pack_state(hass, pack_id, "total_voltage")) > 80
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
