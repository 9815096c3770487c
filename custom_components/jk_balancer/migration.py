"""Entries made by earlier versions, brought up to date without losing anything.

1.1 stored a forced layout as "JK04"; selector keys are lowercase since 1.2.
Up to 1.2, a balancer on RS485 was identified by its port and address, so
moving it to another port gave it a second device; since 1.3 its identity is
its entry, its port is stored in its stable form (the by-id link), and its USB
adapter is remembered so that discovery can follow it to a new path. Its
device and entities keep their history: only their identifiers change.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import (
    CONF_BUS_ADDRESS,
    CONF_PROTOCOL,
    CONF_SERIAL_PORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    Transport,
    bus_unique_id,
    entry_transport,
)
from .rs485 import rs485_device_key, stable_port, usb_adapter

_LOGGER = logging.getLogger(__name__)

VERSION = 1
MINOR_VERSION = 3


async def async_migrate(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring ``entry`` to the current version; False for a newer one."""
    if entry.version > VERSION:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        if CONF_PROTOCOL in data:
            data[CONF_PROTOCOL] = data[CONF_PROTOCOL].lower()
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
    if entry.minor_version < 3:
        if entry_transport(entry.data) is Transport.RS485:
            await _async_identify_by_entry(hass, entry)
        hass.config_entries.async_update_entry(entry, minor_version=3)
    return True


async def _async_identify_by_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Move the device and entities to ids that do not contain the port."""
    port: str = entry.data[CONF_SERIAL_PORT]
    address = int(entry.data[CONF_BUS_ADDRESS])
    await _async_rename(
        hass, entry, f"{port}#{address}", rs485_device_key(entry.entry_id)
    )
    stable = await hass.async_add_executor_job(stable_port, port)
    adapter = await hass.async_add_executor_job(usb_adapter, stable)
    hass.config_entries.async_update_entry(
        entry,
        unique_id=bus_unique_id(stable, address),
        data={**entry.data, CONF_SERIAL_PORT: stable, CONF_USB_ADAPTER: adapter},
    )


async def _async_rename(
    hass: HomeAssistant, entry: ConfigEntry, old: str, new: str
) -> None:
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        if (DOMAIN, old) in device.identifiers:
            devices.async_update_device(device.id, new_identifiers={(DOMAIN, new)})

    @callback
    def new_unique_id(item: er.RegistryEntry) -> dict[str, str] | None:
        if not item.unique_id.startswith(f"{old}-"):
            return None
        return {"new_unique_id": f"{new}-{item.unique_id.removeprefix(f'{old}-')}"}

    await er.async_migrate_entries(hass, entry.entry_id, new_unique_id)
    _LOGGER.debug("%s: identified as %s instead of %s", entry.title, new, old)
