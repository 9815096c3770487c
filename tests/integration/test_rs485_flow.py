"""Adding balancers on an RS485 bus: port, scan, pick, discovery of the rest."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USB, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import pytest
from serial.tools.list_ports_common import ListPortInfo

from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    CONF_USB_ADAPTER,
    DOMAIN,
)
from custom_components.jk_balancer.rs485 import DATA_PORTS
from jk_emulator import VirtualBus
from tests.conftest import bus_unit
from tests.integration.conftest import bus_entry, start_user_flow

pytestmark = pytest.mark.usefixtures("quick_scan")


async def test_scan_finds_both_balancers_and_offers_the_other_one(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    result = await start_user_flow(hass, "rs485")
    assert result["step_id"] == "rs485"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: virtual_bus.path}
    )
    assert result["step_id"] == "rs485_pick"
    assert result["description_placeholders"] == {
        "port": virtual_bus.path,
        "found": "2",
    }
    labels = [
        option["label"]
        for option in result["data_schema"].schema[CONF_BUS_ADDRESS].config["options"]
    ]
    assert [label.split(":")[0] for label in labels] == [
        "JK balancer 1",
        "JK balancer 2",
    ]
    assert "16 cells" in labels[0]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BUS_ADDRESS: "2"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "JK balancer 2"
    assert result["data"] == {
        CONF_TRANSPORT: "rs485",
        CONF_SERIAL_PORT: virtual_bus.path,
        CONF_BUS_ADDRESS: 2,
        # A pseudo-terminal is no USB adapter.
        CONF_USB_ADAPTER: None,
    }
    await hass.async_block_till_done()

    # The balancer not picked waits as a discovered device.
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["step_id"] for flow in flows] == ["bus_confirm"]
    assert flows[0]["context"]["title_placeholders"] == {"name": "JK balancer 1"}
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entries = hass.config_entries.async_entries(DOMAIN)
    assert sorted(entry.data[CONF_BUS_ADDRESS] for entry in entries) == [1, 2]
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    # Both on one port, opened once.
    assert list(hass.data[DATA_PORTS]) == [virtual_bus.path]


async def test_configured_balancers_are_not_offered_again(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    entry = bus_entry(virtual_bus, 1)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await start_user_flow(hass, "rs485")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: virtual_bus.path}
    )
    # Only address 2 is new: added at once, through the running entry's bus.
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BUS_ADDRESS] == 2


async def test_a_port_that_cannot_be_opened_says_why(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    result = await start_user_flow(hass, "rs485")
    port = str(tmp_path / "ttyUSB7")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: port}
    )
    assert result["errors"] == {"base": "cannot_open_port"}
    assert result["description_placeholders"] == {
        "port": port,
        "error": "No such file or directory",
    }
    assert hass.data[DATA_PORTS] == {}


async def test_a_bus_without_balancers_says_so(hass: HomeAssistant) -> None:
    async with VirtualBus(wire_time=False) as empty:
        result = await start_user_flow(hass, "rs485")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: empty.path}
        )
    assert result["errors"] == {"base": "no_balancers_found"}
    assert result["step_id"] == "rs485"


async def test_a_plugged_in_adapter_is_scanned_after_confirming(
    hass: HomeAssistant,
) -> None:
    async with VirtualBus({3: bus_unit(3)}, wire_time=False) as bus:
        info = UsbServiceInfo(
            device=bus.path,
            vid="1A86",
            pid="7523",
            serial_number=None,
            manufacturer="QinHeng",
            description="USB-RS485 adapter",
        )
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
        assert result["step_id"] == "usb_confirm"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "JK balancer 3"
        await hass.async_block_till_done()
        # The same adapter again: its balancers are set up.
        again = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
        assert again["type"] is FlowResultType.ABORT
        assert again["reason"] == "already_configured"
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


async def test_options_of_a_bus_balancer_have_no_bluetooth_link(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    entry = bus_entry(virtual_bus, 1)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "bus"
    assert "connection_mode" not in result["data_schema"].schema
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "update_interval": 5,
            "chemistry": "lfp",
            "imbalance_threshold": 40,
            "imbalance_hold": 60,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["update_interval"] == 5
    assert "connection_mode" not in entry.options


async def test_reconfigure_moves_a_balancer_to_another_port(
    hass: HomeAssistant, virtual_bus: VirtualBus, tmp_path: Path
) -> None:
    stale = str(tmp_path / "ttyUSB0")
    entry = bus_entry(virtual_bus, 2)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_SERIAL_PORT: stale}
    )
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure_bus"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: stale}
    )
    assert result["errors"] == {"base": "cannot_open_port"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: virtual_bus.path}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_SERIAL_PORT] == virtual_bus.path
    assert entry.state is ConfigEntryState.LOADED


async def test_the_port_picker_offers_usb_adapters_first_and_picks_one(
    hass: HomeAssistant,
) -> None:
    """A built-in port that says nothing of itself is not what is preselected."""
    builtin = ListPortInfo("/dev/ttyS0")
    builtin.description = "n/a"
    adapter = ListPortInfo("/dev/ttyUSB0")
    adapter.vid, adapter.pid = 0x1A86, 0x7523
    adapter.description = "USB Serial"
    with patch(
        "custom_components.jk_balancer.rs485_flow.list_ports.comports",
        return_value=[builtin, adapter],
    ):
        result = await start_user_flow(hass, "rs485")
    field = next(iter(result["data_schema"].schema))
    options = result["data_schema"].schema[field].config["options"]
    assert [option["value"] for option in options] == ["/dev/ttyUSB0", "/dev/ttyS0"]
    assert options[1]["label"] == "/dev/ttyS0"
    assert "USB Serial" in options[0]["label"]
    assert field.description == {"suggested_value": "/dev/ttyUSB0"}
