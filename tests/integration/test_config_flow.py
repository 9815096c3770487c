"""Config flow: discovery card, password, user step, reauth, reconfigure, options."""

from __future__ import annotations

import math
from typing import Any
from unittest.mock import patch

from bleak_retry_connector.bluez import Allocations
from homeassistant.components.bluetooth import async_last_service_info
from homeassistant.config_entries import SOURCE_BLUETOOTH, ConfigEntryState
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.jk_balancer.const import (
    CONF_CHEMISTRY,
    CONF_CONNECTION_MODE,
    CONF_IMBALANCE_HOLD,
    CONF_IMBALANCE_THRESHOLD,
    CONF_PROTOCOL,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.jk_balancer.protocol import Protocol
from jk_emulator import radio as radio_module
from tests.integration.conftest import Proxy, config_entry, setup_entry, start_user_flow


async def test_discovery_card_asks_for_the_password(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s", name="Battery-01", passcode="8642")
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    flow = flows[0]
    assert flow["context"]["source"] == SOURCE_BLUETOOTH
    assert flow["context"]["title_placeholders"] == {"name": "Battery-01"}
    assert flow["step_id"] == "password"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    assert not proxy.radio.connections

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "8642"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Battery-01"
    assert result["data"] == {CONF_ADDRESS: device.address, CONF_PASSWORD: "8642"}
    assert result["result"].unique_id == device.address
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


async def test_discovery_of_a_configured_device_is_ignored(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    # Configured before Home Assistant hears it: no discovery flow was started
    # that the one below could run into.
    device = proxy.add(heard=False)
    entry = config_entry(device)
    entry.add_to_hass(hass)
    proxy.scanner.advertise(device)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    service_info = async_last_service_info(hass, device.address)
    assert service_info is not None
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=service_info
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_user_step_lists_unconfigured_jk_devices(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    configured = proxy.add("jk-b2a4s")
    await setup_entry(hass, configured)
    first = proxy.add("jk-b2a24s20p", name="Rack-A")
    second = proxy.add("jk-pb2a16s20p", name="Rack-B")
    result = await start_user_flow(hass, "bluetooth_device")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bluetooth_device"
    choices = result["data_schema"].schema[CONF_ADDRESS].container
    assert choices == {
        first.address: f"Rack-A ({first.address})",
        second.address: f"Rack-B ({second.address})",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ADDRESS: second.address}
    )
    assert result["step_id"] == "password"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Rack-B"


async def test_user_step_without_devices(hass: HomeAssistant, proxy: Proxy) -> None:
    result = await start_user_flow(hass, "bluetooth_device")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_device_gone_before_the_password(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    await hass.async_block_till_done(wait_background_tasks=True)
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    device.set_powered(False)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    device.set_powered(True)
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_not_a_jk_balancer(
    hass: HomeAssistant, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        radio_module,
        "_build_services",
        lambda _two: radio_module.BleakGATTServiceCollection(),
    )
    proxy.add()
    await hass.async_block_till_done(wait_background_tasks=True)
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["errors"] == {"base": "not_supported"}


async def test_unexpected_error_is_reported(hass: HomeAssistant, proxy: Proxy) -> None:
    proxy.add()
    await hass.async_block_till_done(wait_background_tasks=True)
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    with patch(
        "custom_components.jk_balancer.config_flow.BluetoothClient.read",
        side_effect=RuntimeError("bug"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_PASSWORD: "1234"}
        )
    assert result["errors"] == {"base": "unknown"}


async def test_reauth_after_the_password_changed(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add(passcode="5555")
    entry = await setup_entry(hass, device, password="1234")
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    reauth = next(flow for flow in flows if flow["context"]["source"] == "reauth")
    assert reauth["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        reauth["flow_id"], {CONF_PASSWORD: "1234"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        reauth["flow_id"], {CONF_PASSWORD: "5555"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PASSWORD] == "5555"
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_the_layout_without_retyping_the_password(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add("jk-b2a16s", passcode="8642")
    entry = await setup_entry(hass, device, password="8642")
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {
        "name": "JK-B2A16S",
        "detected": "JK04",
    }
    # A layout the device does not speak explains none of its frames.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROTOCOL: "jk02_32s"}
    )
    assert result["errors"] == {"base": "not_supported"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROTOCOL: "jk04"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == {
        CONF_ADDRESS: device.address,
        CONF_PASSWORD: "8642",
        CONF_PROTOCOL: "jk04",
    }
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.link.client.protocol is Protocol.JK04


async def test_reconfigure_a_new_password(hass: HomeAssistant, proxy: Proxy) -> None:
    device = proxy.add("jk-b2a16s")
    entry = await setup_entry(hass, device)
    device.passcode = "4321"
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROTOCOL: "auto", CONF_PASSWORD: "0000"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PROTOCOL: "auto", CONF_PASSWORD: "4321"}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PASSWORD] == "4321"


@pytest.mark.parametrize(
    ("stored", "migrated"),
    [
        ("JK04", "jk04"),
        (None, "auto"),
        (4, "auto"),
        (["JK04"], "auto"),
        ("JK99", "auto"),
    ],
)
async def test_entries_of_version_1_1_keep_their_layout_or_detect_it(
    hass: HomeAssistant, proxy: Proxy, stored: Any, migrated: str
) -> None:
    """1.1 stored the layout as "JK04"; one that names none is detected."""
    device = proxy.add("jk-b2a16s")
    entry = config_entry(device, **{CONF_PROTOCOL: stored})
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, minor_version=1)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 3)
    assert entry.data[CONF_PROTOCOL] == migrated
    assert entry.runtime_data.link.client.protocol is Protocol.JK04


async def test_options_update_interval_and_connection_mode(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    entry = await setup_entry(hass, device)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    # Kept connected: the dialog says nothing of taking turns at slots.
    assert result["step_id"] == "init"
    assert "sustainable" not in result["description_placeholders"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: 120,
            CONF_CONNECTION_MODE: "per_update",
            CONF_CHEMISTRY: "lfp",
            CONF_IMBALANCE_THRESHOLD: 20,  # what the trigger gives anyway
            CONF_IMBALANCE_HOLD: 60,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # The threshold that follows the trigger is not pinned.
    assert entry.options == {
        CONF_UPDATE_INTERVAL: 120,
        CONF_CONNECTION_MODE: "per_update",
        CONF_CHEMISTRY: "lfp",
        CONF_IMBALANCE_HOLD: 60,
    }
    coordinator = entry.runtime_data
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 120
    assert coordinator.link.per_update
    # Connect-per-update leaves no link (and no proxy slot) in use.
    assert not proxy.radio.connections


async def test_manual_entry_for_a_configured_address_aborts(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = proxy.add()
    config_entry(device).add_to_hass(hass)
    result = await start_user_flow(hass, "bluetooth_device")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_options_open_while_others_hold_every_slot(
    hass: HomeAssistant, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another integration's links fill the proxy: the dialog still opens and
    estimates as if one slot comes free (it divided by zero)."""
    device = proxy.add()
    entry = await setup_entry(
        hass, device, options={CONF_CONNECTION_MODE: "per_update"}
    )
    monkeypatch.setattr(
        proxy.scanner,
        "get_allocations",
        lambda: Allocations(
            adapter=proxy.scanner.source,
            slots=proxy.radio.slots,
            free=0,
            allocated=[f"AA:BB:CC:00:00:{n:02X}" for n in range(proxy.radio.slots)],
        ),
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "per_update"
    assert int(result["description_placeholders"]["sustainable"]) >= 1


async def test_options_name_the_device_and_tell_the_interval_slots_sustain(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    proxy.radio.slots = 1
    devices = [proxy.add(name=f"Shed {number}") for number in (1, 2, 3)]
    entries = [
        await setup_entry(hass, device, options={CONF_CONNECTION_MODE: "per_update"})
        for device in devices
    ]
    result = await hass.config_entries.options.async_init(entries[0].entry_id)
    # The dialog explains connecting for each update, the mode in use.
    assert result["step_id"] == "per_update"
    placeholders = result["description_placeholders"]
    assert placeholders["name"] == "Shed 1"
    # Three balancers taking turns at one slot: each needs three turns' time.
    turns = entries[0].runtime_data.link.turns
    assert int(placeholders["sustainable"]) == turns.sustainable_interval(
        devices[0].address
    )
    assert int(placeholders["sustainable"]) >= 1
    # NaN gets past the selector's range check; the dialog says what is wrong.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_UPDATE_INTERVAL: math.nan,
            CONF_CONNECTION_MODE: "per_update",
            CONF_CHEMISTRY: "auto",
            CONF_IMBALANCE_THRESHOLD: math.nan,
            CONF_IMBALANCE_HOLD: 60,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_UPDATE_INTERVAL: "not_a_number",
        CONF_IMBALANCE_THRESHOLD: "not_a_number",
    }
    assert entries[0].options == {CONF_CONNECTION_MODE: "per_update"}
