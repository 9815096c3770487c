"""One coordinator for every balancer: the lifecycle written once.

Whatever the transport, a balancer's coordinator reads snapshots through its
link, writes settings (checked before anything is sent, confirmed by the
client), publishes what the device holds and looks after the pack. The
transport's own part (Bluetooth: advertisements, proxy slots, the stream
watchdog; RS485: the shared port) is a :class:`BalancerLink` in the module
named for it.

Every operation on the link runs as a task the coordinator owns. When the
entry unloads, the link's client is closed (it opens nothing again), what is
still in flight is cancelled and awaited, and only then is unloading done: no
operation outlives its entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
import contextlib
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.translation import async_get_cached_translations
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .battery_care import BatteryCare
from .const import DOMAIN
from .issues import async_offer_fewer_cells, async_withdraw_fewer_cells
from .lending import LinkLending
from .options import EntryOptions
from .protocol import (
    CELL_COUNT_BELOW_CONNECTED,
    STALE_AFTER,
    BalancerClient,
    EnergyMeter,
    JKError,
    LinkClosedError,
    SettingOutOfRangeError,
    Snapshot,
    UnsafeSettingError,
    validate_write,
)

_LOGGER = logging.getLogger(__name__)


class BalancerLink(ABC):
    """How one transport reaches a balancer, around its client."""

    client: BalancerClient

    @property
    @abstractmethod
    def device_key(self) -> str:
        """What identifies the device: its registry identifier, its ids' prefix.

        It must not change when the balancer is reached another way (another
        proxy, another port or adapter).
        """

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The device registry's connections of the device."""
        return set()

    @property
    def signal_strength(self) -> int | None:
        """The radio signal the device is heard with, where there is one."""
        return None

    # Set where the link can be lent to the JK app (a device with one
    # connection at a time); a bus is shared, not held.
    lending: LinkLending | None = None

    @callback  # noqa: B027 - a link may have nothing to follow
    def async_start(self, coordinator: BalancerCoordinator) -> None:
        """Follow what the transport reports (for as long as the entry is loaded).

        Nothing to follow by default: an RS485 balancer is only ever asked.
        """

    @abstractmethod
    async def async_read(self) -> Snapshot:
        """A current snapshot (JKError, or a Home Assistant error to raise)."""

    def add_frame_listener(
        self, on_frame: Callable[[Snapshot], None], on_gap: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``on_frame`` with every snapshot between reads, ``on_gap`` for a
        frame that was lost or refused; return the remover.

        Only a Bluetooth link streams; a bus is only ever asked.
        """
        return lambda: None

    async def async_release(self) -> None:  # noqa: B027 - a bus holds nothing
        """Let another client reach the device now (it takes one at a time);
        the next update reaches it again."""

    @contextlib.asynccontextmanager
    async def async_link_for_write(self) -> AsyncIterator[None]:
        """Whatever a write needs around it (a connection, a turn at a slot)."""
        yield

    def diagnostics(self) -> dict[str, Any]:
        """The link's state and counters, for the diagnostics download."""
        return self.client.diagnostics()

    async def async_close(self) -> None:
        """Close the client for good and release what the link holds."""
        await self.client.close()


class BalancerCoordinator(DataUpdateCoordinator[Snapshot]):
    """Keep the newest snapshot of one balancer and write its settings."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        link: BalancerLink,
        options: EntryOptions,
    ) -> None:
        """Set up the coordinator of the balancer ``link`` reaches."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(seconds=options.current.update_interval),
        )
        # The link is the transport's part; the client it reaches the device
        # with is the coordinator's to read and write through.
        self.link = link
        self.client: BalancerClient = link.client
        self.options = options
        self.care = BatteryCare(hass, entry, options)
        # A JK BMS's energy in and out; None for a balancer (no pack current).
        self.energy: EnergyMeter | None = None
        self._operations: set[asyncio.Task[Any]] = set()
        # The reads among them: lending the link cancels them, not a write.
        self._reads: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def device_key(self) -> str:
        """Identifies the device and prefixes its entities' unique ids."""
        return self.link.device_key

    @property
    def lending(self) -> LinkLending | None:
        """Lends the link to the JK app, where the transport can (None)."""
        return self.link.lending

    @property
    def lent_until(self) -> datetime | None:
        """When the link lent to the JK app comes back (None: not lent)."""
        return None if self.link.lending is None else self.link.lending.until

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The device registry's connections of the device."""
        return self.link.connections

    @property
    def signal_strength(self) -> int | None:
        """The radio signal the device is heard with, where there is one."""
        return self.link.signal_strength

    def link_diagnostics(self) -> dict[str, Any]:
        """The link's state and counters, for the diagnostics download."""
        return self.link.diagnostics()

    async def async_release_link(self) -> None:
        """Let a client of the user's (a flow's check) reach the device now."""
        await self.link.async_release()

    @property
    def closing(self) -> bool:
        """Return True once the entry unloads: nothing new starts on the link."""
        return self._closing

    @property
    def newest_snapshot(self) -> Snapshot | None:
        """What the device said last, also after a failed write."""
        return self.client.snapshot

    def translated[E: HomeAssistantError](self, kind: type[E], err: JKError) -> E:
        """``err`` as Home Assistant tells it, naming the device as the user did.

        ``error`` is the reason unless the error says more precisely (a
        port's cause); a setting is named as its entity is.
        """
        placeholders = {"error": err.reason} | err.placeholders | {"name": self.name}
        if (setting := placeholders.get("setting")) is not None:
            placeholders["setting"] = self._setting_name(setting)
        return kind(
            translation_domain=DOMAIN,
            translation_key=err.translation_key,
            translation_placeholders=placeholders,
        )

    def _lent[E: HomeAssistantError](
        self, kind: type[E], translation_key: str, until: datetime
    ) -> E:
        """Why nothing is asked of the device: its link is lent until ``until``."""
        return kind(
            translation_domain=DOMAIN,
            translation_key=translation_key,
            translation_placeholders={
                "name": self.name,
                "until": dt_util.as_local(until).strftime("%H:%M"),
            },
        )

    def _setting_name(self, key: str) -> str:
        """The setting's entity name in the user's language (the key without one)."""
        names = async_get_cached_translations(
            self.hass, self.hass.config.language, "entity", DOMAIN
        )
        return names.get(
            f"component.{DOMAIN}.entity.number.{key}.name",
            names.get(f"component.{DOMAIN}.entity.switch.{key}.name", key),
        )

    async def async_start(self) -> None:
        """Restore the care's window, follow the transport, read the first time."""
        await self.care.async_load()
        self.link.async_start(self)
        await self.async_config_entry_first_refresh()
        if self.data.measures_pack_current:
            # Frames stream every 0.5 s; connecting per update, samples come
            # an interval apart (later when waiting for a slot).
            interval = self.update_interval or timedelta()
            self.energy = EnergyMeter(
                max_gap=max(STALE_AFTER, 2 * interval.total_seconds())
            )
            self.config_entry.async_on_unload(
                self.link.add_frame_listener(self.async_measured, self.async_gap)
            )

    @callback
    def async_measured(self, snapshot: Snapshot) -> None:
        """A frame arrived: count the pack's energy since the one before."""
        if self.energy is not None and (power := snapshot.cell_info.power) is not None:
            self.energy.add(self.hass.loop.time(), power)

    @callback
    def async_gap(self) -> None:
        """What the pack does from now until the next frame is not known."""
        if self.energy is not None:
            self.energy.interrupt()

    async def async_shutdown(self) -> None:
        """The entry unloads: close the link, then end what is in flight."""
        self._closing = True
        await super().async_shutdown()
        await self.link.async_close()
        operations = list(self._operations)
        for task in operations:
            task.cancel()
        await asyncio.gather(*operations, return_exceptions=True)

    async def _in_flight[T](
        self, work: Coroutine[Any, Any, T], *, read: bool = False
    ) -> T:
        """Run ``work`` on the link as a task that unloading ends.

        A ``read`` also ends when the link is lent (:meth:`async_settle`).
        """
        if self._closing:
            work.close()
            raise LinkClosedError("unloaded", name=self.name)
        task = self.hass.async_create_task(work, f"{DOMAIN} {self.name}")
        self._operations.add(task)
        task.add_done_callback(self._operations.discard)
        if read:
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
        try:
            return await task
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if self.closing and not (caller is not None and caller.cancelling()):
                raise LinkClosedError(
                    "unloaded before it finished", name=self.name
                ) from None
            raise

    async def async_settle(self) -> None:
        """End the reads in flight and let a write finish (the link is lent)."""
        for task in self._reads:
            task.cancel()
        await asyncio.gather(*self._operations, return_exceptions=True)

    @property
    def lent(self) -> bool:
        """Return True while the JK app has the link (values are from before)."""
        return self.lent_until is not None

    async def _async_update_data(self) -> Snapshot:
        if (until := self.lent_until) is not None:
            # Nothing is asked of the device meanwhile. What it said last
            # stands, unless it could not be reached before the lend.
            if not self.last_update_success:
                raise self._lent(UpdateFailed, "lent_while_unreachable", until)
            return self.data
        try:
            return await self._in_flight(self.link.async_read(), read=True)
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            lent = self.lent_until is not None  # (it may be, since the check)
            if lent and not (caller is not None and caller.cancelling()):
                return self.data  # the read was ended to lend the link
            raise
        except JKError as err:
            self.async_gap()
            raise self.translated(UpdateFailed, err) from err
        except BaseException:
            self.async_gap()
            raise

    # -- writing ---------------------------------------------------------------

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
                chemistry=self.care.pack_chemistry,
                fewer_cells_confirmed=fewer_cells_confirmed,
            )
        except UnsafeSettingError as err:
            if err.translation_key == CELL_COUNT_BELOW_CONNECTED:
                async_offer_fewer_cells(
                    self.hass,
                    self.config_entry,
                    int(value),
                    self.data.cell_info.cell_count,
                )
            raise self.translated(ServiceValidationError, err) from err
        except SettingOutOfRangeError as err:
            raise self.translated(ServiceValidationError, err) from err

    async def async_write_setting(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool = False
    ) -> None:
        """Write a setting, confirm it by read-back and publish the result.

        Whatever happens, entities afterwards show what the device holds:
        what it said during the write, or (heard from nothing) what they
        showed before. ``fewer_cells_confirmed``: the user confirmed a cell
        count below the cells connected (after rewiring).
        """
        if (until := self.lent_until) is not None:
            raise self._lent(HomeAssistantError, "link_lent", until)
        self.validate_write(key, value, fewer_cells_confirmed=fewer_cells_confirmed)
        before = self.newest_snapshot
        try:
            await self._in_flight(self._async_write(key, value, fewer_cells_confirmed))
        except (SettingOutOfRangeError, UnsafeSettingError) as err:
            raise self.translated(ServiceValidationError, err) from err
        except JKError as err:
            raise self.translated(HomeAssistantError, err) from err
        finally:
            snapshot = self.newest_snapshot
            # A snapshot the device sent during the write; the one from
            # before is no news (the device may not answer any more).
            if not self._closing and snapshot is not None and snapshot is not before:
                self.async_set_updated_data(snapshot)
        if key == "cell_count":
            async_withdraw_fewer_cells(self.hass, self.config_entry)

    async def _async_write(
        self, key: str, value: float | bool, fewer_cells_confirmed: bool
    ) -> None:
        async with self.link.async_link_for_write():
            await self.client.write_setting(
                key,
                value,
                chemistry=self.care.pack_chemistry,
                fewer_cells_confirmed=fewer_cells_confirmed,
            )
