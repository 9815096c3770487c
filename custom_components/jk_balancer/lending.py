"""Lending a balancer's link to the JK app on the owner's phone.

A Bluetooth device takes one connection at a time. Lent, Home Assistant lets
go of it for a while: nothing connects, retries or watches, and what the
device said last stands. The link comes back when the time is up (a Home
Assistant timer, on the monotonic clock: a corrected wall clock stretches
nothing) or when the owner takes it back. The wall-clock end is only shown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import logging
from typing import Final, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

DEFAULT_LEND_MINUTES: Final = 15
MIN_LEND_MINUTES: Final = 1
MAX_LEND_MINUTES: Final = 240

_LOGGER = logging.getLogger(__name__)


class Borrowed(Protocol):
    """What lends its link: the balancer's coordinator."""

    @property
    def closing(self) -> bool:
        """Return True once the entry unloads."""

    def async_gap(self) -> None:
        """What the pack does while lent is not known."""

    async def async_settle(self) -> None:
        """End the reads in flight, let a write finish."""

    def async_update_listeners(self) -> None:
        """Show the entities' new state."""


class LinkLending:
    """Lends one link and takes it back.

    ``let_go`` drops the link (and stops what watches it); ``take_back``
    reaches the device again at once.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        name: str,
        *,
        let_go: Callable[[], Awaitable[None]],
        take_back: Callable[[], None],
    ) -> None:
        """Lend the link of the balancer ``name``."""
        self._hass = hass
        self._name = name
        self._let_go = let_go
        self._take_back = take_back
        self._coordinator: Borrowed | None = None
        # The owner's choice for the next lend.
        self.minutes: float = DEFAULT_LEND_MINUTES
        self._until: datetime | None = None
        self._over: CALLBACK_TYPE | None = None

    @property
    def until(self) -> datetime | None:
        """When the lent link comes back, as the wall clock said when it was
        lent (None: not lent)."""
        return self._until

    @callback
    def async_start(self, coordinator: Borrowed) -> None:
        """Lend on behalf of ``coordinator`` from now on."""
        self._coordinator = coordinator

    async def async_lend(self) -> None:
        """Let go of the device for :attr:`minutes`, then take it back.

        Reads under way end, a write under way finishes first, and the link
        is dropped. Lent again, the time starts over.
        """
        coordinator = self._coordinator
        if coordinator is None or coordinator.closing:
            return
        self._stop_timer()
        lend = timedelta(minutes=self.minutes)
        self._until = until = dt_util.utcnow() + lend
        self._over = async_call_later(self._hass, lend, self._async_over)
        coordinator.async_gap()
        await coordinator.async_settle()
        if self._until is not until:
            return  # taken back (or lent again) meanwhile: that one decides
        await self._let_go()
        _LOGGER.debug("%s: link lent until %s", self._name, until)
        coordinator.async_update_listeners()

    @callback
    def async_take_back(self) -> None:
        """The link is Home Assistant's again: reach the device now."""
        if self._until is None:
            return
        self._stop_timer()
        self._until = None
        _LOGGER.debug("%s: link taken back", self._name)
        if self._coordinator is not None:
            self._coordinator.async_update_listeners()
        self._take_back()

    @callback
    def async_stop(self) -> None:
        """The entry unloads: no timer outlives it."""
        self._stop_timer()

    @callback
    def _async_over(self, _now: datetime) -> None:
        self._over = None
        self.async_take_back()

    @callback
    def _stop_timer(self) -> None:
        if self._over is not None:
            self._over()
            self._over = None
