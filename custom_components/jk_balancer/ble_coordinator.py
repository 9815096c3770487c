"""The coordinator of a balancer over Bluetooth: a kept-open link or one per update."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import asdict
from datetime import datetime
import logging
from typing import Any

from homeassistant.components import bluetooth
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
)
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import (
    CONF_CONNECTION_MODE,
    DOMAIN,
    STALE_AFTER,
    WRITE_CONNECT_TIMEOUT,
    ConnectionMode,
)
from .coordinator import JKBalancerConfigEntry, JKBalancerCoordinator
from .protocol import (
    JKBalancerClient,
    JKError,
    Snapshot,
    redact_passcodes,
)
from .slots import async_get_turns

_LOGGER = logging.getLogger(__name__)


class BluetoothCoordinator(JKBalancerCoordinator):
    """A balancer over Bluetooth: a kept-open link or one per update."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: JKBalancerConfigEntry,
        client: JKBalancerClient,
    ) -> None:
        """Set up the coordinator for ``client``."""
        self.address: str = entry.data[CONF_ADDRESS]
        super().__init__(hass, entry, self.address)
        self.client = client
        self.connection_mode = ConnectionMode(
            entry.options.get(CONF_CONNECTION_MODE, ConnectionMode.PERSISTENT)
        )
        self.turns = async_get_turns(hass)
        self._watchdog: CALLBACK_TYPE | None = None
        self._reconnect: asyncio.Task[None] | None = None

    @property
    def per_update(self) -> bool:
        """Return True when the link is opened for each update only."""
        return self.connection_mode is ConnectionMode.PER_UPDATE

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The Bluetooth address."""
        return {(CONNECTION_BLUETOOTH, self.address)}

    @property
    def newest_snapshot(self) -> Snapshot | None:
        """The client's newest snapshot."""
        return self.client.snapshot

    def connection_diagnostics(self) -> dict[str, Any]:
        """The link, the frames it rejected and the raw frames last received."""
        client = self.client
        return {
            "connected": client.is_connected,
            "mode": self.connection_mode.value,
            "last_update_success": self.last_update_success,
            "rejected_frames": client.rejected_frames,
            "assembler": asdict(client.stats),
            "last_frames": {
                frame_type.key: redact_passcodes(raw).hex(" ")
                for frame_type, raw in client.last_frames.items()
            },
        }

    async def async_shutdown(self) -> None:
        """Close the link when the entry unloads or Home Assistant stops."""
        self._stop_watchdog()
        await super().async_shutdown()
        await self.client.disconnect()
        self.turns.forget(self.address)

    # -- reading ---------------------------------------------------------------

    async def _async_update_data(self) -> Snapshot:
        try:
            if self.per_update:
                async with self.turns.turn(self.address):
                    try:
                        snapshot = await self._async_connect()
                    finally:
                        await self.client.disconnect()
            else:
                snapshot = await self._async_read()
        except JKError as err:
            await self.client.disconnect()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=self.error_placeholders(err),
            ) from err
        if not self.client.verify_password(self.config_entry.data[CONF_PASSWORD]):
            await self.client.disconnect()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="password_changed",
                translation_placeholders={"name": self.name},
            )
        if not self.per_update:
            self._watch_stream()
        return snapshot

    async def _async_read(self) -> Snapshot:
        snapshot = self.client.snapshot
        age = self.client.cell_info_age
        if (
            self.client.is_connected
            and snapshot is not None
            and age is not None
            and age < STALE_AFTER
        ):
            return snapshot
        if self.client.is_connected:
            _LOGGER.debug("%s: no data for %s s, reconnecting", self.name, age)
            await self.client.disconnect()
        return await self._async_connect()

    async def _async_connect(self) -> Snapshot:
        """Connect through whichever adapter or proxy hears the device now."""
        ble_device = bluetooth.async_ble_device_from_address(
            self.hass, self.address, connectable=True
        )
        if ble_device is None:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_not_found",
                translation_placeholders={"address": self.address},
            )
        self.client.set_ble_device(ble_device)
        return await self.client.connect()

    # -- a kept-open link ------------------------------------------------------

    @callback
    def _watch_stream(self) -> None:
        """Check again once the newest frame is as old as the stream timeout."""
        self._stop_watchdog()
        age = self.client.cell_info_age or 0.0
        self._watchdog = async_call_later(
            self.hass, max(STALE_AFTER - age, 0.1), self._async_check_stream
        )

    @callback
    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog()
            self._watchdog = None

    @callback
    def _async_check_stream(self, _now: datetime) -> None:
        """Values older than the stream timeout are not shown as current."""
        self._watchdog = None
        age = self.client.cell_info_age
        if self.client.is_connected and age is not None and age < STALE_AFTER:
            self._watch_stream()
            return
        self.async_set_update_error(
            UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="stream_stalled",
                translation_placeholders={
                    "name": self.name,
                    "seconds": f"{STALE_AFTER:g}",
                },
            )
        )
        self._async_reconnect_now()

    @callback
    def async_link_lost(self) -> None:
        """The kept-open link dropped: reconnect now rather than at the next poll."""
        if not self.per_update:
            self._stop_watchdog()
            self._async_reconnect_now()

    @callback
    def _async_reconnect_now(self) -> None:
        """Refresh at once, bypassing the debouncer.

        The debouncer would hold a second refresh within 10 s of the first, so a
        link lost twice in a row would stay down that long.
        """
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = self.config_entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{DOMAIN} reconnect {self.address}"
            )

    # -- the device in range or not --------------------------------------------

    @callback
    def async_device_seen(
        self, service_info: bluetooth.BluetoothServiceInfoBleak
    ) -> None:
        """Use the newest BLEDevice; retry at once if the device was gone."""
        self.client.set_ble_device(service_info.device)
        if not self.last_update_success:
            self._async_reconnect_now()

    @callback
    def async_device_gone(
        self, _service_info: bluetooth.BluetoothServiceInfoBleak
    ) -> None:
        """Home Assistant no longer hears the device: mark it unavailable."""
        if self.client.is_connected:
            return
        self.async_set_update_error(
            UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="device_not_found",
                translation_placeholders={"address": self.address},
            )
        )

    # -- writing ---------------------------------------------------------------

    async def _async_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool
    ) -> None:
        try:
            async with self._link_for_write():
                await self.client.write_setting(
                    key,
                    value,
                    chemistry=self.care.chemistry(self.data),
                    fewer_cells_confirmed=fewer_cells_confirmed,
                )
        except UpdateFailed as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="device_not_found",
                translation_placeholders={"address": self.address},
            ) from err

    @contextlib.asynccontextmanager
    async def _link_for_write(self) -> AsyncIterator[None]:
        """A connection for a write, reached within WRITE_CONNECT_TIMEOUT.

        A vanished device would otherwise hold the write for every retry of the
        Bluetooth stack (a minute and more). Connecting for each update, the
        write waits its turn at the slots like an update and disconnects after.
        """
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(WRITE_CONNECT_TIMEOUT):
                    if self.per_update:
                        await stack.enter_async_context(self.turns.turn(self.address))
                        stack.push_async_callback(self.client.disconnect)
                    if not self.client.is_connected:
                        await self._async_connect()
            except TimeoutError as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="write_unreachable",
                    translation_placeholders={
                        "name": self.name,
                        "seconds": f"{WRITE_CONNECT_TIMEOUT:g}",
                    },
                ) from err
            yield
