"""The automation blueprint that names the drifting cell."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.components import automation
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
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


async def test_the_blueprint_notifies_naming_the_drifting_cell(
    hass: HomeAssistant,
) -> None:
    folder = Path(hass.config.path("blueprints", "automation", "jk_balancer"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, folder / BLUEPRINT.name)
    hass.states.async_set(
        "binary_sensor.house_bank_cells_out_of_balance",
        "off",
        {"friendly_name": "House bank Cells out of balance", "delta": 12.0},
    )
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "use_blueprint": {
                    "path": f"jk_balancer/{BLUEPRINT.name}",
                    "input": {
                        "out_of_balance": (
                            "binary_sensor.house_bank_cells_out_of_balance"
                        ),
                    },
                }
            }
        },
    )
    notifications = async_mock_service(hass, "persistent_notification", "create")
    hass.states.async_set(
        "binary_sensor.house_bank_cells_out_of_balance",
        "on",
        {
            "friendly_name": "House bank Cells out of balance",
            "delta": 48.9,
            "drifting_cell": 7,
            "deviation": -30.2,
        },
    )
    await hass.async_block_till_done()
    (call,) = notifications
    assert call.data["title"] == "Battery cells out of balance"
    message = " ".join(call.data["message"].split())
    assert message.startswith("House bank Cells out of balance: the cells are 48.9 mV")
    assert "Cell 7 has stayed furthest from the average (-30.2 mV)" in message


async def test_imbalance_drift_and_status_through_home_assistant(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """The blueprint fed by a real balancer's entities names its drifting cell."""
    folder = Path(hass.config.path("blueprints", "automation", "jk_balancer"))
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, folder / BLUEPRINT.name)
    notifications = async_mock_service(hass, "persistent_notification", "create")
    device = proxy.add("jk-b2a16s", name="House bank", drifting_cell=7)
    # Cell 7 far below the others, as a leaking cell ends up.
    device.battery.cells[6].charge -= 20.0
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: {
                "use_blueprint": {
                    "path": f"jk_balancer/{BLUEPRINT.name}",
                    "input": {
                        "out_of_balance": (
                            "binary_sensor.house_bank_cells_out_of_balance"
                        ),
                    },
                }
            }
        },
    )
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
