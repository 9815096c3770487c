"""Balancers on RS485: one shared port per adapter, and each balancer's link.

A port is opened once for all the balancers on it, however its path is
spelled (``/dev/ttyUSB0`` or the ``/dev/serial/by-id/...`` link to it), and
closed when the last of them unloads. A port is stored in its stable form,
the by-id link where one exists, so a balancer is known wherever the adapter
was plugged. A balancer's identity is its config entry: moving it to another
port or adapter changes where it is reached, not the device or its entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import os
from typing import Final

from homeassistant.components.usb import get_serial_by_id
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey
from serial.tools import list_ports

from .const import CONF_BUS_ADDRESS, CONF_SERIAL_PORT, DOMAIN
from .coordinator import BalancerLink
from .protocol import Rs485Client, Rs485Port, Snapshot

_LOGGER = logging.getLogger(__name__)

# Ports that are network gateways (socket://host:port) have no file to resolve.
_URL: Final = "://"
# A local port opens at once; a gateway's TCP connect may hang for minutes.
OPEN_TIMEOUT: Final = 5.0  # s


@dataclass
class _SharedPort:
    """A port and who uses it (entry ids, or a flow scanning it)."""

    port: Rs485Port
    users: set[str] = field(default_factory=set)


DATA_PORTS: HassKey[dict[str, _SharedPort]] = HassKey(f"{DOMAIN}_rs485_ports")


def stable_port(path: str) -> str:
    """The form a port is stored in: its by-id link where one exists.

    Blocking (it reads the file system): run it in the executor.
    """
    return path if _URL in path else get_serial_by_id(path)


def port_key(path: str) -> str:
    """What one adapter is, whatever the spelling: the device file behind it.

    Blocking (it reads the file system): run it in the executor.
    """
    return path.lower() if _URL in path else os.path.realpath(path)


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


async def async_acquire_port(hass: HomeAssistant, path: str, user: str) -> Rs485Port:
    """The port at ``path``, shared by every entry on that adapter: opened once."""
    key = await hass.async_add_executor_job(port_key, path)
    ports = hass.data.setdefault(DATA_PORTS, {})
    shared = ports.get(key)
    if shared is None:
        shared = ports[key] = _SharedPort(Rs485Port(path, open_timeout=OPEN_TIMEOUT))
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
    port = await async_acquire_port(hass, entry.data[CONF_SERIAL_PORT], entry.entry_id)
    return Rs485Link(hass, entry, Rs485Client(port, int(entry.data[CONF_BUS_ADDRESS])))


def rs485_device_key(entry_id: str) -> str:
    """The device key of the RS485 balancer of entry ``entry_id``."""
    return f"rs485_{entry_id}"
