"""Constants of the JK Active Balancer integration."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "jk_balancer"
MANUFACTURER: Final = "Jikong (JK)"

CONF_PROTOCOL: Final = "protocol"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_CONNECTION_MODE: Final = "connection_mode"

PROTOCOL_AUTO: Final = "auto"
DEFAULT_UPDATE_INTERVAL: Final = 30  # seconds
MIN_UPDATE_INTERVAL: Final = 1
MAX_UPDATE_INTERVAL: Final = 300
# Without a cell-info frame for this long, a kept-open link is considered dead.
STALE_AFTER: Final = 15.0  # seconds
# A write to a device that is not connected waits this long for the link.
WRITE_CONNECT_TIMEOUT: Final = 20.0  # seconds


class ConnectionMode(StrEnum):
    """How the integration holds the Bluetooth link."""

    # Stay connected and read the device's stream (fastest, uses a slot).
    PERSISTENT = "persistent"
    # Connect for each update and disconnect (shares a proxy's few slots).
    PER_UPDATE = "per_update"
