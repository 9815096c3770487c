"""The automation blueprint that names the drifting cell."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components import automation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from custom_components.jk_balancer.const import CONF_IMBALANCE_HOLD
from tests.integration.conftest import Proxy, next_update, setup_entry

BLUEPRINT = (
    Path(__file__).resolve().parents[2]
    / "blueprints"
    / "automation"
    / "jk_balancer"
    / "cells_out_of_balance.yaml"
)


HOUSE = "binary_sensor.house_bank_cells_out_of_balance"
SHED = "binary_sensor.shed_cells_out_of_balance"
WIRE = "binary_sensor.shed_wire_resistance_too_high"


async def use_blueprint(hass: HomeAssistant, watched: list[str]) -> None:
    """An automation from the blueprint watching ``watched``."""
    folder = Path(hass.config.path("blueprints", "automation", "jk_balancer"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, folder / BLUEPRINT.name)
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "use_blueprint": {
                    "path": f"jk_balancer/{BLUEPRINT.name}",
                    "input": {"out_of_balance": watched},
                }
            }
        },
    )


def out_of_balance(name: str, **attributes: object) -> dict[str, object]:
    return {"friendly_name": f"{name} Cells out of balance", "threshold": 20.0} | (
        attributes
    )


async def test_the_blueprint_notifies_naming_the_drifting_cell(
    hass: HomeAssistant,
) -> None:
    hass.states.async_set(HOUSE, "off", out_of_balance("House bank", delta=12.0))
    await use_blueprint(hass, [HOUSE])
    notifications = async_mock_service(hass, "persistent_notification", "create")
    hass.states.async_set(
        HOUSE,
        "on",
        out_of_balance("House bank", delta=48.9, drifting_cell=7, deviation=-30.2),
    )
    await hass.async_block_till_done()
    (call,) = notifications
    assert call.data["title"] == "Battery cells out of balance"
    message = " ".join(call.data["message"].split())
    assert message.startswith(
        "House bank Cells out of balance: the cells are 48.9 mV apart, more than "
        "the 20.0 mV"
    )
    assert "Cell 7 has stayed furthest from the average (-30.2 mV)" in message


async def test_one_automation_watches_several_balancers_and_only_their_imbalance(
    hass: HomeAssistant,
) -> None:
    """Each balancer is told of on its own; a wrong pick sends no nonsense."""
    for entity_id, name in ((HOUSE, "House bank"), (SHED, "Shed")):
        hass.states.async_set(entity_id, "off", out_of_balance(name, delta=8.0))
    hass.states.async_set(WIRE, "off", {"friendly_name": "Shed Wire", "cells": []})
    await use_blueprint(hass, [HOUSE, SHED, WIRE])
    notifications = async_mock_service(hass, "persistent_notification", "create")
    # A wire problem is no imbalance: no "None mV apart".
    hass.states.async_set(WIRE, "on", {"friendly_name": "Shed Wire", "cells": [3]})
    # No cell drifts: the message does not name one.
    hass.states.async_set(SHED, "on", out_of_balance("Shed", delta=35.0))
    hass.states.async_set(
        HOUSE,
        "on",
        out_of_balance("House bank", delta=41.0, drifting_cell=7, deviation=-28.0),
    )
    await hass.async_block_till_done()
    messages = {
        call.data["notification_id"]: " ".join(call.data["message"].split())
        for call in notifications
    }
    assert set(messages) == {
        f"jk_balancer_out_of_balance_{SHED}",
        f"jk_balancer_out_of_balance_{HOUSE}",
    }
    shed = messages[f"jk_balancer_out_of_balance_{SHED}"]
    assert "35.0 mV apart" in shed
    assert "No single cell drifts away" in shed
    house = messages[f"jk_balancer_out_of_balance_{HOUSE}"]
    # The README quotes this very message (a real sensor's device is named
    # "House bank"; these bare states have only their friendly name).
    house = house.replace("House bank Cells out of balance:", "House bank:")
    readme = (BLUEPRINT.parents[3] / "README.md").read_text()
    quoted = readme.split("## Blueprint", 1)[1].split("\n> ", 1)[1].split("\n\n")[0]
    assert house == " ".join(quoted.replace("\n> ", " ").split())
    assert not any("None" in message for message in messages.values())
    # Back after a restart while still out of balance: not told again.
    hass.states.async_set(HOUSE, "unavailable", {})
    hass.states.async_set(HOUSE, "on", out_of_balance("House bank", delta=41.0))
    await hass.async_block_till_done()
    assert len(notifications) == 2


async def test_imbalance_drift_and_status_through_home_assistant(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """The blueprint fed by a real balancer's entities names its drifting cell."""
    notifications = async_mock_service(hass, "persistent_notification", "create")
    device = proxy.add("jk-b2a16s", name="House bank", drifting_cell=7)
    # Cell 7 far below the others, as a leaking cell ends up.
    device.battery.cells[6].charge -= 20.0
    await use_blueprint(hass, [HOUSE])
    await setup_entry(hass, device, options={CONF_IMBALANCE_HOLD: 0})
    await next_update(hass)
    state = hass.states.get("binary_sensor.house_bank_cells_out_of_balance")
    assert state is not None
    assert state.state == "on"
    assert state.attributes["threshold"] == 20.0  # 3 x the 5 mV trigger
    assert state.attributes["drifting_cell"] == 7
    drift = hass.states.get("sensor.house_bank_drifting_cell")
    assert drift is not None
    assert drift.state == "7"
    assert drift.attributes["deviation"] < -20
    deviation = hass.states.get("sensor.house_bank_drifting_cell_deviation")
    assert deviation is not None
    assert float(deviation.state) == drift.attributes["deviation"]
    status = hass.states.get("sensor.house_bank_balancing_status")
    assert status is not None
    assert status.attributes["options"] == [
        "balancing",
        "off",
        "within_trigger",
        "below_start_voltage",
        "wire_resistance_too_high",
        "cell_count_mismatch",
        "no_cells",
    ]
    await hass.async_block_till_done()
    (call,) = notifications
    assert call.data["message"].startswith("House bank: the cells are")
    assert "Cell 7 has stayed furthest" in call.data["message"]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_the_picker_offers_the_problem_sensors_and_never_balancing(
    hass: HomeAssistant, proxy: Proxy, entity_registry: er.EntityRegistry
) -> None:
    """The selector's filter, applied as the frontend does to a balancer's entities."""
    blueprint = load_yaml_dict(str(BLUEPRINT))
    selector = blueprint["blueprint"]["input"]["out_of_balance"]["selector"]["entity"]
    assert selector["multiple"] is True
    await setup_entry(hass, proxy.add("jk-b2a16s", name="House bank"))
    offered = set()
    for entry in er.async_entries_for_config_entry(
        entity_registry, hass.config_entries.async_entries("jk_balancer")[0].entry_id
    ):
        state = hass.states.get(entry.entity_id)
        for wanted in selector["filter"]:
            if (
                entry.platform == wanted["integration"]
                and entry.domain == wanted["domain"]
                and state is not None
                and state.attributes.get("device_class") == wanted["device_class"]
            ):
                offered.add(entry.entity_id)
    assert HOUSE in offered
    assert "binary_sensor.house_bank_balancing" not in offered
    assert all(entity_id.startswith("binary_sensor.") for entity_id in offered)
