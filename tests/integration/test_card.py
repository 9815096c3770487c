"""The cell card: served by the integration, fed with the balancer's entities."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.jk_balancer.card import CARD_URL
from custom_components.jk_balancer.const import CONF_CHEMISTRY
from tests.integration.conftest import Proxy, device_of, setup_entry


async def test_the_card_is_served_and_loaded_in_every_dashboard(
    hass: HomeAssistant, proxy: Proxy, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "frontend", {})
    await setup_entry(hass, proxy.add())
    extra = hass.data["frontend_extra_module_url"].urls
    assert any(url.startswith(f"{CARD_URL}?v=") for url in extra)
    client = await hass_client()
    response = await client.get(CARD_URL)
    assert response.status == 200
    script = await response.text()
    assert "registry.define(CARD, JKBalancerCard)" in script
    assert "window.customCards" in script


async def test_the_card_learns_which_entity_is_which(
    hass: HomeAssistant,
    proxy: Proxy,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    device = proxy.add("jk-b2a24s20p", cells=8, name="Rack")
    entry = await setup_entry(hass, device)
    balancer = device_of(hass, entry.entry_id)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "jk_balancer/device_entities", "device_id": balancer.id}
    )
    result = (await client.receive_json())["result"]
    assert result["name"] == "Rack"
    assert result["cells"] == [f"sensor.rack_voltage_cell_{n}" for n in range(1, 9)]
    roles = result["entities"]
    assert roles["balancing_status"] == "sensor.rack_balancing_status"
    assert roles["delta_cell_voltage"] == "sensor.rack_cell_voltage_difference"
    assert roles["wire_resistance_warning"] == (
        "binary_sensor.rack_wire_resistance_too_high"
    )
    # The working range the card marks: LiFePO4 cells are nearly empty below
    # 2.8 V (or 0.1 V above the power-off voltage, if higher), nearly full
    # within 50 mV of 3.6 V.
    power_off = device.settings.power_off_voltage
    assert power_off is not None
    assert result["range"] == {
        "power_off": power_off,
        "low": round(max(2.8, power_off + 0.1), 3),
        "high": 3.55,
        "full": 3.6,
    }
    assert "units" not in result
    # Another integration's device is not a balancer.
    other = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={("other", "x")}
    )
    await client.send_json_auto_id(
        {"type": "jk_balancer/device_entities", "device_id": other.id}
    )
    answer = await client.receive_json()
    assert answer["success"] is False
    assert answer["error"]["code"] == "not_found"


async def test_the_cards_range_follows_the_chosen_chemistry(
    hass: HomeAssistant, proxy: Proxy, hass_ws_client: WebSocketGenerator
) -> None:
    """NCM cells work higher: the card warns of them at other voltages."""
    device = proxy.add("jk-b2a24s20p", name="Rack")
    entry = await setup_entry(hass, device, options={CONF_CHEMISTRY: "ncm"})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "jk_balancer/device_entities",
            "device_id": device_of(hass, entry.entry_id).id,
        }
    )
    working = (await client.receive_json())["result"]["range"]
    power_off = device.settings.power_off_voltage
    assert power_off is not None
    assert working["low"] == round(max(3.3, power_off + 0.1), 3)
    assert working["full"] == 4.2
