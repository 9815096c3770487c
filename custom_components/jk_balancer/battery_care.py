"""Battery care for one balancer: imbalance and the drifting cell.

Fed with every published snapshot. The drift window and whether the cells are
out of balance are stored, so neither a reload nor a restart of Home
Assistant forgets which cell has been falling behind, or sets "out of
balance" back to OK until the hold time has passed again. What is stored is
checked like a frame: what cannot be used is dropped with one warning.
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

from .const import (
    CHEMISTRY_AUTO,
    CONF_CHEMISTRY,
    CONF_IMBALANCE_HOLD,
    CONF_IMBALANCE_THRESHOLD,
    DOMAIN,
)
from .protocol import (
    DEFAULT_IMBALANCE_HOLD,
    Chemistry,
    Drift,
    DriftTracker,
    ImbalanceWatch,
    Snapshot,
    default_imbalance_threshold,
    infer_chemistry,
)

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# 2: whether the cells are out of balance is stored too.
STORAGE_MINOR_VERSION = 2
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
    """Imbalance watch and drift tracker of one balancer."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Set up for ``entry``; its options say the threshold (mV) and hold (s)."""
        self._hass = hass
        self._entry = entry
        self._store = CareStore(
            hass,
            STORAGE_VERSION,
            f"{DOMAIN}.{entry.entry_id}.drift",
            minor_version=STORAGE_MINOR_VERSION,
        )
        self.tracker = DriftTracker()
        self.watch = ImbalanceWatch(threshold=0.0, hold=self.hold)
        self.drift: Drift | None = None

    @property
    def _options(self) -> Mapping[str, Any]:
        return self._entry.options

    @property
    def hold(self) -> float:
        """Seconds the delta must stay beyond the threshold."""
        return float(self._options.get(CONF_IMBALANCE_HOLD, DEFAULT_IMBALANCE_HOLD))

    def drifting_cell(self, snapshot: Snapshot) -> int | None:
        """The cell that drifts away from the others, if one does."""
        drift = self.drift
        if drift is None or not drift.drifts(snapshot.settings.balance_trigger_voltage):
            return None
        return drift.cell

    def threshold(self, snapshot: Snapshot) -> float:
        """The imbalance threshold in V: the user's, or from the trigger."""
        if (millivolts := self._options.get(CONF_IMBALANCE_THRESHOLD)) is not None:
            return float(millivolts) / 1000
        return default_imbalance_threshold(snapshot.settings.balance_trigger_voltage)

    @property
    def chosen_chemistry(self) -> Chemistry | None:
        """The chemistry the user chose, or None to go by the cells."""
        chosen = self._options.get(CONF_CHEMISTRY, CHEMISTRY_AUTO)
        return None if chosen == CHEMISTRY_AUTO else Chemistry(chosen)

    def chemistry(self, snapshot: Snapshot) -> Chemistry:
        """The pack's chemistry: the user's choice, or what the cells suggest."""
        return self.chosen_chemistry or infer_chemistry(snapshot.cell_info)

    async def async_load(self) -> None:
        """Restore the drift window and the imbalance state stored before."""
        try:
            data = await self._store.async_load()
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
        problem: str | None = "not a mapping"
        if isinstance(data, Mapping):
            self.tracker, problem = DriftTracker.restore(data)
            stored_state = data.get("out_of_balance", False)
            if isinstance(stored_state, bool):
                self.watch.out_of_balance = stored_state
            else:
                problem = problem or f"out of balance: {stored_state!r}"
        if problem is not None:
            _LOGGER.warning(
                "%s: dropped what cannot be used of the stored battery care "
                "(%s); the rest is kept",
                self._entry.title,
                problem,
            )
        self.drift = self.tracker.drift(dt_util.utcnow().timestamp())

    async def async_remove(self) -> None:
        """The balancer was removed: forget its drift."""
        await self._store.async_remove()

    @callback
    def async_update(self, snapshot: Snapshot) -> None:
        """Take a new snapshot."""
        cells = snapshot.cell_info
        self.watch.threshold = self.threshold(snapshot)
        self.watch.hold = self.hold
        self.watch.update(cells.delta_cell_voltage, self._hass.loop.time())
        now = dt_util.utcnow().timestamp()
        # A loose lead's frames tell of the wiring, not of how cells drift.
        if not snapshot.cell_count_mismatch:
            self.tracker.add(cells.cell_voltages, now)
        self.drift = self.tracker.drift(now)
        self._store.async_delay_save(self._data, SAVE_DELAY)

    def _data(self) -> dict[str, Any]:
        return self.tracker.to_data() | {"out_of_balance": self.watch.out_of_balance}

    async def async_save(self) -> None:
        """Store the care now (the entry unloads)."""
        await self._store.async_save(self._data())
