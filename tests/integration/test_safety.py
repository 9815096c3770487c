"""Settings that would do harm are refused before anything is sent."""

from __future__ import annotations

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import CONF_CHEMISTRY
from jk_emulator import BluetoothBalancer
from tests.integration.conftest import Proxy, setup_entry


async def set_value(hass: HomeAssistant, entity_id: str, value: float) -> None:
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value},
        blocking=True,
    )


async def refused(
    hass: HomeAssistant,
    proxy: Proxy,
    device: BluetoothBalancer,
    entity_id: str,
    value: float,
) -> ServiceValidationError:
    """Set ``value``, expect the refusal; nothing connected for it or sent."""
    attempts, received = proxy.radio.connection_attempts, len(device.received)
    with pytest.raises(ServiceValidationError) as caught:
        await set_value(hass, entity_id, value)
    assert proxy.radio.connection_attempts == attempts
    assert len(device.received) == received
    assert device.writes == []
    return caught.value


async def test_a_power_off_voltage_above_every_cell_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """On a real balancer it would switch itself off, radio and all."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    lowest = min(device.last_measurement.cell_voltages)  # type: ignore[union-attr]
    for value in (round(lowest + 0.1, 2), round(lowest, 3)):
        error = await refused(hass, proxy, device, "number.jk_b2a16s_power_off", value)
        assert error.translation_key == "power_off_at_cells"
        assert "could not switch it on again" in str(error)
    assert device.settings.power_off_voltage == 2.5
    # Below the lowest cell it is written and confirmed.
    await set_value(hass, "number.jk_b2a16s_power_off", 2.8)
    assert device.settings.power_off_voltage == pytest.approx(2.8)


async def test_a_power_off_voltage_without_cells_to_compare_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a24s20p")
    device.unplug_balance_leads()
    await setup_entry(hass, device)
    error = await refused(hass, proxy, device, "number.jk_b2a24s20p_power_off", 2.8)
    assert error.translation_key == "power_off_without_cells"


async def test_a_start_voltage_the_chemistry_never_reaches_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s")  # LiFePO4 cells at about 3.33 V
    entry = await setup_entry(hass, device)
    error = await refused(hass, proxy, device, "number.jk_b2a16s_start_voltage", 3.8)
    assert error.translation_key == "start_voltage_unreachable"
    assert error.translation_placeholders["chemistry"] == "LFP"
    # The user says the pack is NCM: then 3.8 V is reachable.
    hass.config_entries.async_update_entry(entry, options={CONF_CHEMISTRY: "ncm"})
    await hass.async_block_till_done()
    await set_value(hass, "number.jk_b2a16s_start_voltage", 3.8)
    assert device.settings.balance_start_voltage == pytest.approx(3.8)


async def test_fewer_cells_than_connected_only_after_confirming_the_repair(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    error = await refused(hass, proxy, device, "number.jk_b2a16s_cell_count", 14)
    assert error.translation_key == "cell_count_below_connected"
    assert "confirm the change under Settings" in str(error)
    issue_id = f"confirm_cell_count_{entry.entry_id}"
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders == {
        "name": "JK-B2A16S",
        "cells": "14",
        "connected": "16",
    }
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": "jk_balancer", "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    assert device.settings.cell_count == 14
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None
