"""The Energy dashboard takes a JK BMS's energy sensors as battery storage."""

from __future__ import annotations

from typing import Any

from homeassistant.components.energy import data as energy_data
from homeassistant.components.energy.validate import async_validate
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from tests.integration.conftest import CHARGED, DISCHARGED, Proxy, bms


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_db_url: str, enable_custom_integrations: None
) -> None:
    """The recorder's database first: it must exist before Home Assistant starts."""


async def test_the_energy_dashboard_takes_them_as_battery_storage(
    recorder_mock: Any, hass: HomeAssistant, proxy: Proxy
) -> None:
    await bms(hass, proxy)
    assert await async_setup_component(hass, "energy", {})
    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "battery",
                    "stat_energy_from": DISCHARGED,
                    "stat_energy_to": CHARGED,
                }
            ]
        }
    )
    await async_wait_recording_done(hass)
    validation = await async_validate(hass)
    # Statistics are compiled hourly: until then none are defined, nothing else.
    issues = {
        kind
        for source in validation.energy_sources
        for kind in source.issues
        if kind != "statistics_not_defined"
    }
    assert issues == set()
    assert len(validation.energy_sources) == 1
