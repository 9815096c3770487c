"""The pack's chemistry as owners meet it: warnings, refusals, options and a repair.

Left automatic, the chemistry follows the cells of every frame and only ever
narrows: a healthy LiFePO4 pack at the top of its charge, with a runner cell
above 3.65 V, is not taken for NCM.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import CONF_CHEMISTRY
from custom_components.jk_balancer.coordinator import BalancerCoordinator
from custom_components.jk_balancer.protocol import Chemistry
from jk_emulator import BluetoothBalancer
from tests.integration.conftest import (
    Proxy,
    next_update,
    set_value,
    setup_entry,
    start_fix,
)

# Sixteen LiFePO4 cells at the end of a charge: a runner at 3.80 V, a
# lagging cell at 3.25 V, the others at 3.45 V.
TOP_OF_CHARGE = [3.45] * 14 + [3.80, 3.25]


def measure_as(device: BluetoothBalancer, voltages: list[float]) -> None:
    """From now on the device measures ``voltages``."""
    frame = replace(device.measure(), cell_voltages=voltages)
    device.measure = lambda: frame  # type: ignore[method-assign]


def coordinator_of(entry: Any) -> BalancerCoordinator:
    coordinator = entry.runtime_data
    assert isinstance(coordinator, BalancerCoordinator)
    return coordinator


async def test_an_lfp_pack_at_the_top_of_charge_is_not_taken_for_ncm(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    device = proxy.add("jk-b2a16s")
    measure_as(device, TOP_OF_CHARGE)
    entry = await setup_entry(hass, device)
    for _ in range(3):
        await next_update(hass)
    # No "nearly empty" for the lagging cell at 3.25 V (NCM would warn at 3.3).
    assert (
        issue_registry.async_get_issue("jk_balancer", f"low_cell_{entry.entry_id}")
        is None
    )
    # The power-off guard stays LiFePO4's: 3.2 V would cut a charged pack off.
    with pytest.raises(ServiceValidationError) as caught:
        await set_value(hass, "number.jk_b2a16s_power_off", 3.2)
    assert caught.value.translation_key == "power_off_above_inferred_chemistry"
    assert caught.value.translation_placeholders["chemistry"] == "LFP"
    assert device.writes == []
    # The options and the diagnostics say what the cells leave open.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["description_placeholders"]["detected"] == "LFP/NCM"
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["chemistry"]["candidates"] == ["lfp", "ncm"]
    assert diagnostics["chemistry"]["ruled_out_by_the_cells"] == ["lto"]


async def test_an_lfp_pack_added_nearly_empty_is_warned_at_once(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    """Cells near 2.9 V leave LTO a candidate (its full end) for the hold time,
    but they are beyond a healthy LTO pack: a cell sinking below 2.8 V is
    warned as nearly empty for LiFePO4, while the power-off guard stays LTO's."""
    device = proxy.add("jk-b2a4s")
    measure_as(device, [2.92, 2.75, 2.91, 2.89])
    entry = await setup_entry(hass, device)
    await next_update(hass)
    chemistry = coordinator_of(entry).care.pack_chemistry
    assert Chemistry.LTO in chemistry.candidates
    low = issue_registry.async_get_issue("jk_balancer", f"low_cell_{entry.entry_id}")
    assert low is not None
    assert low.translation_placeholders["chemistry"] == "LFP"
    with pytest.raises(ServiceValidationError) as caught:
        await set_value(hass, "number.jk_b2a4s_power_off", 2.5)
    assert caught.value.translation_placeholders["chemistry"] == "LTO"
    assert device.writes == []


async def test_what_the_cells_ruled_out_is_kept_across_a_reload(
    hass: HomeAssistant, proxy: Proxy, issue_registry: ir.IssueRegistry
) -> None:
    device = proxy.add("jk-b2a16s")
    measure_as(device, [4.05] * 16)  # NCM well charged
    entry = await setup_entry(hass, device)
    assert coordinator_of(entry).care.pack_chemistry.known is not None
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    measure_as(device, [3.25] * 16)  # nearly empty NCM, a healthy LiFePO4
    await next_update(hass)
    assert coordinator_of(entry).care.pack_chemistry.name == "NCM"
    low = issue_registry.async_get_issue("jk_balancer", f"low_cell_{entry.entry_id}")
    assert low is not None
    assert low.translation_placeholders["chemistry"] == "NCM"


async def test_cells_that_contradict_the_chosen_chemistry_offer_the_one_they_fit(
    hass: HomeAssistant,
    proxy: Proxy,
    issue_registry: ir.IssueRegistry,
    hass_client: ClientSessionGenerator,
) -> None:
    device = proxy.add("jk-b2a16s")
    measure_as(device, [3.95] * 16)
    entry = await setup_entry(hass, device, options={CONF_CHEMISTRY: "lfp"})
    issue_id = f"chemistry_contradicted_{entry.entry_id}"
    coordinator_of(entry).care.chemistry_watch.hold = 0.0
    await next_update(hass)
    await next_update(hass)
    issue = issue_registry.async_get_issue("jk_balancer", issue_id)
    assert issue is not None
    assert issue.translation_placeholders["chemistry"] == "LFP"
    assert issue.translation_placeholders["fits"] == "NCM"
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    client = await hass_client()
    flow = await start_fix(client, "jk_balancer", issue_id)
    assert flow["step_id"] == "confirm"
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}", json={CONF_CHEMISTRY: "ncm"}
    )
    assert response.status == 200
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert entry.options[CONF_CHEMISTRY] == "ncm"
    await next_update(hass)
    assert issue_registry.async_get_issue("jk_balancer", issue_id) is None
