"""Virtual RS485 balancers: units on a bus a client opens like a serial port.

The bus is a pseudo-terminal: a client opens :attr:`VirtualBus.path` with
pyserial as it would ``/dev/ttyUSB0``. Each unit is a :class:`VirtualBalancer`
(the same pack physics as over Bluetooth) answering at its address: a read
with the 74-byte reply, built from the protocol layer's table, after the time
the bytes take on the wire at 9600 baud; a write by taking the value, checked
against the protocol layer's setting definitions, without an answer.

Faults: units or the whole bus going silent, corrupted replies, and a second
master polling the units, whose requests and replies the client sees and
whose requests collide with the client's when both talk at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
import logging
import os
import random
import time
import tty
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    BUS_ADDRESSES,
    WIRE_RESISTANCE_LIMIT,
    FrameError,
    encode_rs485_request,
)
from custom_components.jk_balancer.protocol.rs485.codec import (
    BAUD_RATE as RS485_BAUD_RATE,
    READ_ALL as RS485_READ_ALL,
    REPLY_LENGTH as RS485_REPLY_LENGTH,
    REQUEST_HEADER as RS485_REQUEST_HEADER,
)

from .balancer import VirtualBalancer
from .device_codec import (
    REQUEST_LENGTH as RS485_REQUEST_LENGTH,
    encode_rs485_reply,
    parse_rs485_request,
)

_LOGGER = logging.getLogger(__name__)

# Time a unit takes to start its reply, besides the bytes on the wire.
UNIT_LATENCY: Final = 0.01


class VirtualBus:
    """Balancers sharing one RS485 line, reachable at :attr:`path`."""

    def __init__(
        self,
        units: Mapping[int, VirtualBalancer] | None = None,
        *,
        wire_time: bool = True,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the bus; ``wire_time`` delays replies as 9600 baud would."""
        self.units: dict[int, VirtualBalancer] = dict(units or {})
        self.wire_time = wire_time
        self.rng = random.Random(seed)
        self._clock = clock
        self._master, self._slave = os.openpty()
        # No echo or line editing before a client sets the port up.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._incoming = bytearray()
        self._timers: set[asyncio.TimerHandle] = set()
        self._running = False
        # Every intact request the units heard, and those lost to collisions.
        self.received: list[bytes] = []
        self.collisions = 0
        # Faults.
        self._silent: dict[int | None, float] = {}
        self._corrupt_rate = 0.0
        self._other_master: asyncio.Task[None] | None = None
        self._busy_until = 0.0

    def add(self, address: int, unit: VirtualBalancer) -> VirtualBalancer:
        """Put ``unit`` on the bus at ``address``."""
        if address in self.units:
            raise ValueError(f"address {address} is taken")
        self.units[address] = unit
        return unit

    # -- running ----------------------------------------------------------------

    def start(self) -> None:
        """Listen to the line (in the running event loop)."""
        if not self._running:
            asyncio.get_running_loop().add_reader(self._master, self._on_readable)
            self._running = True

    async def stop(self) -> None:
        """Stop listening, cancel pending replies and the other master."""
        if self._other_master is not None:
            self._other_master.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._other_master
            self._other_master = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._running:
            asyncio.get_running_loop().remove_reader(self._master)
            self._running = False

    def close(self) -> None:
        """Release the pseudo-terminal (after :meth:`stop`)."""
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    async def __aenter__(self) -> VirtualBus:
        """Start; the bus is closed when the block ends."""
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop and close."""
        await self.stop()
        self.close()

    # -- the line ---------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 1024)
        except OSError:  # nothing to read after all, or the client went away
            return
        now = self._clock()
        if now < self._busy_until:
            # Both masters talked at once: the units hear garbage.
            self.collisions += 1
            self._incoming.clear()
            return
        self._incoming += data
        while (start := self._incoming.find(RS485_REQUEST_HEADER)) >= 0:
            if len(self._incoming) - start < RS485_REQUEST_LENGTH:
                del self._incoming[:start]
                return
            raw = bytes(self._incoming[start : start + RS485_REQUEST_LENGTH])
            try:
                request = parse_rs485_request(raw)
            except FrameError:
                del self._incoming[: start + 1]
                continue
            del self._incoming[: start + RS485_REQUEST_LENGTH]
            self.received.append(raw)
            self._handle(request.address, request.command, request.value)
        if len(self._incoming) > RS485_REQUEST_LENGTH:
            del self._incoming[:-1]

    def _handle(self, address: int, command: int, value: bytes) -> None:
        unit = self.units.get(address)
        if unit is None or self._is_silent(address) or not unit.available:
            return
        if command != RS485_READ_ALL:
            unit.write_register(command, value)
            return
        reply = bytearray(encode_rs485_reply(address, reply_values(unit)))
        if self._corrupt_rate and self.rng.random() < self._corrupt_rate:
            reply[self.rng.randrange(4, RS485_REPLY_LENGTH - 1)] ^= 0x5A
        delay = UNIT_LATENCY + (
            self._bytes_time(RS485_REPLY_LENGTH) if self.wire_time else 0
        )
        self._later(delay, lambda: self._transmit(bytes(reply)))

    def _transmit(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _bytes_time(self, count: int) -> float:
        return count * 10 / RS485_BAUD_RATE

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            action()

        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)

    # -- faults -----------------------------------------------------------------

    def go_silent(self, seconds: float, address: int | None = None) -> None:
        """No unit (or the one at ``address``) answers for ``seconds``."""
        self._silent[address] = self._clock() + seconds

    def speak_again(self) -> None:
        """End every silence."""
        self._silent.clear()

    def _is_silent(self, address: int) -> bool:
        now = self._clock()
        return now < self._silent.get(None, 0.0) or now < self._silent.get(address, 0.0)

    def corrupt_replies(self, rate: float) -> None:
        """Damage a byte in this share (0..1) of replies."""
        self._corrupt_rate = rate

    def second_master(self, interval: float | None) -> None:
        """Another master polls a unit every ``interval`` s (None: it stops)."""
        if self._other_master is not None:
            self._other_master.cancel()
            self._other_master = None
        if interval is not None:
            self._other_master = asyncio.get_running_loop().create_task(
                self._poll_as_other_master(interval)
            )

    async def _poll_as_other_master(self, interval: float) -> None:
        addresses = [a for a in BUS_ADDRESSES if a in self.units] or [1]
        while True:
            await asyncio.sleep(interval * self.rng.uniform(0.5, 1.5))
            address = self.rng.choice(addresses)
            request = encode_rs485_request(address)
            # The line is taken while the request and its reply travel.
            self._busy_until = self._clock() + self._bytes_time(
                RS485_REQUEST_LENGTH + RS485_REPLY_LENGTH
            )
            self._transmit(request)
            self._handle(address, RS485_READ_ALL, b"\0\0")


def reply_values(unit: VirtualBalancer) -> dict[str, Any]:
    """What ``unit`` reports in its reply now, by the reply table's names."""
    measurement = unit.measure()
    voltages = measurement.cell_voltages
    present = [v for v in voltages if v > 0]
    settings = unit.settings
    alarms = 0
    battery = unit.battery
    if not settings.cell_count == len(present) == len(battery.cells):
        alarms |= 1
    if any(
        cell.wire_resistance > WIRE_RESISTANCE_LIMIT
        for cell in battery.cells[: settings.cell_count]
    ):
        alarms |= 2
    if present and max(present) > battery.chemistry.full_voltage:
        alarms |= 4
    highest = max(present, default=0.0)
    lowest = min(present, default=0.0)
    return {
        "total_voltage": sum(present),
        "average_cell_voltage": sum(present) / len(present) if present else 0.0,
        "cells_detected": len(present),
        "max_voltage_cell_index": present.index(highest) if present else 0,
        "min_voltage_cell_index": present.index(lowest) if present else 0,
        # Bit 1: discharging the highest cell into the others.
        "balancing_bits": 2 if measurement.balancing else 0,
        "alarm_bits": alarms,
        "delta_cell_voltage": highest - lowest,
        "balancing_current": measurement.balancing_current,
        "balance_trigger_voltage": settings.balance_trigger_voltage,
        "max_balance_current": settings.max_balance_current,
        "balancer_enabled": int(settings.balancer_enabled),
        "cell_count": settings.cell_count,
        "cell_voltages": present,
        "temperature_sensor_1": 24.0 + unit.rng.uniform(-0.5, 0.5),
    }
