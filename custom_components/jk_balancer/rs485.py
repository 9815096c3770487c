"""Balancers on RS485: one shared port per adapter, and each balancer's link.

A port is opened once for all the balancers on it, however its path is
spelled and whatever the system called it last (``/dev/ttyUSB0``, the
``/dev/serial/by-id/...`` link to it, ``/dev/ttyUSB1`` after the adapter
was re-enumerated), and closed when the last of them unloads. One rule tells
whether two paths are one adapter (:func:`same_adapter`), and every open,
scan, discovery and migration uses it. A port is stored in its stable form,
the by-id link where one exists, with the adapter's USB identity once it is
known, so a balancer is known wherever the adapter was plugged. A balancer's
identity is its config entry: moving it to another port or adapter changes
where it is reached, not the device or its entities.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import logging
import os
from typing import Final

from homeassistant.components.usb import get_serial_by_id
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey
from serial.tools import list_ports

from .const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    bus_unique_id,
)
from .coordinator import BalancerLink
from .protocol import Rs485Client, Rs485Port, Snapshot

_LOGGER = logging.getLogger(__name__)

# Ports that are network gateways (socket://host:port) have no file to resolve.
_URL: Final = "://"
# Longer than any path a system has (PATH_MAX) or a URL an owner types.
MAX_PORT_LENGTH: Final = 4096


@dataclass(frozen=True, slots=True)
class AdapterNames:
    """What a port path names now: its stable name, its device, its adapter.

    ``stable``: the by-id link (or the path itself where there is none);
    ``device``: the device file it resolves to now; ``usb``: the USB
    adapter's ``VID:PID:serial``, when it is plugged in and has a serial.
    """

    stable: str
    device: str
    usb: str | None


def adapter_names(path: str) -> AdapterNames:
    """What ``path`` names now. Blocking (the file system): run it in the executor."""
    if _URL in path:
        return AdapterNames(path.lower(), path.lower(), None)
    return AdapterNames(
        get_serial_by_id(path), os.path.realpath(path), usb_adapter(path)
    )


def same_adapter(one: AdapterNames, other: AdapterNames) -> bool:
    """Return True when both name one adapter: its USB identity, or else the
    device both resolve to now, or their stable name."""
    if one.usb is not None and other.usb is not None:
        return one.usb == other.usb
    return one.device == other.device or one.stable == other.stable


def port_problem(path: object) -> str | None:
    """Why ``path`` cannot be a port (an error key), or None.

    NUL bytes, text that is no UTF-8 (lone surrogates) and absurd lengths
    reach no file and no gateway.
    """
    if not isinstance(path, str) or not path.strip():
        return "invalid_port"
    if "\x00" in path or len(path) > MAX_PORT_LENGTH:
        return "invalid_port"
    try:
        path.encode()
    except UnicodeEncodeError:
        return "invalid_port"
    return None


def stable_port(path: str) -> str:
    """The form a port is stored in: its by-id link where one exists.

    Blocking (it reads the file system): run it in the executor.
    """
    return path if _URL in path else get_serial_by_id(path)


def usb_adapter(path: str) -> str | None:
    """The USB adapter at ``path`` as ``VID:PID:serial``, when it has a serial.

    Without a serial number two adapters of one model cannot be told apart.
    Blocking: run it in the executor.
    """
    if _URL in path:
        return None
    device = os.path.realpath(path)
    for port in list_ports.comports():
        if os.path.realpath(port.device) == device and port.vid and port.serial_number:
            return usb_identity(
                f"{port.vid:04X}", f"{port.pid:04X}", port.serial_number
            )
    return None


def usb_identity(vid: str, pid: str, serial_number: str) -> str:
    """How an adapter is recognised wherever it is plugged in."""
    return f"{vid.upper()}:{pid.upper()}:{serial_number}"


def port_is_gone(path: str) -> bool:
    """Return True when ``path`` names no device now (an adapter unplugged).

    Blocking: run it in the executor.
    """
    return _URL not in path and not os.path.exists(path)


@dataclass
class _SharedPort:
    """A port and who uses it (entry ids, or a flow scanning it)."""

    port: Rs485Port
    users: set[str] = field(default_factory=set)


DATA_PORTS: HassKey[dict[str, _SharedPort]] = HassKey(f"{DOMAIN}_rs485_ports")
_PORTS_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_rs485_ports_lock")


def _names_of(paths: list[str]) -> list[AdapterNames]:
    return [adapter_names(path) for path in paths]


async def async_acquire_port(hass: HomeAssistant, path: str, user: str) -> Rs485Port:
    """The port at ``path``, shared by every entry on that adapter: opened once.

    Which open port is that adapter is decided now, by what every path names
    now: a re-enumerated adapter is still the one its port was opened on.
    """
    ports = hass.data.setdefault(DATA_PORTS, {})
    lock = hass.data.setdefault(_PORTS_LOCK, asyncio.Lock())
    async with lock:
        opened = list(ports)
        wanted, *names = await hass.async_add_executor_job(_names_of, [path, *opened])
        shared = next(
            (
                ports[key]
                for key, known in zip(opened, names, strict=True)
                if key in ports and same_adapter(wanted, known)
            ),
            None,
        )
        if shared is None:
            shared = ports[path] = _SharedPort(Rs485Port(path))
        shared.users.add(user)
        return shared.port


async def async_release_port(hass: HomeAssistant, port: Rs485Port, user: str) -> None:
    """``user`` is done with ``port``; the last one closes it for good."""
    ports = hass.data.get(DATA_PORTS, {})
    for key, shared in list(ports.items()):
        if shared.port is not port:
            continue
        shared.users.discard(user)
        if not shared.users:
            del ports[key]
            await port.close()
            _LOGGER.debug("%s: closed, no balancer uses it", port.port)
        return


async def async_learn_adapter(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Store what ``entry``'s port is, as far as it is known now.

    An entry made or migrated while its adapter was unplugged, or before the
    system had a by-id link for it, learns its adapter's USB identity and
    stable name once they can be read, so USB discovery can follow it.
    """
    port: str = entry.data[CONF_SERIAL_PORT]
    names = await hass.async_add_executor_job(adapter_names, port)
    if port_is_gone(names.device):
        return  # nothing to learn from an adapter that is not there
    changes: dict[str, str] = {}
    if names.usb is not None and entry.data.get(CONF_USB_ADAPTER) != names.usb:
        changes[CONF_USB_ADAPTER] = names.usb
    if names.stable != port:
        changes[CONF_SERIAL_PORT] = names.stable
    if not changes:
        return
    data = {**entry.data, **changes}
    _LOGGER.debug("%s: its adapter is %s", entry.title, changes)
    hass.config_entries.async_update_entry(
        entry,
        data=data,
        unique_id=bus_unique_id(data[CONF_SERIAL_PORT], int(data[CONF_BUS_ADDRESS])),
    )


class Rs485Link(BalancerLink):
    """A balancer at an address on an RS485 port, read at every update."""

    client: Rs485Client

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, client: Rs485Client
    ) -> None:
        """Reach the balancer of ``entry`` through ``client``."""
        self.hass = hass
        self.entry = entry
        self.client = client

    @property
    def device_key(self) -> str:
        """The entry: the balancer stays itself on another port or adapter."""
        return rs485_device_key(self.entry.entry_id)

    async def async_read(self) -> Snapshot:
        """Read the balancer's reply."""
        return await self.client.read()

    async def async_close(self) -> None:
        """Stop this balancer's requests, then let go of the port."""
        await self.client.close()
        await async_release_port(self.hass, self.client.port, self.entry.entry_id)


async def async_rs485_link(hass: HomeAssistant, entry: ConfigEntry) -> Rs485Link:
    """The link of ``entry``'s balancer, on the port it shares with the others."""
    await async_learn_adapter(hass, entry)
    port = await async_acquire_port(hass, entry.data[CONF_SERIAL_PORT], entry.entry_id)
    return Rs485Link(hass, entry, Rs485Client(port, int(entry.data[CONF_BUS_ADDRESS])))


def rs485_device_key(entry_id: str) -> str:
    """The device key of the RS485 balancer of entry ``entry_id``."""
    return f"rs485_{entry_id}"
