"""A balancer over Bluetooth: a kept-open link or one per update, through any proxy.

The link follows the device through Home Assistant's Bluetooth: the newest
``BLEDevice`` from its advertisements (it may now be heard through another
proxy), unavailable when no adapter or proxy hears it any more. A kept-open
link is watched: no measurement for a while, or a lost link, and it is
re-established at once. Connecting for each update, balancers take turns at
the proxies' few connection slots. Its identity is the Bluetooth address,
whichever radio reaches it. Home Assistant remembers a device for minutes
after the only proxy that heard it went offline, and connecting then fails as
if that proxy's slots were full: only an adapter or proxy online now counts as
reaching it.

A device takes one connection at a time, so the link can be lent to the JK app
on the owner's phone (:mod:`.lending`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from datetime import datetime
import logging
from typing import Any

from bleak.backends.device import BLEDevice
from habluetooth import HaScannerRegistration, HaScannerRegistrationEvent, get_manager
from homeassistant.components import bluetooth
from homeassistant.components.bluetooth.match import ADDRESS, BluetoothCallbackMatcher
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import UpdateFailed

from .connection_turns import async_get_turns
from .const import (
    CONF_PROTOCOL,
    DOMAIN,
    PROTOCOL_AUTO,
    WRITE_CONNECT_TIMEOUT,
    ConnectionMode,
    forced_protocol,
)
from .coordinator import BalancerCoordinator, BalancerLink
from .lending import LinkLending
from .options import EntryOptions
from .protocol import (
    STALE_AFTER,
    BluetoothClient,
    DeviceConnectionError,
    JKError,
    Snapshot,
)

_LOGGER = logging.getLogger(__name__)


class DeviceNotInRangeError(DeviceConnectionError):
    """No Bluetooth adapter or proxy that is online hears the device."""

    translation_key = "device_not_found"

    def __init__(self, address: str) -> None:
        """The error for the device at ``address``."""
        super().__init__(
            "not in range of any Bluetooth adapter or proxy that is online",
            address=address,
        )


def async_ble_device(hass: HomeAssistant, address: str) -> BLEDevice:
    """The newest connectable BLEDevice of ``address``, or DeviceNotInRangeError."""
    ble_device = bluetooth.async_ble_device_from_address(
        hass, address, connectable=True
    )
    if ble_device is None:
        raise DeviceNotInRangeError(address)
    return ble_device


def async_heard_now(hass: HomeAssistant, address: str) -> bool:
    """Return True when an adapter or proxy that is online hears ``address``."""
    return bool(
        bluetooth.async_scanner_devices_by_address(hass, address, connectable=True)
    )


class BluetoothLink(BalancerLink):
    """A balancer over Bluetooth."""

    client: BluetoothClient
    lending: LinkLending

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, options: EntryOptions
    ) -> None:
        """Reach the device of ``entry`` (it must be heard now)."""
        self.hass = hass
        self.entry = entry
        self.address: str = entry.data[CONF_ADDRESS]
        self.client = BluetoothClient(
            async_ble_device(hass, self.address),
            protocol=forced_protocol(entry.data.get(CONF_PROTOCOL, PROTOCOL_AUTO)),
            stale_after=STALE_AFTER,
        )
        self.connection_mode = options.current.connection_mode
        self.turns = async_get_turns(hass)
        self._coordinator: BalancerCoordinator | None = None
        self._watchdog: CALLBACK_TYPE | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self.lending = LinkLending(
            hass,
            entry.title,
            let_go=self._async_let_go,
            take_back=self._async_reconnect_now,
        )

    @property
    def device_key(self) -> str:
        """The Bluetooth address: the same through every adapter and proxy."""
        return self.address

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The Bluetooth address."""
        return {(CONNECTION_BLUETOOTH, self.address)}

    @property
    def per_update(self) -> bool:
        """Return True when the link is opened for each update only."""
        return self.connection_mode is ConnectionMode.PER_UPDATE

    @property
    def signal_strength(self) -> int | None:
        """The strength of the device's newest advertisement."""
        info = bluetooth.async_last_service_info(
            self.hass, self.address, connectable=False
        )
        return info.rssi if info else None

    def diagnostics(self) -> dict[str, Any]:
        """The client's link and frames, how the link is held, and any lend."""
        lent = self.lending.until
        return {
            "mode": self.connection_mode.value,
            "lent_until": None if lent is None else lent.isoformat(),
        } | self.client.diagnostics()

    @callback
    def async_start(self, coordinator: BalancerCoordinator) -> None:
        """Follow the device's advertisements and its link."""
        self._coordinator = coordinator
        self.lending.async_start(coordinator)
        entry = self.entry
        entry.async_on_unload(self.client.add_disconnect_listener(self._async_lost))
        entry.async_on_unload(
            bluetooth.async_register_callback(
                self.hass,
                self.async_device_seen,
                BluetoothCallbackMatcher({ADDRESS: self.address}),
                bluetooth.BluetoothScanningMode.PASSIVE,
            )
        )
        entry.async_on_unload(
            bluetooth.async_track_unavailable(
                self.hass, self.async_device_gone, self.address, connectable=True
            )
        )
        entry.async_on_unload(
            get_manager().async_register_scanner_registration_callback(
                self._async_scanner_changed, None
            )
        )

    def add_frame_listener(
        self, on_frame: Callable[[Snapshot], None], on_gap: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``on_frame`` with the snapshot of every cell-info frame, ``on_gap``
        for every frame torn or refused."""
        return self.client.add_listener(on_frame, on_gap)

    async def async_close(self) -> None:
        """Stop watching, close the link for good, leave the turns."""
        self._stop_watchdog()
        self.lending.async_stop()
        await self.client.close()
        self.turns.forget(self.address)

    # -- reading ---------------------------------------------------------------

    async def async_read(self) -> Snapshot:
        """Read (connecting for it in turn, or from the kept-open stream)."""
        try:
            if self.per_update:
                async with self.turns.turn(self.address):
                    try:
                        snapshot = await self._read()
                    finally:
                        await self.client.disconnect()
            else:
                snapshot = await self._read()
        except JKError:
            await self.client.disconnect()
            raise
        if not self.client.verify_password(self.entry.data[CONF_PASSWORD]):
            await self.client.disconnect()
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="password_changed",
                translation_placeholders={"name": self.entry.title},
            )
        if not self.per_update:
            self._watch_stream()
        return snapshot

    async def _read(self) -> Snapshot:
        """Through whichever adapter or proxy hears the device now."""
        if not self.client.is_connected:
            self.client.set_ble_device(async_ble_device(self.hass, self.address))
        try:
            return await self.client.read()
        except DeviceConnectionError as err:
            # Its only proxy may have gone offline: say so, not that its slots
            # were full.
            if self.client.closed or async_heard_now(self.hass, self.address):
                raise
            raise DeviceNotInRangeError(self.address) from err

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
        if self.lending.until is not None:
            return
        age = self.client.cell_info_age
        if self.client.is_connected and age is not None and age < STALE_AFTER:
            self._watch_stream()
            return
        self._async_failed(
            "stream_stalled", name=self.entry.title, seconds=f"{STALE_AFTER:g}"
        )
        self._async_reconnect_now()

    @callback
    def _async_lost(self) -> None:
        """The kept-open link dropped: reconnect now rather than at the next poll."""
        if self._coordinator is not None:
            self._coordinator.async_gap()
        if not self.per_update:
            self._stop_watchdog()
            self._async_reconnect_now()

    @callback
    def _async_reconnect_now(self) -> None:
        """Refresh at once, bypassing the debouncer.

        The debouncer would hold a second refresh within 10 s of the first, so a
        link lost twice in a row would stay down that long.
        """
        coordinator = self._coordinator
        if (
            coordinator is None
            or self.client.closed
            or self.lending.until is not None
            # Proxies drop their links as Home Assistant stops, and its
            # Bluetooth is going: no new connection now.
            or self.hass.is_stopping
        ):
            return
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = self.entry.async_create_background_task(
                self.hass, coordinator.async_refresh(), f"{DOMAIN} reconnect"
            )

    @callback
    def _async_failed(self, translation_key: str, **placeholders: str) -> None:
        if self._coordinator is not None:
            self._coordinator.async_gap()
            self._coordinator.async_set_update_error(
                UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key=translation_key,
                    translation_placeholders=placeholders,
                )
            )

    # -- the device in range or not --------------------------------------------

    @callback
    def async_device_seen(
        self,
        service_info: bluetooth.BluetoothServiceInfoBleak,
        _change: bluetooth.BluetoothChange,
    ) -> None:
        """Use the newest BLEDevice; retry at once if the device was gone."""
        self.client.set_ble_device(service_info.device)
        if self._coordinator is not None and not self._coordinator.last_update_success:
            self._async_reconnect_now()

    @callback
    def _async_scanner_changed(self, registration: HaScannerRegistration) -> None:
        """An adapter or proxy came (back) online: retry at once if failed.

        Its advertisements repeat what Home Assistant remembers from before,
        so they alone would not say that the device is reachable again.
        """
        if (
            registration.event is HaScannerRegistrationEvent.ADDED
            and self._coordinator is not None
            and not self._coordinator.last_update_success
        ):
            self._async_reconnect_now()

    @callback
    def async_device_gone(
        self, _service_info: bluetooth.BluetoothServiceInfoBleak
    ) -> None:
        """Home Assistant no longer hears the device: mark it unavailable.

        Connected to the JK app, a device stops advertising: that is no fault.
        """
        if not self.client.is_connected and self.lending.until is None:
            self._async_failed("device_not_found", address=self.address)

    # -- letting go of the device ---------------------------------------------

    async def _async_let_go(self) -> None:
        """Lent: drop the link and stop watching it."""
        self._stop_watchdog()
        await self.client.disconnect()

    async def async_release(self) -> None:
        """Drop the link now: a flow checks the device with a client of its own."""
        await self.client.disconnect()

    # -- writing ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def async_link_for_write(self) -> AsyncIterator[None]:
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
                        await self._read()
            except TimeoutError as err:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="write_unreachable",
                    translation_placeholders={
                        "name": self.entry.title,
                        "seconds": f"{WRITE_CONNECT_TIMEOUT:g}",
                    },
                ) from err
            yield
