"""Settings that would do harm are refused before anything is sent."""

from __future__ import annotations

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import CONF_CHEMISTRY
from jk_emulator import BluetoothBalancer
from tests.integration.conftest import Proxy, set_value, setup_entry


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


async def test_a_power_off_voltage_within_a_loaded_packs_sag_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """10 mV under the lowest resting cell: the first load would switch it off."""
    device = proxy.add("jk-b2a16s")
    for cell in device.battery.cells:
        cell.charge = 0.06 * device.battery.capacity  # LiFePO4 near empty, 3.04 V
    await setup_entry(hass, device)
    lowest = min(device.last_measurement.cell_voltages)  # type: ignore[union-attr]
    assert lowest == pytest.approx(3.04)
    for value in (2.95, 3.0):  # within 0.1 V (above 3 V, LFP's limit refuses)
        error = await refused(hass, proxy, device, "number.jk_b2a16s_power_off", value)
        assert error.translation_key == "power_off_at_cells"
        assert str(error) == (
            f"A power-off voltage of {value:g} V is within 0.1 V of the lowest cell "
            "(3.040 V): under load the pack sags that far, the balancer would switch "
            "itself off, and its Bluetooth with it, so Home Assistant could not "
            "switch it on again. Nothing was sent; 2.94 V or lower can be set now"
        )
    assert device.settings.power_off_voltage == 2.5
    # With the margin it is written and confirmed.
    await set_value(hass, "number.jk_b2a16s_power_off", 2.94)
    assert device.settings.power_off_voltage == pytest.approx(2.94)


async def test_a_power_off_voltage_an_lfp_pack_does_not_need_is_refused(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """3.2 V on LiFePO4 cuts the pack off at its next discharge."""
    device = proxy.add("jk-b2a16s")  # LiFePO4 cells at about 3.3 V
    entry = await setup_entry(hass, device, options={CONF_CHEMISTRY: "lfp"})
    error = await refused(hass, proxy, device, "number.jk_b2a16s_power_off", 3.2)
    assert error.translation_key == "power_off_above_chemistry"
    assert str(error) == (
        "A power-off voltage of 3.2 V is above 3 V, where LFP cells still hold much "
        "of their charge: the balancer would cut the pack off at its next "
        "discharge. Nothing was sent; 2.5 V is usual for LFP"
    )
    # Going by the cells, the message says where the chemistry is set.
    hass.config_entries.async_update_entry(entry, options={})
    await hass.async_block_till_done()
    error = await refused(hass, proxy, device, "number.jk_b2a16s_power_off", 3.2)
    assert error.translation_key == "power_off_above_inferred_chemistry"
    assert "set it in the options" in str(error)


@pytest.mark.parametrize(
    ("entity_id", "value", "message"),
    [
        (
            "number.jk_b2a16s_max_current",
            0.15,
            "Max current is set in steps of 0.1 A: 0.15 A lies between "
            "0.1 A and 0.2 A. Nothing was sent; choose one of them",
        ),
        (
            "number.jk_b2a16s_cell_count",
            15.5,
            "Cell count is set in steps of 1: 15.5 lies between 15 and 16. Nothing "
            "was sent; choose one of them",
        ),
    ],
)
async def test_a_value_between_steps_is_refused_naming_the_steps_either_side(
    hass: HomeAssistant, proxy: Proxy, entity_id: str, value: float, message: str
) -> None:
    """Nothing else than what the user asked is written."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    error = await refused(hass, proxy, device, entity_id, value)
    assert error.translation_key == "value_between_steps"
    assert str(error) == message


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
