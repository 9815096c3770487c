"""A pack of cascaded balancers: one device with the cells numbered through.

The pack reads nothing itself: each of its balancers has its own entry and
coordinator (over Bluetooth or RS485), and announces every update; the pack
combines their newest snapshots. While one of them is missing or measures no
cell, the pack's figures would be false, so they are unavailable.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import CONF_MEMBERS, DOMAIN, SIGNAL_BALANCER_UPDATED
from .coordinator import BalancerCoordinator
from .protocol import CascadedPack, cascade

_LOGGER = logging.getLogger(__name__)


class PackCoordinator(DataUpdateCoordinator[CascadedPack]):
    """Combine the newest snapshots of a pack's balancers."""

    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Set up the pack of the balancers ``entry`` names, in cascade order."""
        super().__init__(hass, _LOGGER, config_entry=entry, name=entry.title)
        self.members: list[str] = list(entry.data[CONF_MEMBERS])
        self.device_key = f"pack_{entry.entry_id}"

    @callback
    def async_follow_members(self) -> None:
        """Combine again whenever one of the balancers updates or goes."""

        @callback
        def _async_member_updated(entry_id: str) -> None:
            if entry_id not in self.members:
                return
            try:
                self.async_set_updated_data(self._combine())
            except UpdateFailed as err:
                self.async_set_update_error(err)

        self.config_entry.async_on_unload(
            async_dispatcher_connect(
                self.hass, SIGNAL_BALANCER_UPDATED, _async_member_updated
            )
        )

    async def _async_update_data(self) -> CascadedPack:
        return self._combine()

    def _combine(self) -> CascadedPack:
        units = []
        for number, entry_id in enumerate(self.members, start=1):
            coordinator = self._member(entry_id)
            if coordinator is None or not coordinator.data.cell_info.cell_voltages:
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="pack_unit_missing",
                    translation_placeholders={
                        "name": self.name,
                        "unit": str(number),
                        "balancer": self.member_title(entry_id),
                    },
                )
            units.append(coordinator.data.cell_info)
        return cascade(units)

    def _member(self, entry_id: str) -> BalancerCoordinator | None:
        """The coordinator of a balancer with a current snapshot, or None."""
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return None
        coordinator = entry.runtime_data
        if not isinstance(coordinator, BalancerCoordinator):
            return None
        return coordinator if coordinator.last_update_success else None

    def member_title(self, entry_id: str) -> str:
        """The balancer's name, or its entry id once it was deleted."""
        entry = self.hass.config_entries.async_get_entry(entry_id)
        return entry_id if entry is None else entry.title
