"""Fair turns at the Bluetooth connection slots, radio by radio.

An ESPHome proxy offers few connection slots (often 3). Balancers that connect
for each update would otherwise race for them: whoever disconnects first asks
again first, so a few win every time and the rest never update. Here they
queue: first come, first served, and a balancer that had its turn queues
behind every one still waiting. Each radio (adapter or proxy) admits as many
as it has slots for them, so a house with several proxies connects as many
balancers at once as all of them together: a balancer waits only for the
radios that hear it.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator
import contextlib
import math

from bluetooth_data_tools import int_to_bluetooth_address
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant
from homeassistant.util.hass_dict import HassKey

DATA_TURNS: HassKey[ConnectionTurns] = HassKey("jk_balancer_connection_turns")
# Assumed time of one connect-read-disconnect until one was measured.
DEFAULT_TURN_SECONDS = 1.5
# How often a waiting balancer looks whether a slot came free.
RECHECK_SECONDS = 1.0
# Where a balancer no radio hears takes its turn (its connection fails fast).
NO_RADIO = ""


class ConnectionTurns:
    """First-come, first-served queues for the connection slots of each radio."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start with nobody waiting."""
        self._hass = hass
        self._waiting: deque[tuple[str, asyncio.Future[None]]] = deque()
        # Who holds a slot now, and on which radio.
        self._active: dict[str, str] = {}
        # How long each balancer's last turn took (s), and on which radio.
        self._durations: dict[str, float] = {}
        self._radio_of: dict[str, str] = {}

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
        self._radio_of.pop(address, None)

    def sustainable_interval(self, address: str) -> int:
        """Shortest update interval (s) every balancer on its radio can keep.

        Everyone taking turns at the radio that hears ``address`` best,
        ``address`` included, takes its turn once per interval, as many at once
        as the radio has slots for them.
        """
        radios = self._radios(address)
        radio = radios[0] if radios else NO_RADIO
        durations = {
            other: seconds
            for other, seconds in self._durations.items()
            if self._radio_of.get(other) == radio
        }
        durations[address] = self._durations.get(address, DEFAULT_TURN_SECONDS)
        # A radio whose slots others hold all serves one at a time once one
        # comes free.
        capacity = max(self._capacities().get(radio, 1), 1)
        return max(1, math.ceil(sum(durations.values()) / capacity))

    def _radios(self, address: str) -> list[str]:
        """The connectable radios that hear ``address``, best signal first."""
        heard = bluetooth.async_scanner_devices_by_address(
            self._hass, address, connectable=True
        )
        heard.sort(key=lambda device: device.advertisement.rssi, reverse=True)
        return [device.scanner.source for device in heard]

    def _capacities(self) -> dict[str, int]:
        """Slots each radio has for turn takers.

        Its slots less those held by links that are not taking turns (kept-open
        links, other integrations); one where a radio does not report them.
        """
        ours = set(self._active)
        capacities = {NO_RADIO: 1}
        for scanner in bluetooth.async_current_scanners(self._hass):
            if not scanner.connectable:
                continue
            allocations = scanner.get_allocations()
            if allocations is None:
                capacities[scanner.source] = 1
                continue
            allocated = {_address(held) for held in allocations.allocated}
            held_by_others = len(allocated - ours)
            capacities[scanner.source] = max(allocations.slots - held_by_others, 0)
        return capacities

    def _admit(self) -> None:
        capacities = self._capacities()
        used = Counter(self._active.values())
        still_waiting: deque[tuple[str, asyncio.Future[None]]] = deque()
        for address, future in self._waiting:
            if future.done():  # its caller gave up waiting
                continue
            radio = next(
                (
                    radio
                    for radio in self._radios(address) or [NO_RADIO]
                    if used[radio] < capacities.get(radio, 1)
                ),
                None,
            )
            if radio is None:
                still_waiting.append((address, future))
                continue
            used[radio] += 1
            self._active[address] = self._radio_of[address] = radio
            future.set_result(None)
        self._waiting = still_waiting

    def _release(self, address: str) -> None:
        self._active.pop(address, None)
        self._admit()


def async_get_turns(hass: HomeAssistant) -> ConnectionTurns:
    """The one set of queues of this Home Assistant instance."""
    if (turns := hass.data.get(DATA_TURNS)) is None:
        turns = hass.data[DATA_TURNS] = ConnectionTurns(hass)
    return turns


def _address(allocated: str | int) -> str:
    """A proxy's allocation as an address: bleak-esphome before 4.0 (Home
    Assistant 2026.2) reports a node's connections as integers."""
    if isinstance(allocated, int):
        return str(int_to_bluetooth_address(allocated))
    return allocated.upper()
