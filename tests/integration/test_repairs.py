"""Repairs for the fault table: wire resistance and cell count."""

from __future__ import annotations

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from tests.integration.conftest import Proxy, next_update, setup_entry


async def start_fix(client, domain: str, issue_id: str) -> dict:
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": domain, "issue_id": issue_id}
    )
    assert response.status == 200
    return await response.json()


async def test_high_wire_resistance_raises_an_issue_until_fixed(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a16s", high_resistance_cell=5)
    entry = await setup_entry(hass, device)
    issue = issue_registry.async_get_issue(
        "jk_balancer", f"wire_resistance_{entry.entry_id}"
    )
    assert issue is not None
    # It names the cell, its wire's resistance and the limit.
    assert issue.translation_placeholders == {
        "name": "JK-B2A16S",
        "cells": "5: 3.00 Ω",
        "limit": "1.00",
    }
    assert not issue.is_fixable
    state = hass.states.get("binary_sensor.jk_b2a16s_wire_resistance_too_high")
    assert state is not None
    assert state.state == "on"
    assert state.attributes["cells"] == [5]
    # The user re-seats the wire.
    device.battery.cells[4].wire_resistance = 0.1
    await next_update(hass)
    assert (
        issue_registry.async_get_issue(
            "jk_balancer", f"wire_resistance_{entry.entry_id}"
        )
        is None
    )


async def test_cell_count_mismatch_can_be_fixed(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    device = proxy.add("jk-b5a24s", cells=16)
    device.change_settings(cell_count=17)
    entry = await setup_entry(hass, device)
    issue_id = f"cell_count_mismatch_{entry.entry_id}"
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "name": "JK-B5A24S",
        "setting": "17",
        "measured": "16",
    }
    state = hass.states.get("binary_sensor.jk_b5a24s_cell_count_mismatch")
    assert state is not None
    assert state.state == "on"

    client = await hass_client()
    flow = await start_fix(client, "jk_balancer", issue_id)
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"] == {"name": "JK-B5A24S", "cells": "16"}
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    assert device.settings.cell_count == 16
    await next_update(hass)
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None


async def test_fix_that_the_device_refuses(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    device = proxy.add("jk-b5a24s", cells=16)
    device.change_settings(cell_count=17)
    entry = await setup_entry(hass, device)
    device.refuse_writes()
    client = await hass_client()
    flow = await start_fix(
        client, "jk_balancer", f"cell_count_mismatch_{entry.entry_id}"
    )
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "write_failed"
    assert device.settings.cell_count == 17


async def test_mismatch_the_device_reports_without_a_clear_fix(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    """A JK02 device set to fewer cells than wired reports the mismatch itself."""
    device = proxy.add("jk-b2a24s20p", cells=16)
    device.change_settings(cell_count=15)
    entry = await setup_entry(hass, device)
    issue = issue_registry.async_get_issue(
        "jk_balancer", f"cell_count_mismatch_{entry.entry_id}"
    )
    assert issue is not None
    assert not issue.is_fixable
    assert issue.translation_key == "cell_count_mismatch_unknown"


async def test_an_ignored_repair_stays_ignored_across_reloads(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a16s", high_resistance_cell=1)
    entry = await setup_entry(hass, device)
    issue_id = f"wire_resistance_{entry.entry_id}"
    ir.async_ignore_issue(hass, "jk_balancer", issue_id, True)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.dismissed_version is not None  # still ignored


async def test_issues_go_with_the_device(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a16s", high_resistance_cell=1)
    entry = await setup_entry(hass, device)
    issue_id = f"wire_resistance_{entry.entry_id}"
    await hass.config_entries.async_unload(entry.entry_id)
    assert issue_registry.async_get_issue("jk_balancer", issue_id)
    await hass.config_entries.async_remove(entry.entry_id)
    assert not issue_registry.async_get_issue("jk_balancer", issue_id)
