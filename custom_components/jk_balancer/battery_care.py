"""Battery care for one balancer: imbalance and the drifting cell.

Fed with every published snapshot; the drift window is stored, so a restart
of Home Assistant does not forget which cell has been falling behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
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

STORAGE_VERSION = 1
# Drift changes slowly: store it at most this often.
SAVE_DELAY = 300  # s


class BatteryCare:
    """Imbalance watch and drift tracker of one balancer."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Set up for ``entry``; its options say the threshold (mV) and hold (s)."""
        self._hass = hass
        self._entry = entry
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.drift"
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

    def threshold(self, snapshot: Snapshot) -> float:
        """The imbalance threshold in V: the user's, or from the trigger."""
        if (millivolts := self._options.get(CONF_IMBALANCE_THRESHOLD)) is not None:
            return float(millivolts) / 1000
        return default_imbalance_threshold(snapshot.settings.balance_trigger_voltage)

    def chemistry(self, snapshot: Snapshot) -> Chemistry:
        """The pack's chemistry: the user's choice, or what the cells suggest."""
        chosen = self._options.get(CONF_CHEMISTRY, CHEMISTRY_AUTO)
        if chosen == CHEMISTRY_AUTO:
            return infer_chemistry(snapshot.cell_info)
        return Chemistry(chosen)

    async def async_load(self) -> None:
        """Restore the drift window stored before."""
        if (data := await self._store.async_load()) is not None:
            self.tracker = DriftTracker.from_data(data)
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
        self.tracker.add(cells.cell_voltages, now)
        self.drift = self.tracker.drift(now)
        self._store.async_delay_save(self.tracker.to_data, SAVE_DELAY)

    async def async_save(self) -> None:
        """Store the drift window now (Home Assistant stops, the entry unloads)."""
        await self._store.async_save(self.tracker.to_data())
