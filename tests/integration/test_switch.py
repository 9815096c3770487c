"""Switches: the balancer turned off and on, confirmed by the device, also when
the link drops mid-write.
"""

from __future__ import annotations

from homeassistant.components.switch import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from syrupy.assertion import SnapshotAssertion

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
    """Every switch of a JK04 balancer and a JK BMS, as users see it."""
    assert await platform_entities(hass, proxy, Platform.SWITCH, profile) == snapshot


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
