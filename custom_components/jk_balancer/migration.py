"""Entries made by earlier versions, brought up to date without losing anything.

1.1 stored a forced layout as "JK04"; selector keys are lowercase since 1.2.
Up to 1.2, a balancer on RS485 was identified by its port and address, so
moving it to another port gave it a second device; since 1.3 its identity is
its entry, its port is stored in its stable form (the by-id link), and its USB
adapter is remembered so that discovery can follow it to a new path. Its
device and entities keep their history: only their identifiers change.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import (
    CONF_BUS_ADDRESS,
    CONF_MEMBERS,
    CONF_PROTOCOL,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    PROTOCOL_AUTO,
    PROTOCOL_OPTIONS,
    Transport,
    bus_unique_id,
    entity_key,
    entity_unique_id,
    entry_transport,
)
from .protocol import BUS_ADDRESSES
from .rs485 import port_problem, rs485_device_key, stable_port, usb_adapter

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
            data[CONF_PROTOCOL] = _layout_option(entry.title, data[CONF_PROTOCOL])
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
    if entry.minor_version < 3:
        rs485 = entry_transport(entry.data) is Transport.RS485
        # Data that cannot be used stays as it is: set-up says so.
        if rs485 and stored_data_problem(entry.data) is None:
            await _async_identify_by_entry(hass, entry)
        hass.config_entries.async_update_entry(entry, minor_version=3)
    return True


def stored_data_problem(data: Mapping[str, Any]) -> str | None:
    """What in an entry's stored data cannot be used, or None.

    Whatever wrote it (a hand edit, a restored backup, another version), a
    balancer's data must name where it is reached and how.
    """
    transport = data.get(CONF_TRANSPORT, Transport.BLUETOOTH)
    if transport not in Transport._value2member_map_:
        return f"transport {transport!r}"
    if entry_transport(data) is Transport.RS485:
        port, address = data.get(CONF_SERIAL_PORT), data.get(CONF_BUS_ADDRESS)
        if port_problem(port) is not None:
            return f"serial port {port!r}"
        if isinstance(address, bool) or address not in BUS_ADDRESSES:
            return f"bus address {address!r}"
    elif entry_transport(data) is Transport.BLUETOOTH:
        for key in (CONF_ADDRESS, CONF_PASSWORD):
            if not isinstance(data.get(key), str):
                return f"{key} {data.get(key)!r}"
    else:
        members = data.get(CONF_MEMBERS)
        if not isinstance(members, list) or not all(
            isinstance(member, str) for member in members
        ):
            return f"members {members!r}"
    return None


def _layout_option(title: str, stored: object) -> str:
    """1.1's forced layout as an option key; one that names none is automatic."""
    option = stored.lower() if isinstance(stored, str) else None
    if option is None or (option != PROTOCOL_AUTO and option not in PROTOCOL_OPTIONS):
        _LOGGER.warning(
            "%s: the stored frame layout %r names none; detecting it automatically",
            title,
            stored,
        )
        return PROTOCOL_AUTO
    return option


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
        if (key := entity_key(item.unique_id, old)) is None:
            return None
        return {"new_unique_id": entity_unique_id(new, key)}

    await er.async_migrate_entries(hass, entry.entry_id, new_unique_id)
    _LOGGER.debug("%s: identified as %s instead of %s", entry.title, new, old)
