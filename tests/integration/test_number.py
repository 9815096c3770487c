"""Numbers: each setting written, confirmed by read-back, and refused clearly
(out of range, not finite, the device gone) with nothing sent.
"""

from __future__ import annotations

import math

import bleak_retry_connector
from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.const import (
    ATTR_ENTITY_ID,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from syrupy.assertion import SnapshotAssertion

from custom_components.jk_balancer import bluetooth as bluetooth_module
from tests.integration.conftest import (
    Proxy,
    platform_entities,
    setup_entry,
    state_value,
)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("profile", ["jk-b2a4s", "jk-b2a24s20p"])
async def test_snapshot(
    hass: HomeAssistant, proxy: Proxy, snapshot: SnapshotAssertion, profile: str
) -> None:
    """Every number of a JK04 balancer and a JK BMS, as users see it."""
    assert await platform_entities(hass, proxy, Platform.NUMBER, profile) == snapshot


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
