"""A virtual Bluetooth proxy for Home Assistant.

Registers a habluetooth remote scanner, the same kind an ESPHome Bluetooth proxy
registers, whose connector opens links with the virtual radio's bleak backend.
Discovery, ``establish_connection``, connection slots and notifications all run
through Home Assistant's own Bluetooth code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bleak_retry_connector.bluez import Allocations
from bluetooth_data_tools import monotonic_time_coarse
from habluetooth import BaseHaRemoteScanner, HaBluetoothConnector
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval

from .ble import BluetoothBalancer
from .radio import VirtualRadio

ADVERTISING_INTERVAL = timedelta(seconds=5)


class VirtualProxyScanner(BaseHaRemoteScanner):
    """A remote scanner that hears and connects the devices of a virtual radio."""

    def __init__(self, radio: VirtualRadio, name: str) -> None:
        """Create the scanner for ``radio``."""
        connector = HaBluetoothConnector(
            client=radio.client_class,
            source=radio.source,
            can_connect=radio.can_connect,
        )
        super().__init__(radio.source, name, connector, True)
        self.radio = radio

    def get_allocations(self) -> Allocations:
        """Report connection slots, as an ESPHome proxy does."""
        allocated = [client.address for client in self.radio.connections]
        return Allocations(
            adapter=self.source,
            slots=self.radio.slots,
            free=self.radio.slots - len(allocated),
            allocated=allocated,
        )

    @callback
    def advertise(self, device: BluetoothBalancer) -> None:
        """Pass one advertisement of ``device`` to Home Assistant."""
        if not device.available:
            return
        advertisement = device.advertisement()
        self._async_on_advertisement(
            device.address,
            advertisement["rssi"],
            advertisement["local_name"],
            advertisement["service_uuids"],
            {},
            advertisement["manufacturer_data"],
            None,
            {},
            monotonic_time_coarse(),
        )

    @callback
    def advertise_all(self) -> None:
        """Pass an advertisement of every powered device."""
        for device in self.radio.devices.values():
            self.advertise(device)


@callback
def async_register_virtual_proxy(
    hass: HomeAssistant, radio: VirtualRadio, name: str = "Virtual JK proxy"
) -> tuple[VirtualProxyScanner, Callable[[], None]]:
    """Register a proxy for ``radio``; return it and the function that removes it."""
    scanner = VirtualProxyScanner(radio, name)
    remove_setup = scanner.async_setup()
    remove_registration = bluetooth.async_register_scanner(hass, scanner)
    scanner.advertise_all()
    stop_advertising = async_track_time_interval(
        hass, lambda _now: scanner.advertise_all(), ADVERTISING_INTERVAL
    )

    @callback
    def remove() -> None:
        stop_advertising()
        remove_registration()
        remove_setup()

    return scanner, remove
