"""Constants of the JK Active Balancer integration."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .protocol import Protocol

DOMAIN: Final = "jk_balancer"
MANUFACTURER: Final = "Jikong (JK)"

CONF_PROTOCOL: Final = "protocol"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_CONNECTION_MODE: Final = "connection_mode"
CONF_CHEMISTRY: Final = "chemistry"
# Cells out of balance: delta above this (mV) for this long (s).
CONF_IMBALANCE_THRESHOLD: Final = "imbalance_threshold"
CONF_IMBALANCE_HOLD: Final = "imbalance_hold"
CHEMISTRY_AUTO: Final = "auto"
# The repair that confirms a cell count below the cells connected, and the
# refusal that offers it.
ISSUE_CONFIRM_CELL_COUNT: Final = "confirm_cell_count"
ISSUE_CONFIRM_CELL_COUNT_FOR: Final = "cell_count_below_connected"

PROTOCOL_AUTO: Final = "auto"
# The frame layouts as the user picks them: selector option keys are lowercase.
PROTOCOL_OPTIONS: Final = MappingProxyType({p.value.lower(): p for p in Protocol})
DEFAULT_UPDATE_INTERVAL: Final = 30  # seconds
MIN_UPDATE_INTERVAL: Final = 1
MAX_UPDATE_INTERVAL: Final = 300
# Without a cell-info frame for this long, a kept-open link is considered dead.
STALE_AFTER: Final = 15.0  # seconds
# A write to a device that is not connected waits this long for the link.
WRITE_CONNECT_TIMEOUT: Final = 20.0  # seconds


def forced_protocol(option: str) -> Protocol | None:
    """The layout the user forced, or None to detect it."""
    return PROTOCOL_OPTIONS.get(option)


class ConnectionMode(StrEnum):
    """How the integration holds the Bluetooth link."""

    # Stay connected and read the device's stream (fastest, uses a slot).
    PERSISTENT = "persistent"
    # Connect for each update and disconnect (shares a proxy's few slots).
    PER_UPDATE = "per_update"
