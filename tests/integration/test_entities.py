"""Entities: values from the device, snapshots, and writes confirmed by read-back."""

from __future__ import annotations

from dataclasses import replace
import math
from unittest.mock import patch

import bleak_retry_connector
from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.switch import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.jk_balancer import bluetooth as bluetooth_module
from custom_components.jk_balancer.protocol import Snapshot
from custom_components.jk_balancer.protocol.model import summarize
from tests.integration.conftest import (
    Proxy,
    device_of,
    entities_as_users_see_them,
    next_update,
    setup_entry,
)


def state_value(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(
    "platform",
    [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.NUMBER, Platform.SWITCH],
)
@pytest.mark.parametrize("profile", ["jk-b2a4s", "jk-b2a24s20p"])
async def test_entities_snapshot(
    hass: HomeAssistant,
    proxy: Proxy,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
    profile: str,
) -> None:
    device = proxy.add(profile, cells=4 if profile == "jk-b2a24s20p" else None)
    with patch("custom_components.jk_balancer.PLATFORMS", [platform]):
        entry = await setup_entry(hass, device)
    assert entities_as_users_see_them(hass, entry.entry_id) == snapshot


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


async def test_device_registry_entry(
    hass: HomeAssistant, proxy: Proxy, device_registry: dr.DeviceRegistry
) -> None:
    device = proxy.add("jk-pb2a16s20p", name="Rack-1")
    config_entry = await setup_entry(hass, device)
    entry = device_of(hass, config_entry.entry_id)
    assert entry.connections == {("bluetooth", device.address)}
    assert entry.name == "Rack-1"
    assert entry.manufacturer == "Jikong (JK)"
    assert entry.model == "JK-PB2A16S20P"
    assert (entry.hw_version, entry.sw_version) == ("19A", "19.27")
    assert entry.serial_number == device.device_info().serial_number


async def test_number_writes_and_reads_back(hass: HomeAssistant, proxy: Proxy) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    entity_id = "number.jk_b2a16s_trigger_delta"
    state = hass.states.get(entity_id)
    assert state is not None
    # Shown in mV, as the manuals and the cell difference sensor speak of it.
    assert state.attributes["unit_of_measurement"] == "mV"
    assert (state.attributes["min"], state.attributes["max"]) == (1, 1000)
    assert state.attributes["step"] == 1
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: 12},
        blocking=True,
    )
    assert device.settings.balance_trigger_voltage == pytest.approx(0.012)
    assert state_value(hass, entity_id) == "12"
    # Every setting writes through to the device.
    for key, value in (
        ("start_voltage", 3.2),
        ("max_current", 1.5),
        ("power_off", 2.8),
    ):
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: f"number.jk_b2a16s_{key}", ATTR_VALUE: value},
            blocking=True,
        )
        assert float(state_value(hass, f"number.jk_b2a16s_{key}")) == value
    assert device.settings.balance_start_voltage == pytest.approx(3.2)
    assert device.settings.max_balance_current == pytest.approx(1.5)
    assert device.settings.power_off_voltage == pytest.approx(2.8)


async def test_maximum_balance_current_follows_the_model(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    await setup_entry(hass, proxy.add("jk-bd6a17s6p"))
    state = hass.states.get("number.jk_bd6a17s6p_max_current")
    assert state is not None
    assert state.attributes["max"] == 0.6


async def test_battery_capacity_and_calibration_on_a_bms(
    hass: HomeAssistant, proxy: Proxy, entity_registry: er.EntityRegistry
) -> None:
    device = proxy.add("jk-pb2a16s20p")
    await setup_entry(hass, device)
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: "number.jk_pb2a16s20p_capacity", ATTR_VALUE: 304},
        blocking=True,
    )
    assert device.settings.battery_capacity == 304
    calibration = "number.jk_pb2a16s20p_calibration"
    entity_registry.async_update_entity(calibration, disabled_by=None)
    await hass.config_entries.async_reload(
        next(iter(hass.config_entries.async_entries("jk_balancer"))).entry_id
    )
    await hass.async_block_till_done()
    measured = float(state_value(hass, calibration))
    state = hass.states.get(calibration)
    assert state is not None
    assert state.attributes["min"] < measured < state.attributes["max"]
    target = round(measured * 1.01, 2)
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: calibration, ATTR_VALUE: target},
        blocking=True,
    )
    assert float(state_value(hass, calibration)) == pytest.approx(target, rel=0.002)
    assert float(
        state_value(hass, "sensor.jk_pb2a16s20p_total_voltage")
    ) == pytest.approx(target, rel=0.002)


async def test_switch_turns_the_balancer_off_and_on(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a4s")
    await setup_entry(hass, device)
    entity_id = "switch.jk_b2a4s_balancer"
    assert state_value(hass, entity_id) == STATE_ON
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )
    assert device.settings.balancer_enabled is False
    assert state_value(hass, entity_id) == STATE_OFF
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )
    assert device.settings.balancer_enabled is True
    assert state_value(hass, entity_id) == STATE_ON


async def test_rejected_write_shows_a_translated_error_and_the_true_value(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    device.refuse_writes()
    entity_id = "number.jk_b2a16s_trigger_delta"
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: 20},
            blocking=True,
        )
    assert caught.value.translation_key == "write_not_confirmed"
    assert str(caught.value) == (
        "JK-B2A16S did not take Trigger delta = 20 mV; it still holds 5 mV"
    )
    assert state_value(hass, entity_id) == "5"


async def test_link_lost_mid_write_then_the_true_value_shows(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """The device took the write but the confirmation was cut off."""
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    device.drop_link(mid_frame=True)
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "switch",
            SERVICE_TURN_OFF,
            {ATTR_ENTITY_ID: "switch.jk_b2a16s_balancer"},
            blocking=True,
        )
    assert caught.value.translation_key == "not_connected"
    # The lost link is re-established at once and shows what the device holds.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert device.settings.balancer_enabled is False
    assert state_value(hass, "switch.jk_b2a16s_balancer") == STATE_OFF


async def test_write_gives_up_on_a_device_that_does_not_come_back(
    hass: HomeAssistant, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Bluetooth stack retries for a minute; the user waits a bounded time."""
    monkeypatch.setattr(bluetooth_module, "WRITE_CONNECT_TIMEOUT", 0.05)
    # Each of the stack's retries at a missing device waits longer than that.
    monkeypatch.setattr(bleak_retry_connector, "BLEAK_OUT_OF_SLOTS_BACKOFF_TIME", 0.1)
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    device.set_powered(False)
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {
                ATTR_ENTITY_ID: "number.jk_b2a16s_trigger_delta",
                ATTR_VALUE: 20,
            },
            blocking=True,
        )
    assert str(caught.value) == (
        "JK-B2A16S could not be reached within 0.05 s; nothing was written"
    )
    assert device.writes == []
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_write_while_the_device_is_gone_changes_nothing(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device)
    entity_id = "number.jk_b2a16s_trigger_delta"
    device.set_powered(False)
    # The entity still shows the last value while the link is being re-tried.
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: 20},
            blocking=True,
        )
    assert caught.value.translation_key == "cannot_connect"
    assert str(caught.value) == (
        "Cannot connect to JK-B2A16S: not found (switched off or out of range)"
    )
    assert device.writes == []
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_value(hass, entity_id) == "unavailable"
    device.set_powered(True)
    assert device.settings.balance_trigger_voltage == 0.005


async def test_out_of_range_write_is_a_validation_error(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    with pytest.raises(ServiceValidationError) as caught:
        await entry.runtime_data.async_write_setting("max_balance_current", 4.0)
    assert caught.value.translation_key == "value_out_of_range"
    assert str(caught.value) == (
        "4 A is outside the range of Max current (0.1 to 2 A); nothing was sent"
    )
    assert device.writes == []


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


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308])
@pytest.mark.parametrize("entity", ["trigger_delta", "power_off", "cell_count"])
async def test_non_finite_and_absurd_values_never_reach_the_device(
    hass: HomeAssistant, proxy: Proxy, entity: str, value: float
) -> None:
    device = proxy.add("jk-b2a16s")
    await setup_entry(hass, device, options={"connection_mode": "per_update"})
    attempts, received = proxy.radio.connection_attempts, len(device.received)
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            "number",
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: f"number.jk_b2a16s_{entity}", ATTR_VALUE: value},
            blocking=True,
        )
    # Home Assistant's own range check stops infinities; NaN compares as
    # nothing and gets through it, to be refused by the protocol layer.
    if math.isnan(value):
        assert caught.value.translation_key == "value_out_of_range"
        assert "nothing was sent" in str(caught.value)
    else:
        assert caught.value.translation_key in {"out_of_range", "value_out_of_range"}
    # Nothing was connected for it, let alone sent.
    assert proxy.radio.connection_attempts == attempts
    assert len(device.received) == received


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
