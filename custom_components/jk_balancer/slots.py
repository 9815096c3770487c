"""Fair turns at the Bluetooth connection slots.

An ESPHome proxy offers few connection slots (often 3). Balancers that connect
for each update would otherwise race for them: whoever disconnects first asks
again first, so a few win every time and the rest never update. Here they
queue: first come, first served, as many at once as the radios have slots for
them, and a balancer that had its turn queues behind every one still waiting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
import contextlib
import math

from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

DATA_TURNS: HassKey[ConnectionTurns] = HassKey("jk_balancer_connection_turns")
# Assumed time of one connect-read-disconnect until one was measured.
DEFAULT_TURN_SECONDS = 1.5
# How often a waiting balancer looks whether a slot came free.
RECHECK_SECONDS = 1.0


class ConnectionTurns:
    """A first-come, first-served queue for connection slots."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start with nobody waiting."""
        self._hass = hass
        self._waiting: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._active: set[str] = set()
        # How long each balancer's last turn took, in seconds.
        self._durations: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def turn(self, address: str) -> AsyncIterator[None]:
        """Wait for ``address``'s turn and hold a slot while the block runs."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((address, future))
        self._admit()
        try:
            while not future.done():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RECHECK_SECONDS):
                        await asyncio.shield(future)
                # A proxy reports a freed slot some time after the link is
                # gone, when no turn ends to admit the next: look again.
                self._admit()
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release(address)
            else:
                future.cancel()
            raise
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            yield
        finally:
            self._durations[address] = loop.time() - started
            self._release(address)

    def forget(self, address: str) -> None:
        """The balancer no longer connects for each update."""
        self._durations.pop(address, None)

    def sustainable_interval(self, address: str) -> int:
        """Shortest update interval (s) every balancer taking turns can keep.

        Everyone in the queue, ``address`` included, takes its turn once per
        interval, as many at once as there are slots.
        """
        durations = dict(self._durations)
        durations.setdefault(address, DEFAULT_TURN_SECONDS)
        return max(1, math.ceil(sum(durations.values()) / self.capacity()))

    def capacity(self) -> int:
        """Slots the turn takers may use at once.

        The most any connectable radio offers, less the slots held by links
        that are not taking turns (kept-open links, other integrations). One
        when no radio reports its slots.
        """
        best = 1
        for scanner in bluetooth.async_current_scanners(self._hass):
            if not scanner.connectable:
                continue
            if (allocations := scanner.get_allocations()) is None:
                continue
            held_by_others = len(set(allocations.allocated) - self._active)
            best = max(best, allocations.slots - held_by_others)
        return best

    def _admit(self) -> None:
        capacity = self.capacity()
        while self._waiting and len(self._active) < capacity:
            address, future = self._waiting.popleft()
            if future.done():  # its caller gave up waiting
                continue
            self._active.add(address)
            future.set_result(None)

    def _release(self, address: str) -> None:
        self._active.discard(address)
        self._admit()


def async_get_turns(hass: HomeAssistant) -> ConnectionTurns:
    """The one queue of this Home Assistant instance."""
    if (turns := hass.data.get(DATA_TURNS)) is None:
        turns = hass.data[DATA_TURNS] = ConnectionTurns(hass)
    return turns
