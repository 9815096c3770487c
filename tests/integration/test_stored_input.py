"""What Home Assistant stored is input like a frame: checked, never a traceback.

Entries and options may have been edited by hand, restored from an old backup
or written by another version. What cannot be used is replaced by its default
with a warning, or, where nothing can stand in for it (where the balancer is
reached), set-up says so in words.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ConfigEntryError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_MEMBERS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    DOMAIN,
)
from custom_components.jk_balancer.coordinator import BalancerCoordinator
from jk_emulator import VirtualBus
from tests.integration.conftest import Proxy, bus_entry, config_entry, setup_entry


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors logged with a traceback of anything but a set-up refused in words.

    Home Assistant logs a refused set-up (ConfigEntryError) with its own
    traceback; any other is a failure the user should never meet.
    """
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR
        and record.exc_info
        and not isinstance(record.exc_info[1], ConfigEntryError)
    ]


ODD_OPTIONS = {
    "an interval of text": {"update_interval": "soon"},
    "an interval of NaN": {"update_interval": float("nan")},
    "an interval of a day": {"update_interval": 86_400},
    "a mode that is none": {"connection_mode": "sometimes"},
    "a mode that is a list": {"connection_mode": ["persistent"]},
    "a chemistry that is none": {"chemistry": "lead-acid"},
    "a threshold below zero": {"imbalance_threshold": -5},
    "a hold that is true": {"imbalance_hold": True},
}


@pytest.mark.parametrize("options", ODD_OPTIONS.values(), ids=ODD_OPTIONS)
async def test_options_that_cannot_be_used_are_the_defaults_with_a_warning(
    hass: HomeAssistant,
    proxy: Proxy,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
) -> None:
    device = proxy.add("jk-b2a16s")
    with caplog.at_level(logging.WARNING, "custom_components.jk_balancer"):
        entry = await setup_entry(hass, device, options=options)
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert isinstance(coordinator, BalancerCoordinator)
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 30
    assert "stored options that cannot be used" in caplog.text
    # The options dialog opens on usable values, and saving fixes them.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM


ODD_DATA: dict[str, dict[str, Any]] = {
    "no bus address": {
        CONF_TRANSPORT: "rs485",
        CONF_SERIAL_PORT: "/dev/ttyUSB0",
        CONF_BUS_ADDRESS: None,
    },
    "an address off the bus": {
        CONF_TRANSPORT: "rs485",
        CONF_SERIAL_PORT: "/dev/ttyUSB0",
        CONF_BUS_ADDRESS: 99,
    },
    "a port with a NUL": {
        CONF_TRANSPORT: "rs485",
        CONF_SERIAL_PORT: "/dev/tty\x00USB0",
        CONF_BUS_ADDRESS: 1,
    },
    "no password": {CONF_ADDRESS: "C8:47:80:12:34:01", CONF_PASSWORD: None},
    "a transport that is none": {CONF_TRANSPORT: "carrier pigeon"},
    "pack members that are no list": {CONF_TRANSPORT: "pack", CONF_MEMBERS: "ab"},
}


@pytest.mark.parametrize("data", ODD_DATA.values(), ids=ODD_DATA)
async def test_entry_data_that_cannot_be_used_is_said_in_words(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, data: dict[str, Any]
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    entry = MockConfigEntry(domain=DOMAIN, title="Odd one", data=data, minor_version=3)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert entry.reason.startswith("What Home Assistant stored for Odd one")
    assert tracebacks(caplog) == []


async def test_a_migration_of_unusable_rs485_data_fails_nothing_else(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Odd one",
        data={CONF_TRANSPORT: "rs485", CONF_SERIAL_PORT: 5, CONF_BUS_ADDRESS: "one"},
        minor_version=2,
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.minor_version == 3
    assert entry.state is ConfigEntryState.SETUP_ERROR


async def test_a_pack_has_no_options_even_when_asked_through_the_api(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    members = []
    for address in (1, 2):
        member = bus_entry(virtual_bus, address)
        member.add_to_hass(hass)
        await hass.config_entries.async_setup(member.entry_id)
        members.append(member.entry_id)
    pack = MockConfigEntry(
        domain=DOMAIN,
        title="Rack",
        data={CONF_TRANSPORT: "pack", CONF_MEMBERS: members},
        minor_version=3,
    )
    pack.add_to_hass(hass)
    await hass.config_entries.async_setup(pack.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(pack.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "pack_has_no_options"
    assert pack.options == {}
    for entry_id in [pack.entry_id, *members]:
        await hass.config_entries.async_unload(entry_id)


async def test_a_password_no_device_can_hold_is_wrong_without_a_traceback(
    hass: HomeAssistant, proxy: Proxy, caplog: pytest.LogCaptureFixture
) -> None:
    device = proxy.add("jk-b2a16s")
    entry = config_entry(device, password="\ud800")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert tracebacks(caplog) == []
