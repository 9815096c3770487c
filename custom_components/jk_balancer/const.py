"""Constants of the JK Active Balancer integration."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from .protocol import BLUETOOTH_PROTOCOLS, Protocol

DOMAIN: Final = "jk_balancer"
MANUFACTURER: Final = "Jikong (JK)"

# What an entry is: a balancer over Bluetooth (the default of entries made
# before RS485), a balancer on an RS485 bus, or a pack of cascaded balancers.
CONF_TRANSPORT: Final = "transport"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BUS_ADDRESS: Final = "bus_address"
# The USB adapter of an RS485 entry (VID:PID:serial), to follow it to a new path.
CONF_USB_ADAPTER: Final = "usb_adapter"
# The entry ids of a pack's balancers, in the order their cells are numbered.
CONF_MEMBERS: Final = "members"
CONF_PROTOCOL: Final = "protocol"
# Sent with a balancer's entry id after each of its updates and when it unloads.
SIGNAL_BALANCER_UPDATED: Final = f"{DOMAIN}_balancer_updated"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_CONNECTION_MODE: Final = "connection_mode"
CONF_CHEMISTRY: Final = "chemistry"
# Cells out of balance: delta above this (mV) for this long (s).
CONF_IMBALANCE_THRESHOLD: Final = "imbalance_threshold"
CONF_IMBALANCE_HOLD: Final = "imbalance_hold"
CHEMISTRY_AUTO: Final = "auto"

PROTOCOL_AUTO: Final = "auto"
# The frame layouts as the user picks them: selector option keys are lowercase.
PROTOCOL_OPTIONS: Final = MappingProxyType(
    {p.value.lower(): p for p in BLUETOOTH_PROTOCOLS}
)
DEFAULT_UPDATE_INTERVAL: Final = 30  # seconds
MIN_UPDATE_INTERVAL: Final = 1
MAX_UPDATE_INTERVAL: Final = 300
# What the options accept for cells out of balance: a threshold in mV, a hold in s.
MIN_IMBALANCE_THRESHOLD: Final = 2
MAX_IMBALANCE_THRESHOLD: Final = 1000
MAX_IMBALANCE_HOLD: Final = 86_400
# A write to a device that is not connected waits this long for the link.
WRITE_CONNECT_TIMEOUT: Final = 20.0  # seconds


def forced_protocol(option: object) -> Protocol | None:
    """The layout the user forced, or None to detect it."""
    return PROTOCOL_OPTIONS.get(option) if isinstance(option, str) else None


class Transport(StrEnum):
    """What a config entry stands for."""

    BLUETOOTH = "bluetooth"
    RS485 = "rs485"
    PACK = "pack"


def entry_transport(data: Mapping[str, Any]) -> Transport:
    """The transport of an entry's data; entries without one are Bluetooth.

    One that names none is taken for Bluetooth here; set-up refuses it.
    """
    transport = data.get(CONF_TRANSPORT, Transport.BLUETOOTH)
    if transport not in Transport._value2member_map_:
        return Transport.BLUETOOTH
    return Transport(transport)


def entity_unique_id(device_key: str, key: str) -> str:
    """The unique id of the device's entity ``key``: what keeps its history."""
    return f"{device_key}-{key}"


def entity_key(unique_id: str, device_key: str) -> str | None:
    """The key of the device's entity with ``unique_id`` (None: not the device's)."""
    prefix = entity_unique_id(device_key, "")
    return unique_id.removeprefix(prefix) if unique_id.startswith(prefix) else None


def cell_key(key: str, cell: int) -> str:
    """The key of cell ``cell``'s entity of kind ``key`` (cells from 1)."""
    return f"{key}_{cell}"


def bus_unique_id(port: str, address: int) -> str:
    """The unique id of the entry of the balancer at ``address`` on ``port``.

    The entry's, not the device's: the device is identified by its entry.
    """
    return f"{port}#{address}"


class ConnectionMode(StrEnum):
    """How the integration holds the Bluetooth link."""

    # Stay connected and read the device's stream (fastest, uses a slot).
    PERSISTENT = "persistent"
    # Connect for each update and disconnect (shares a proxy's few slots).
    PER_UPDATE = "per_update"
