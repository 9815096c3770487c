"""Battery care for one balancer: imbalance, the drifting cell and the chemistry.

Fed with every published snapshot. The drift window, whether the cells are
out of balance and the chemistries the cells ruled out are stored, so
neither a reload nor a restart of Home Assistant forgets which cell has been
falling behind, sets "out of balance" back to OK until the hold time has
passed again, or takes the pack for another chemistry. What is stored is
checked like a frame: what cannot be used is dropped with one warning.

Every duration runs on the event loop's monotonic clock; the drift window's
times are wall-clock seconds (they are stored across restarts), counted on
from the wall clock at set-up by the monotonic one, so a wall clock
corrected meanwhile neither stretches nor empties the window.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .options import EntryOptions
from .protocol import (
    Chemistry,
    ChemistryWatch,
    Drift,
    DriftTracker,
    ImbalanceWatch,
    PackChemistry,
    Snapshot,
    default_imbalance_threshold,
)

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# 2: whether the cells are out of balance is stored too; 3: the chemistries
# the cells ruled out.
STORAGE_MINOR_VERSION = 3
# Drift changes slowly: store it at most this often (and when Home Assistant
# stops or the entry unloads).
SAVE_DELAY = 300  # s


class CareStore(Store[dict[str, Any]]):
    """The stored care of one balancer; another version's format is dropped."""

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Any
    ) -> dict[str, Any]:
        if old_major_version == STORAGE_VERSION:
            # Checked when loaded, like any stored data (it may be no dict).
            return cast("dict[str, Any]", old_data)
        # Written by another version of the integration (a downgrade, or an
        # upgrade undone): its window cannot be read, so a new one starts.
        _LOGGER.warning(
            "%s: the stored drift window has format %s, which this version "
            "cannot read; starting a new one",
            self.key,
            old_major_version,
        )
        return {}


class BatteryCare:
    """Imbalance watch, drift tracker and chemistry watch of one balancer."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, options: EntryOptions
    ) -> None:
        """Set up for ``entry``, with its ``options`` (threshold, hold, chemistry)."""
        self._hass = hass
        self._entry = entry
        self._options = options
        self._store = care_store(hass, entry)
        self.tracker = DriftTracker()
        self.watch = ImbalanceWatch(threshold=0.0, hold=self.hold)
        self.chemistry_watch = ChemistryWatch()
        self.drift: Drift | None = None
        # The drift window's clock: wall-clock seconds at set-up, counted on
        # by the monotonic clock.
        self._wall_at_start = dt_util.utcnow().timestamp() - hass.loop.time()

    @property
    def hold(self) -> float:
        """Seconds the delta must stay beyond the threshold."""
        return self._options.current.imbalance_hold

    def drifting_cell(self, snapshot: Snapshot) -> int | None:
        """The cell that drifts away from the others, if one does."""
        drift = self.drift
        if drift is None or not drift.drifts(snapshot.settings.balance_trigger_voltage):
            return None
        return drift.cell

    def threshold(self, snapshot: Snapshot) -> float:
        """The imbalance threshold in V: the user's, or from the trigger."""
        if (millivolts := self._options.current.imbalance_threshold) is not None:
            return millivolts / 1000
        return default_imbalance_threshold(snapshot.settings.balance_trigger_voltage)

    @property
    def chosen_chemistry(self) -> Chemistry | None:
        """The chemistry the user chose, or None to go by the cells."""
        return self._options.current.chemistry

    @property
    def pack_chemistry(self) -> PackChemistry:
        """The pack's chemistry: the user's choice, or what the cells left."""
        return self.chemistry_watch.pack_chemistry(self.chosen_chemistry)

    def contradicted_chemistry(self, *, warned: bool) -> Chemistry | None:
        """The chemistry the cells have stayed beyond (chosen, or the last left)."""
        return self.chemistry_watch.contradicted(self.chosen_chemistry, warned=warned)

    def _now(self) -> float:
        """Wall-clock seconds, on the monotonic clock since set-up."""
        return self._wall_at_start + self._hass.loop.time()

    async def async_load(self) -> None:
        """Restore what was stored before; drop what cannot be used."""
        try:
            # Typed as a mapping, but it is whatever was stored.
            data: Any = await self._store.async_load()
        except HomeAssistantError as err:
            # From 2026.11 a newer format is refused before it can be migrated.
            _LOGGER.warning(
                "%s: the stored drift window cannot be read (%s); starting a new one",
                self._entry.title,
                err,
            )
            return
        if not data:  # nothing stored, or another format (already warned)
            return
        problems: list[str] = []
        if isinstance(data, Mapping):
            self.tracker, problem = DriftTracker.restore(data)
            problems += [problem] if problem else []
            stored_state = data.get("out_of_balance", False)
            if isinstance(stored_state, bool):
                self.watch.out_of_balance = stored_state
            else:
                problems.append(f"out of balance: {stored_state!r}")
            self.chemistry_watch, problem = ChemistryWatch.restore(
                data.get("chemistry_ruled_out")
            )
            problems += [problem] if problem else []
        else:
            problems.append("not a mapping")
        if problems:
            _LOGGER.warning(
                "%s: dropped what cannot be used of the stored battery care "
                "(%s); the rest is kept",
                self._entry.title,
                "; ".join(problems),
            )
        self.drift = self.tracker.drift(self._now())

    @callback
    def async_update(self, snapshot: Snapshot) -> None:
        """Take a new snapshot."""
        cells = snapshot.cell_info
        monotonic = self._hass.loop.time()
        self.watch.threshold = self.threshold(snapshot)
        self.watch.hold = self.hold
        self.watch.update(cells.delta_cell_voltage, monotonic)
        now = self._now()
        # A loose lead's frames tell of the wiring, not of the cells.
        if not snapshot.cell_count_mismatch:
            self.tracker.add(cells.cell_voltages, now)
            self.chemistry_watch.update(cells.cell_voltages, monotonic)
        self.drift = self.tracker.drift(now)
        self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> dict[str, Any]:
        return self.tracker.to_data() | {
            "out_of_balance": self.watch.out_of_balance,
            "chemistry_ruled_out": self.chemistry_watch.to_data(),
        }

    async def async_save(self) -> None:
        """Store the care now (the entry unloads)."""
        await self._store.async_save(self._data())


def care_store(hass: HomeAssistant, entry: ConfigEntry) -> CareStore:
    """Where the care of ``entry``'s balancer is stored."""
    return CareStore(
        hass,
        STORAGE_VERSION,
        f"{DOMAIN}.{entry.entry_id}.drift",
        minor_version=STORAGE_MINOR_VERSION,
    )


async def async_remove_care(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The balancer was removed: forget its care."""
    await care_store(hass, entry).async_remove()
