"""A pack of cascaded balancers: one device with the cells numbered through.

The pack reads nothing itself: each of its balancers has its own entry and
coordinator (over Bluetooth or RS485), and announces every update; the pack
combines their newest snapshots. While one of them is missing or measures no
cell, the pack's figures would be false, so they are unavailable, and the
reason says which balancer and why. A balancer that was deleted raises a
repair that lets the user choose the pack's balancers again.
"""

from __future__ import annotations

import logging

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import CONF_MEMBERS, DOMAIN, MANUFACTURER, SIGNAL_BALANCER_UPDATED
from .coordinator import BalancerCoordinator
from .issues import IGNORED, PACK_MEMBER_MISSING, warning
from .protocol import CascadedPack, CellInfo, cascade

# A balancer that answers is part of the pack from its first update, while
# its entry is still being set up (after a reload, say).
_PRESENT_STATES = (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)

_LOGGER = logging.getLogger(__name__)


class PackCoordinator(DataUpdateCoordinator[CascadedPack]):
    """Combine the newest snapshots of a pack's balancers."""

    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Set up the pack of the balancers ``entry`` names, in cascade order."""
        super().__init__(hass, _LOGGER, config_entry=entry, name=entry.title)
        self.members: list[str] = list(entry.data[CONF_MEMBERS])
        self.device_key = f"pack_{entry.entry_id}"
        self.device_info = DeviceInfo(
            identifiers={(DOMAIN, self.device_key)},
            name=entry.title,
            manufacturer=MANUFACTURER,
            model="Cascaded balancers",
        )
        # The balancers whose devices were linked to the pack's.
        self._linked: set[str] = set()

    @callback
    def async_follow_members(self) -> None:
        """Combine again whenever one of the balancers updates, goes or is deleted."""

        @callback
        def _async_member_updated(entry_id: str) -> None:
            if entry_id in self.members:
                if entry_id not in self._linked:
                    registry = dr.async_get(self.hass)
                    self._async_link(registry, self._pack_device(registry), entry_id)
                self.async_combine()

        @callback
        def _async_entry_changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
            if change is ConfigEntryChange.REMOVED and entry.entry_id in self.members:
                self.async_combine()

        self.config_entry.async_on_unload(
            async_dispatcher_connect(
                self.hass, SIGNAL_BALANCER_UPDATED, _async_member_updated
            )
        )
        self.config_entry.async_on_unload(
            async_dispatcher_connect(
                self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, _async_entry_changed
            )
        )

    @callback
    def async_link_members(self) -> None:
        """Link the pack's device and its balancers' (those set up by now; the
        others at their first update). Balancers taken out of the pack no
        longer show it as theirs."""
        registry = dr.async_get(self.hass)
        pack = self._pack_device(registry)
        for entry in self.hass.config_entries.async_entries(DOMAIN):
            if entry.entry_id in self.members:
                self._async_link(registry, pack, entry.entry_id)
                continue
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
                if device.via_device_id == pack.id:
                    registry.async_update_device(device.id, via_device_id=None)

    def _pack_device(self, registry: dr.DeviceRegistry) -> dr.DeviceEntry:
        return registry.async_get_or_create(
            config_entry_id=self.config_entry.entry_id, **self.device_info
        )

    @callback
    def _async_link(
        self, registry: dr.DeviceRegistry, pack: dr.DeviceEntry, entry_id: str
    ) -> None:
        """The balancer's device is connected via the pack's: the pack's page
        lists its balancers, each balancer's page names its pack."""
        for device in dr.async_entries_for_config_entry(registry, entry_id):
            if device.via_device_id != pack.id:
                registry.async_update_device(device.id, via_device_id=pack.id)
            self._linked.add(entry_id)

    @callback
    def async_combine(self) -> None:
        """Combine the balancers' newest snapshots, or say why they cannot be.

        A balancer not reached (reloading, out of range) is expected and
        passes: the pack's entities say so, and the balancer logs its own
        trouble; it is no error of the pack's.
        """
        try:
            self.async_set_updated_data(self._combine())
        except UpdateFailed as err:
            self.last_exception = err
            if self.last_update_success:
                _LOGGER.info("%s: figures unavailable: %s", self.name, err)
                self.last_update_success = False
                self.async_update_listeners()

    async def _async_update_data(self) -> CascadedPack:
        return self._combine()

    def _combine(self) -> CascadedPack:
        self._async_check_members()
        units = []
        for number, entry_id in enumerate(self.members, start=1):
            cells = self._cells(entry_id)
            if isinstance(cells, str):
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key=f"pack_unit_{cells}",
                    translation_placeholders={
                        "name": self.name,
                        "unit": str(number),
                        "balancer": self.member_title(entry_id),
                    },
                )
            units.append(cells)
        return cascade(units)

    def _cells(self, entry_id: str) -> CellInfo | str:
        """The balancer's newest cells, or why they cannot be used now."""
        if self.hass.config_entries.async_get_entry(entry_id) is None:
            return "deleted"
        if (coordinator := self._reached(entry_id)) is None:
            return "not_reached"
        if not coordinator.data.cell_info.cell_voltages:
            return "no_cells"
        return coordinator.data.cell_info

    def _reached(self, entry_id: str) -> BalancerCoordinator | None:
        """The balancer's coordinator while it is set up and reached."""
        entry = self.hass.config_entries.async_get_entry(entry_id)
        coordinator = (
            getattr(entry, "runtime_data", None)
            if entry is not None and entry.state in _PRESENT_STATES
            else None
        )
        if (
            not isinstance(coordinator, BalancerCoordinator)
            or coordinator.closing
            or not coordinator.last_update_success
        ):
            return None
        return coordinator

    def first_member(self) -> BalancerCoordinator | None:
        """The first balancer of the pack that is reached (its chemistry and
        power-off voltage stand for the pack's)."""
        return next(
            (c for m in self.members if (c := self._reached(m)) is not None), None
        )

    @callback
    def _async_check_members(self) -> None:
        """A repair while a balancer of the pack was deleted, cleared once none is."""
        entries = self.hass.config_entries
        deleted = [m for m in self.members if entries.async_get_entry(m) is None]
        issues = self.hass.data[IGNORED]
        if not deleted:
            issues.async_clear(PACK_MEMBER_MISSING, self.config_entry)
            return
        issues.async_raise(
            PACK_MEMBER_MISSING,
            self.config_entry,
            **warning(
                PACK_MEMBER_MISSING,
                self.config_entry,
                is_fixable=True,
                severity=ir.IssueSeverity.ERROR,
                translation_placeholders={
                    "units": ", ".join(
                        str(self.members.index(member) + 1) for member in deleted
                    ),
                },
            ),
        )

    def member_title(self, entry_id: str) -> str:
        """The balancer's name, or its entry id once it was deleted."""
        entry = self.hass.config_entries.async_get_entry(entry_id)
        return entry_id if entry is None else entry.title
