"""A frame layout chosen under Reconfigure that the frames do not fit is said aloud."""

from __future__ import annotations

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import CONF_PROTOCOL, DOMAIN, PROTOCOL_AUTO
from tests.integration.conftest import Proxy, setup_entry, start_fix


async def test_a_32_cell_layout_bms_forced_to_jk02_24s_gets_a_fixable_repair(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    entity_registry: er.EntityRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The ESPHome component's owners ask for exactly this warning."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    device = proxy.add("jk-pb2a16s20p")
    entry = await setup_entry(hass, device, protocol="jk02_24s")
    # Nothing decoded with the wrong layout is shown: there is nothing at all.
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    assert "fit the JK02_32S layout, not JK02_24S" in str(entry.reason)
    issue_id = f"layout_mismatch_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {
        "name": "JK-PB2A16S20P",
        "layout": "JK02_24S",
        "fits": "JK02_32S",
    }

    client = await hass_client()
    flow = await start_fix(client, DOMAIN, issue_id)
    assert flow["step_id"] == "confirm"
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.data[CONF_PROTOCOL] == PROTOCOL_AUTO
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.data.protocol.value == "JK02_32S"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    state = hass.states.get("sensor.jk_pb2a16s20p_total_voltage")
    assert state is not None
    assert float(state.state) > 50


async def test_a_layout_chosen_again_that_fits_clears_the_repair(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a24s20p")
    entry = await setup_entry(hass, device, protocol="jk02_32s")
    issue_id = f"layout_mismatch_{entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    # Under Reconfigure the owner picks the layout the repair named.
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_PROTOCOL: "jk02_24s"}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_the_fix_of_an_entry_set_to_automatic_meanwhile_changes_nothing(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    entry = await setup_entry(hass, proxy.add("jk-pb2a16s20p"), protocol="jk02_24s")
    issue_id = f"layout_mismatch_{entry.entry_id}"
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_PROTOCOL: PROTOCOL_AUTO}
    )
    client = await hass_client()
    flow = await start_fix(client, DOMAIN, issue_id)
    assert flow["type"] == "abort"
    assert flow["reason"] == "already_automatic"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_device_out_of_range_raises_no_layout_repair(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-pb2a16s20p")
    device.set_powered(False)
    entry = await setup_entry(hass, device, protocol="jk02_32s")
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert not [i for i in issue_registry.issues.values() if i.domain == DOMAIN]
