"""An RS485 adapter is one port however often the system renames it.

A USB adapter re-enumerates (``ttyUSB0`` becomes ``ttyUSB1``) when it is
replugged or the host's USB resets; its ``/dev/serial/by-id`` link follows it.
A virtual bus is a pseudo-terminal: a new bus with the same balancers on it
is the adapter under its new name, and a symlink in a temporary folder is its
by-id link.
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USB, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
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
from tests.integration.conftest import bus_entry, entity_id, next_update, open_fds

ADAPTER = {"vid": "1A86", "pid": "7523", "serial_number": "5A3D011234"}

pytestmark = pytest.mark.usefixtures("quick_scan")


def relink(link: Path, bus: VirtualBus) -> None:
    """Point the adapter's by-id link at ``bus`` (as udev does on re-enumeration)."""
    link.unlink(missing_ok=True)
    link.symlink_to(bus.path)


def usb_port(bus: VirtualBus) -> ListPortInfo:
    """``bus`` as pyserial lists a plugged-in USB adapter."""
    port = ListPortInfo(bus.path)
    port.vid, port.pid = int(ADAPTER["vid"], 16), int(ADAPTER["pid"], 16)
    port.serial_number = ADAPTER["serial_number"]
    port.description = "USB-RS485"
    return port


async def test_a_re_enumerated_adapter_stays_one_port_through_reloads_and_scans(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    link = tmp_path / "usb-1a86_USB_Serial-if00-port0"
    units = {1: bus_unit(1), 2: bus_unit(2)}
    first = VirtualBus(units, wire_time=False)
    first.start()
    relink(link, first)
    entries = [bus_entry(first, address, port=str(link)) for address in (1, 2)]
    for entry in entries:
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    async with VirtualBus(units, wire_time=False) as second:
        own = open_fds(second.path)  # the bus's own end
        # Unplugged and back as another tty behind the same link.
        await first.stop()
        first.close()
        relink(link, second)
        await next_update(hass)
        # An options save reloads one entry; a scan of the port opens it too.
        assert await hass.config_entries.async_reload(entries[0].entry_id)
        await hass.async_block_till_done()
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": "user"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "rs485"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: str(link)}
        )
        assert result["errors"] == {"base": "no_balancers_found"}
        assert len(hass.data[DATA_PORTS]) == 1
        assert open_fds(second.path) == own + 1
        failed = 0
        for _ in range(20):
            await next_update(hass)
            for address in (1, 2):
                state = hass.states.get(
                    entity_id(hass, "sensor", address, "total_voltage")
                )
                assert state is not None
                failed += state.state == STATE_UNAVAILABLE
        assert failed == 0
        for entry in entries:
            await hass.config_entries.async_unload(entry.entry_id)


async def test_an_entry_migrated_while_unplugged_follows_its_adapter_to_a_new_path(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    """Migrated with no adapter there, it learns nothing; its balancer answering
    on the adapter's new path moves it there instead of adding it twice."""
    gone = str(tmp_path / "ttyUSB0")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Shed bank",
        unique_id=f"{gone}#3",
        data={CONF_TRANSPORT: "rs485", CONF_SERIAL_PORT: gone, CONF_BUS_ADDRESS: 3},
        minor_version=2,
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.data[CONF_USB_ADAPTER] is None
    async with VirtualBus({3: bus_unit(3)}, wire_time=False) as bus:
        info = UsbServiceInfo(
            device=bus.path, manufacturer="QinHeng", description="USB-RS485", **ADAPTER
        )
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
        assert result["step_id"] == "usb_confirm"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "moved_here"
        await hass.async_block_till_done()
        assert hass.config_entries.async_entries(DOMAIN) == [entry]
        assert entry.data[CONF_SERIAL_PORT] == bus.path
        assert entry.data[CONF_USB_ADAPTER] == "1A86:7523:5A3D011234"
        assert entry.state is ConfigEntryState.LOADED
        state = hass.states.get(entity_id(hass, "sensor", 3, "total_voltage"))
        assert state is not None
        assert float(state.state) > 40
        await hass.config_entries.async_unload(entry.entry_id)

    # Known now: the next time it turns up elsewhere it is followed at once.
    async with VirtualBus({3: bus_unit(3)}, wire_time=False) as elsewhere:
        info = UsbServiceInfo(
            device=elsewhere.path, manufacturer="QinHeng", description="", **ADAPTER
        )
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USB}, data=info
        )
        assert result["reason"] == "already_configured"
        await hass.async_block_till_done()
        assert entry.data[CONF_SERIAL_PORT] == elsewhere.path
        await hass.config_entries.async_unload(entry.entry_id)


async def test_an_entry_learns_its_adapter_once_it_is_plugged_in(
    hass: HomeAssistant,
) -> None:
    async with VirtualBus({1: bus_unit(1)}, wire_time=False) as bus:
        entry = bus_entry(bus, 1)
        entry.add_to_hass(hass)
        with patch(
            "custom_components.jk_balancer.rs485.list_ports.comports",
            return_value=[usb_port(bus)],
        ):
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        assert entry.data[CONF_USB_ADAPTER] == "1A86:7523:5A3D011234"
        await hass.config_entries.async_unload(entry.entry_id)
