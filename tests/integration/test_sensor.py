"""Sensors: every cell and figure as the device measures it, shown (not hidden)
when cells are missing, and a named cell that does not hop.
"""

from __future__ import annotations

from dataclasses import replace

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.jk_balancer.protocol import Snapshot
from custom_components.jk_balancer.protocol.model import summarize
from tests.integration.conftest import (
    Proxy,
    next_update,
    platform_entities,
    setup_entry,
    state_value,
)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("profile", ["jk-b2a4s", "jk-b2a24s20p"])
async def test_snapshot(
    hass: HomeAssistant, proxy: Proxy, snapshot: SnapshotAssertion, profile: str
) -> None:
    """Every sensor of a JK04 balancer and a JK BMS, as users see it."""
    assert await platform_entities(hass, proxy, Platform.SENSOR, profile) == snapshot


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensor_values_match_the_device(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a24s20p", cells=8)
    await setup_entry(hass, device)
    measured = device.last_measurement
    assert measured is not None
    for cell, voltage in enumerate(measured.cell_voltages, 1):
        assert (
            float(state_value(hass, f"sensor.jk_b2a24s20p_voltage_cell_{cell}"))
            == voltage
        )
    for cell, resistance in enumerate(measured.cell_resistances, 1):
        entity_id = f"sensor.jk_b2a24s20p_wire_resistance_cell_{cell}"
        assert float(state_value(hass, entity_id)) == resistance
    assert hass.states.get("sensor.jk_b2a24s20p_voltage_cell_9") is None
    total = float(state_value(hass, "sensor.jk_b2a24s20p_total_voltage"))
    assert total == pytest.approx(sum(measured.cell_voltages), abs=1e-3)
    delta_mv = float(state_value(hass, "sensor.jk_b2a24s20p_cell_voltage_difference"))
    expected = (max(measured.cell_voltages) - min(measured.cell_voltages)) * 1000
    assert delta_mv == pytest.approx(expected, abs=1)
    highest = measured.cell_voltages.index(max(measured.cell_voltages)) + 1
    assert state_value(hass, "sensor.jk_b2a24s20p_cell_with_maximum_voltage") == str(
        highest
    )
    assert state_value(hass, "binary_sensor.jk_b2a24s20p_balancing") == (
        STATE_ON if measured.balancing else STATE_OFF
    )
    # JK BMS values.
    assert float(state_value(hass, "sensor.jk_b2a24s20p_temperature_1")) == 24.0
    assert state_value(hass, "sensor.jk_b2a24s20p_state_of_charge") != "unknown"
    assert state_value(hass, "binary_sensor.jk_b2a24s20p_device_errors") == STATE_OFF


async def test_balancer_only_devices_have_no_bms_entities(
    hass: HomeAssistant, proxy: Proxy, entity_registry: er.EntityRegistry
) -> None:
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    keys = {
        entity.unique_id.removeprefix(f"{device.address}-")
        for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert not keys & {
        "current",
        "power",
        "state_of_charge",
        "cycle_count",
        "device_errors",
    }
    assert not keys & {"temperature_sensor_1", "battery_capacity"}
    assert {"balancer_enabled", "balance_trigger_voltage", "cell_voltage_16"} <= keys
    # Signal strength is there but disabled until the user wants it.
    rssi = entity_registry.async_get_entity_id(
        "sensor", "jk_balancer", f"{device.address}-rssi"
    )
    assert rssi is not None
    registry_entry = entity_registry.async_get(rssi)
    assert registry_entry is not None
    assert registry_entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_cell_sensors_follow_the_cell_count(
    hass: HomeAssistant,
    proxy: Proxy,
    entity_registry: er.EntityRegistry,
) -> None:
    device = proxy.add("jk-b5a24s", cells=16)
    entry = await setup_entry(hass, device)
    assert hass.states.get("sensor.jk_b5a24s_voltage_cell_16") is not None
    # Fewer cells than are connected: as after rewiring, confirmed.
    await entry.runtime_data.async_write_setting(
        "cell_count", 14, fewer_cells_confirmed=True
    )
    await next_update(hass)
    assert hass.states.get("sensor.jk_b5a24s_voltage_cell_14") is not None
    assert hass.states.get("sensor.jk_b5a24s_voltage_cell_15") is None
    assert (
        entity_registry.async_get_entity_id(
            "sensor", "jk_balancer", f"{device.address}-cell_voltage_15"
        )
        is None
    )
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.jk_b5a24s_cell_count", ATTR_VALUE: 16},
        blocking=True,
    )
    await next_update(hass)
    assert hass.states.get("sensor.jk_b5a24s_voltage_cell_16") is not None


@pytest.mark.parametrize("profile", ["jk-b2a16s", "jk-pb2a16s20p"])
async def test_a_balancer_measuring_no_cells_is_shown_not_hidden(
    hass: HomeAssistant,
    proxy: Proxy,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    profile: str,
) -> None:
    device = proxy.add(profile)
    entry = await setup_entry(hass, device)
    prefix = profile.replace("-", "_")
    device.unplug_balance_leads()
    await next_update(hass)
    # The device is there: what it still measures is published ...
    assert state_value(hass, f"sensor.{prefix}_total_runtime") != STATE_UNAVAILABLE
    assert state_value(hass, f"binary_sensor.{prefix}_cell_count_mismatch") == STATE_ON
    # ... the cells it does not measure are unavailable, not removed.
    for key in ("voltage_cell_1", "voltage_cell_16", "cell_voltage_difference"):
        assert state_value(hass, f"sensor.{prefix}_{key}") == STATE_UNAVAILABLE, key
    assert entity_registry.async_get_entity_id(
        "sensor", "jk_balancer", f"{device.address}-cell_voltage_16"
    )
    issue = issue_registry.async_get_issue(
        "jk_balancer", f"cell_count_mismatch_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "no_cells"
    assert not issue.is_fixable  # setting 0 cells would fix nothing
    device.unplug_balance_leads(False)
    await next_update(hass)
    assert state_value(hass, f"sensor.{prefix}_voltage_cell_16") != STATE_UNAVAILABLE
    assert (
        issue_registry.async_get_issue(
            "jk_balancer", f"cell_count_mismatch_{entry.entry_id}"
        )
        is None
    )


async def test_a_balancer_first_seen_without_cells_gets_its_cell_sensors(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a24s20p", cells=8)
    device.unplug_balance_leads()
    await setup_entry(hass, device)
    # As many as its cell-count setting says, unavailable until measured.
    assert state_value(hass, "sensor.jk_b2a24s20p_voltage_cell_8") == (
        STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.jk_b2a24s20p_voltage_cell_9") is None
    device.unplug_balance_leads(False)
    await next_update(hass)
    assert state_value(hass, "sensor.jk_b2a24s20p_voltage_cell_8") != (
        STATE_UNAVAILABLE
    )


def with_cells(snapshot: Snapshot, cells: tuple[float, ...]) -> Snapshot:
    """The snapshot measuring ``cells``, its figures derived from them."""
    (average, delta, lowest, highest, low_cell, high_cell) = summarize(cells, 3)
    return replace(
        snapshot,
        cell_info=snapshot.cell_info._replace(
            cell_voltages=cells,
            average_cell_voltage=average,
            delta_cell_voltage=delta,
            min_cell_voltage=lowest,
            max_cell_voltage=highest,
            min_voltage_cell=low_cell,
            max_voltage_cell=high_cell,
        ),
    )


async def test_the_cell_named_lowest_stays_while_another_ties_it(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Tied cells do not make the sensor hop (nor fill history and logbook)."""
    device = proxy.add("jk-b2a4s")
    entry = await setup_entry(hass, device, options={"connection_mode": "per_update"})
    coordinator = entry.runtime_data
    lowest = "sensor.jk_b2a4s_cell_with_minimum_voltage"
    highest = "sensor.jk_b2a4s_cell_with_maximum_voltage"
    seen: list[tuple[str, str]] = []
    for cells in (
        (3.300, 3.310, 3.350, 3.320),  # cell 1 lowest
        (3.300, 3.300, 3.350, 3.350),  # cell 2 ties it; cell 4 ties the highest
        (3.305, 3.300, 3.350, 3.350),  # cell 1 rose: cell 2 is lowest
        (3.300, 3.300, 3.340, 3.350),  # cell 1 ties again; cell 4 alone highest
    ):
        coordinator.async_set_updated_data(with_cells(coordinator.data, cells))
        seen.append((state_value(hass, lowest), state_value(hass, highest)))
    assert seen == [("1", "3"), ("1", "3"), ("2", "3"), ("2", "4")]
    # Which cell is no measurement: history draws a timeline, statistics none.
    for entity_id in (lowest, highest, "sensor.jk_b2a4s_drifting_cell"):
        state = hass.states.get(entity_id)
        assert state is not None
        assert "state_class" not in state.attributes
        assert "unit_of_measurement" not in state.attributes


async def test_no_cell_is_named_drifting_within_the_trigger(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """A healthy pack: some cell is furthest, but none drifts."""
    device = proxy.add("jk-b2a16s", spread=0.001)
    await setup_entry(hass, device)
    await next_update(hass)
    assert state_value(hass, "sensor.jk_b2a16s_drifting_cell") == "none"
    problem = hass.states.get("binary_sensor.jk_b2a16s_cells_out_of_balance")
    assert problem is not None
    assert problem.attributes["drifting_cell"] is None
    # How far the furthest cell is stays shown, a few mV within the trigger.
    deviation = float(state_value(hass, "sensor.jk_b2a16s_drifting_cell_deviation"))
    assert abs(deviation) < device.settings.balance_trigger_voltage * 1000
