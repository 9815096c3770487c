"""The balancers set up on RS485, by the adapter they are on.

Whether a balancer is set up already, which addresses on a port are still
free, and which entries follow an adapter that turned up at a new path: all
decided with :func:`~.rs485.same_adapter` on what each path names now and
the USB identity each entry remembers of its adapter. The config flow asks
these; nothing here opens a port.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from .const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    Transport,
    bus_unique_id,
    entry_transport,
)
from .protocol import BUS_ADDRESSES
from .rs485 import AdapterNames, adapter_names, port_is_gone, same_adapter


@callback
def bus_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """The balancers set up on RS485 (not the ignored ones)."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry_transport(entry.data) is Transport.RS485
    ]


async def async_names(hass: HomeAssistant, port: str) -> AdapterNames:
    """What ``port`` names now."""
    return await hass.async_add_executor_job(adapter_names, port)


async def async_entry_names(hass: HomeAssistant, entry: ConfigEntry) -> AdapterNames:
    """What the entry's port names now; its adapter as it was last seen."""
    names = await async_names(hass, entry.data[CONF_SERIAL_PORT])
    if names.usb is None and (known := entry.data.get(CONF_USB_ADAPTER)):
        # Unplugged, or plugged in under another name: still that adapter.
        names = AdapterNames(names.stable, names.device, known)
    return names


async def async_units(
    hass: HomeAssistant, besides: ConfigEntry | None = None
) -> list[tuple[AdapterNames, int]]:
    """Where and at which address every balancer set up on RS485 is."""
    return [
        (await async_entry_names(hass, entry), int(entry.data[CONF_BUS_ADDRESS]))
        for entry in bus_entries(hass)
        if entry is not besides
    ]


async def async_is_configured(
    hass: HomeAssistant, port: str, address: int, besides: ConfigEntry | None = None
) -> bool:
    """Whether the balancer at ``address`` on ``port`` is set up already."""
    names = await async_names(hass, port)
    return any(
        address == known and same_adapter(names, where)
        for where, known in await async_units(hass, besides)
    )


async def async_free_addresses(hass: HomeAssistant, port: str) -> list[int]:
    """The bus addresses on ``port`` no balancer set up is at."""
    names = await async_names(hass, port)
    taken = {
        known for where, known in await async_units(hass) if same_adapter(names, where)
    }
    return [address for address in BUS_ADDRESSES if address not in taken]


async def async_adapter_in_use(hass: HomeAssistant, port: str) -> bool:
    """Whether a balancer set up is on the adapter at ``port``."""
    names = await async_names(hass, port)
    return any(same_adapter(names, where) for where, _ in await async_units(hass))


@callback
def async_move(
    hass: HomeAssistant, entry: ConfigEntry, port: str, adapter: str | None
) -> None:
    """``entry``'s balancer is reached at ``port`` now: store it and reload."""
    address = int(entry.data[CONF_BUS_ADDRESS])
    hass.config_entries.async_update_entry(
        entry,
        unique_id=bus_unique_id(port, address),
        data={
            **entry.data,
            CONF_SERIAL_PORT: port,
            CONF_USB_ADAPTER: adapter or entry.data.get(CONF_USB_ADAPTER),
        },
    )
    hass.config_entries.async_schedule_reload(entry.entry_id)


@callback
def async_follow_adapter(
    hass: HomeAssistant, adapter: str, port: str
) -> list[ConfigEntry]:
    """Entries on ``adapter``; those stored at another path move to ``port``."""
    entries = [
        entry
        for entry in bus_entries(hass)
        if entry.data.get(CONF_USB_ADAPTER) == adapter
    ]
    for entry in entries:
        if entry.data[CONF_SERIAL_PORT] != port:
            async_move(hass, entry, port, adapter)
    return entries


async def async_lost_entry(
    hass: HomeAssistant, address: int, adapter: str | None
) -> ConfigEntry | None:
    """The entry at ``address`` whose port is gone, and whose adapter may be
    the one ``adapter`` is (it is not known to be another)."""
    for entry in bus_entries(hass):
        known = entry.data.get(CONF_USB_ADAPTER)
        if (
            int(entry.data[CONF_BUS_ADDRESS]) == address
            and (known is None or adapter is None or known == adapter)
            and await hass.async_add_executor_job(
                port_is_gone, entry.data[CONF_SERIAL_PORT]
            )
        ):
            return entry
    return None
