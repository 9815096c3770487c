"""Balancers on an RS485 bus: one shared bus per port, one coordinator each."""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, bus_unique_id
from .coordinator import JKBalancerConfigEntry, JKBalancerCoordinator
from .protocol import JKError, JKRs485Client, Rs485Bus, Snapshot

_LOGGER = logging.getLogger(__name__)


@dataclass
class _SharedBus:
    """A port's bus and who uses it (entry ids, or a flow scanning it)."""

    bus: Rs485Bus
    users: set[str] = field(default_factory=set)


DATA_BUSES: HassKey[dict[str, _SharedBus]] = HassKey(f"{DOMAIN}_buses")


@callback
def async_acquire_bus(hass: HomeAssistant, port: str, user: str) -> Rs485Bus:
    """The bus of ``port``, shared by every entry on it: opened once."""
    buses = hass.data.setdefault(DATA_BUSES, {})
    shared = buses.get(port)
    if shared is None:
        shared = buses[port] = _SharedBus(Rs485Bus(port))
    shared.users.add(user)
    return shared.bus


async def async_release_bus(hass: HomeAssistant, port: str, user: str) -> None:
    """``user`` is done with the bus; the last one closes the port."""
    buses = hass.data.get(DATA_BUSES, {})
    if (shared := buses.get(port)) is None:
        return
    shared.users.discard(user)
    if not shared.users:
        del buses[port]
        await shared.bus.close()
        _LOGGER.debug("%s: closed, no balancer uses it", port)


class Rs485Coordinator(JKBalancerCoordinator):
    """A balancer at an address on an RS485 bus, read at every update."""

    def __init__(
        self, hass: HomeAssistant, entry: JKBalancerConfigEntry, client: JKRs485Client
    ) -> None:
        """Set up the coordinator for ``client``."""
        super().__init__(hass, entry, bus_unique_id(client.bus.port, client.address))
        self.client = client

    @property
    def newest_snapshot(self) -> Snapshot | None:
        """The client's newest snapshot."""
        return self.client.snapshot

    def connection_diagnostics(self) -> dict[str, Any]:
        """The port, the address, the line's counters and the last reply."""
        client, bus = self.client, self.client.bus
        return {
            "port": bus.port,
            "address": client.address,
            "open": bus.is_open,
            "last_update_success": self.last_update_success,
            "rejected_replies": client.rejected_replies,
            "corrupt_replies_on_bus": bus.corrupt_replies,
            "timeouts_on_bus": bus.timeouts,
            "last_reply": None
            if client.last_reply is None
            else client.last_reply.hex(" "),
        }

    async def _async_update_data(self) -> Snapshot:
        try:
            return await self.client.read()
        except JKError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=self.error_placeholders(err),
            ) from err

    async def _async_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool
    ) -> None:
        await self.client.write_setting(
            key,
            value,
            chemistry=self.care.chemistry(self.data),
            fewer_cells_confirmed=fewer_cells_confirmed,
        )
