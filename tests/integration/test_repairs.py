"""Repairs for the fault table: wire resistance and cell count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import CONF_CHEMISTRY
from tests.integration.conftest import (
    Proxy,
    next_update,
    set_value,
    setup_entry,
    start_fix,
)


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
    assert flow["description_placeholders"] == {
        "name": "JK-B5A24S",
        "cells": "16",
        "setting": "17",
        "measured": "16",
    }
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


async def test_the_cell_count_fix_writes_nothing_once_the_fault_is_gone(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A loose lead: 15 of 16 cells answer, then the lead is re-seated."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    loose = device.battery.cells.pop()
    await next_update(hass)
    issue_id = f"cell_count_mismatch_{entry.entry_id}"
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.translation_placeholders["measured"] == "15"
    client = await hass_client()
    flow = await start_fix(client, "jk_balancer", issue_id)
    assert flow["description_placeholders"]["cells"] == "15"
    # Re-seated while the dialog is open: 16 cells answer again.
    device.battery.cells.append(loose)
    await next_update(hass)
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "already_fixed"
    assert device.settings.cell_count == 16
    assert device.writes == []


async def test_a_mistyped_cell_count_leaves_no_confirm_repair_behind(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    issue_id = f"confirm_cell_count_{entry.entry_id}"
    with pytest.raises(ServiceValidationError):
        await set_value(hass, "number.jk_b2a16s_cell_count", 15)  # a typo
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is not None
    await set_value(hass, "number.jk_b2a16s_cell_count", 16)  # corrected
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None


async def test_an_ignored_repair_stays_ignored_when_its_fault_goes_and_returns(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_storage: dict[str, Any],
) -> None:
    device = proxy.add("jk-b2a16s", high_resistance_cell=1)
    entry = await setup_entry(hass, device)
    issue_id = f"wire_resistance_{entry.entry_id}"
    ir.async_ignore_issue(hass, "jk_balancer", issue_id, True)
    wire = device.battery.cells[0]
    resistance = wire.wire_resistance
    wire.wire_resistance = 0.1  # fine for a while
    await next_update(hass)
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None
    # Remembered in storage, for a restart while the fault is gone.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    assert issue_id in hass_storage["jk_balancer.ignored_issues"]["data"]["issues"]
    wire.wire_resistance = resistance  # and loose again
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.dismissed_version is not None
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.dismissed_version is not None
    # Un-ignored by the user: then it is shown the next time the fault returns.
    ir.async_ignore_issue(hass, "jk_balancer", issue_id, False)
    wire.wire_resistance = 0.1
    await next_update(hass)
    wire.wire_resistance = resistance
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.dismissed_version is None


async def test_a_cell_near_power_off_and_a_severe_spread_raise_repairs(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    """Seen in the development instance: cell 7 at 2.58 V, power-off 2.5 V."""
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device, options={CONF_CHEMISTRY: "lfp"})
    cell = device.battery.cells[6]
    charge = cell.charge
    cell.charge = 0.008 * device.battery.capacity  # 2.58 V on LiFePO4
    await next_update(hass)
    low = issue_registry.async_get_issue("jk_balancer", f"low_cell_{entry.entry_id}")
    assert low is not None
    assert low.translation_placeholders == {
        "name": "JK-B2A16S",
        "cell": "7",
        "voltage": "2.580",
        "threshold": "2.8",
        "limit": "2.5",
        "chemistry": "LFP",
    }
    spread = issue_registry.async_get_issue(
        "jk_balancer", f"severe_spread_{entry.entry_id}"
    )
    assert spread is not None
    assert spread.translation_placeholders["lowest_cell"] == "7"
    assert spread.translation_placeholders["limit"] == "200"
    # Charged: both clear.
    cell.charge = charge
    await next_update(hass)
    for kind in ("low_cell", "severe_spread"):
        assert (
            issue_registry.async_get_issue("jk_balancer", f"{kind}_{entry.entry_id}")
            is None
        )


async def test_the_low_cell_threshold_follows_the_chosen_chemistry(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    """3.2 V is a healthy LiFePO4 cell, and a nearly empty NCM one."""
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device, options={CONF_CHEMISTRY: "lfp"})
    for cell in device.battery.cells:
        cell.charge = 0.1 * device.battery.capacity  # 3.20 V
    device.change_settings(power_off_voltage=2.8)
    await next_update(hass)
    issue_id = f"low_cell_{entry.entry_id}"
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None
    hass.config_entries.async_update_entry(entry, options={CONF_CHEMISTRY: "ncm"})
    await hass.async_block_till_done()
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.translation_placeholders["threshold"] == "3.3"
    assert issue.translation_placeholders["chemistry"] == "NCM"
