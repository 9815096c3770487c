"""Coordinator: owns the balancer client and publishes its snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import asdict
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .care import PackCare
from .const import (
    CONF_CONNECTION_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ISSUE_CONFIRM_CELL_COUNT,
    ISSUE_CONFIRM_CELL_COUNT_FOR,
    STALE_AFTER,
    WRITE_CONNECT_TIMEOUT,
    ConnectionMode,
)
from .protocol import (
    JKBalancerClient,
    JKError,
    SettingOutOfRangeError,
    Snapshot,
    UnsafeSettingError,
    redact_passcodes,
    validate_write,
)
from .slots import async_get_turns

_LOGGER = logging.getLogger(__name__)

type JKBalancerConfigEntry = ConfigEntry[JKBalancerCoordinator]


class JKBalancerCoordinator(DataUpdateCoordinator[Snapshot]):
    """Keep the newest snapshot of one balancer and write its settings.

    What is common to every transport: looking after the pack, checking a
    write before anything is sent, publishing what the device holds after it.
    """

    config_entry: JKBalancerConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: JKBalancerConfigEntry, device_key: str
    ) -> None:
        """Set up the coordinator of the balancer known as ``device_key``."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(
                seconds=entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            ),
        )
        # Identifies the device and prefixes its entities' unique ids.
        self.device_key = device_key
        self.care = PackCare(hass, entry)

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The device registry's connections of the device."""
        return set()

    @property
    def newest_snapshot(self) -> Snapshot | None:
        """What the device said last, also after a failed write."""
        raise NotImplementedError

    def connection_diagnostics(self) -> dict[str, Any]:
        """The link's state and counters, for the diagnostics download."""
        raise NotImplementedError

    async def _async_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool
    ) -> None:
        """Write through the transport; JKError when it fails."""
        raise NotImplementedError

    def error_placeholders(self, err: JKError) -> dict[str, str]:
        """An error's placeholders, naming the device as the user named it.

        ``error`` is the reason unless the error says more precisely (a
        port's cause).
        """
        return {"error": err.reason} | err.placeholders | {"name": self.name}

    def validate_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool = False
    ) -> None:
        """Refuse a value the device would not take, or should not, before sending.

        Checked against the newest snapshot, so nothing is connected for it.
        """
        try:
            validate_write(
                self.data,
                key,
                value,
                chemistry=self.care.chemistry(self.data),
                fewer_cells_confirmed=fewer_cells_confirmed,
            )
        except UnsafeSettingError as err:
            if err.translation_key == ISSUE_CONFIRM_CELL_COUNT_FOR:
                self._offer_fewer_cells(int(value))
            raise _refused(err) from err
        except SettingOutOfRangeError as err:
            raise _refused(err) from err

    @callback
    def _offer_fewer_cells(self, cells: int) -> None:
        """After rewiring, fewer cells are wanted: confirm it as a repair.

        The repair states what follows and writes once the user confirms.
        """
        entry = self.config_entry
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{ISSUE_CONFIRM_CELL_COUNT}_{entry.entry_id}",
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_CONFIRM_CELL_COUNT,
            translation_placeholders={
                "name": entry.title,
                "cells": str(cells),
                "connected": str(self.data.cell_info.cell_count),
            },
            data={"entry_id": entry.entry_id, "cells": cells},
        )

    async def async_write_setting(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool = False
    ) -> None:
        """Write a setting, confirm it by read-back and publish the result.

        Whatever happens, entities afterwards show what the device holds.
        ``fewer_cells_confirmed``: the user confirmed a cell count below the
        cells connected (after rewiring).
        """
        self.validate_write(key, value, fewer_cells_confirmed=fewer_cells_confirmed)
        try:
            await self._async_write(
                key, value, fewer_cells_confirmed=fewer_cells_confirmed
            )
        except (SettingOutOfRangeError, UnsafeSettingError) as err:
            raise _refused(err) from err
        except JKError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=self.error_placeholders(err),
            ) from err
        finally:
            if (snapshot := self.newest_snapshot) is not None:
                self.async_set_updated_data(snapshot)


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
                translation_placeholders={"name": self.name, "error": err.reason},
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


def _refused(
    err: SettingOutOfRangeError | UnsafeSettingError,
) -> ServiceValidationError:
    """A value the protocol layer refused, as Home Assistant tells the user."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )
