"""Which adapter or proxy reaches a balancer now.

Home Assistant remembers a device for minutes after the only proxy that
heard it went offline, and connecting then fails as if that proxy's slots
were full. Only an adapter or proxy that is online now counts as reaching it.
"""

from __future__ import annotations

from bleak.backends.device import BLEDevice
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant

from .protocol import DeviceConnectionError


class DeviceNotInRangeError(DeviceConnectionError):
    """No Bluetooth adapter or proxy that is online hears the device."""

    translation_key = "device_not_found"

    def __init__(self, address: str) -> None:
        """The error for the device at ``address``."""
        super().__init__(
            "not in range of any Bluetooth adapter or proxy that is online",
            address=address,
        )


def async_ble_device(hass: HomeAssistant, address: str) -> BLEDevice:
    """The newest connectable BLEDevice of ``address``, or DeviceNotInRangeError."""
    ble_device = bluetooth.async_ble_device_from_address(
        hass, address, connectable=True
    )
    if ble_device is None:
        raise DeviceNotInRangeError(address)
    return ble_device


def async_heard_now(hass: HomeAssistant, address: str) -> bool:
    """Return True when an adapter or proxy that is online hears ``address``."""
    return bool(
        bluetooth.async_scanner_devices_by_address(hass, address, connectable=True)
    )
