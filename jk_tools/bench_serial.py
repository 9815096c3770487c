"""Benchmark ``serial``: pyserial-asyncio-fast next to serialx (see bench.py).

Home Assistant 2026.11 moved its own serial integrations from pyserial to
serialx. The same poll runs over each library's asyncio transport against the
virtual bus: a read request, the 74-byte reply; wall time and CPU per poll. Then
the adapter is pulled (the bus's pseudo-terminal goes away) and what each
library reports, and how soon, is printed; and what installing each brings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import importlib
import importlib.metadata
from pathlib import Path
import statistics
import time
from typing import Any, Final

from packaging.requirements import Requirement

from custom_components.jk_balancer.protocol import encode_rs485_request
from custom_components.jk_balancer.protocol.rs485.codec import (
    BAUD_RATE as RS485_BAUD_RATE,
    REPLY_LENGTH as RS485_REPLY_LENGTH,
)
from jk_emulator import BUS_PROFILES, VirtualBalancer, VirtualBus

from .bench_peers import PEERS, import_peer

POLLS: Final = 200
UNPLUG_WAIT: Final = 5.0  # s

type Opener = Callable[..., Awaitable[tuple[Any, Any]]]


class _Line(asyncio.Protocol):
    """Collects what the line brings; says when a whole reply is there."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.reply: asyncio.Future[None] | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        reply = self.reply
        whole = len(self.buffer) >= RS485_REPLY_LENGTH
        if reply is not None and whole and not reply.done():
            reply.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


def _openers() -> dict[str, Opener]:
    """The libraries to compare, those that can be imported."""
    found: dict[str, Opener] = {}
    fast = importlib.import_module("serial_asyncio_fast")
    found[f"pyserial-asyncio-fast {_version('pyserial-asyncio-fast')}"] = (
        fast.create_serial_connection
    )
    if (serialx := import_peer("serialx")) is None:
        print(f"   serialx is not installed in {PEERS}: run scripts/bench")
    else:
        found[f"serialx {_version('serialx')}"] = serialx.create_serial_connection
    return found


def _version(name: str) -> str:
    return importlib.metadata.version(name)


def _footprint(name: str) -> str:
    """Installed size and dependencies of a distribution."""
    dist = importlib.metadata.distribution(name)
    size = sum(
        Path(str(dist.locate_file(item))).stat().st_size
        for item in dist.files or []
        if Path(str(dist.locate_file(item))).is_file()
    )
    # What it needs here: not what only another platform or Python needs.
    needs = [
        f"{req.name}{req.specifier}"
        for req in map(Requirement, dist.requires or [])
        if req.marker is None or req.marker.evaluate({"extra": ""})
    ]
    return f"{size / 1024:.0f} KiB installed, needs {', '.join(needs) or 'nothing'}"


async def _polls(opener: Opener) -> tuple[list[float], list[float], str]:
    """Poll one balancer POLLS times, then pull the adapter out."""
    unit = VirtualBalancer(
        BUS_PROFILES["jk-dz11"], address="00:00:00:00:00:01", seed=1, noise=False
    )
    bus = VirtualBus({1: unit})
    bus.start()
    loop = asyncio.get_running_loop()
    transport, line = await opener(loop, _Line, bus.path, baudrate=RS485_BAUD_RATE)
    request = encode_rs485_request(1)
    walls, cpus = [], []
    try:
        for _ in range(POLLS):
            line.buffer.clear()
            line.reply = loop.create_future()
            wall, cpu = time.perf_counter(), time.process_time()
            transport.write(request)
            await asyncio.wait_for(line.reply, 2)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        # The adapter is pulled: the line it was goes away under the port.
        pulled = loop.time()
        await bus.stop()
        bus.close()
        try:
            reason = await asyncio.wait_for(asyncio.shield(line.lost), UNPLUG_WAIT)
            outcome = (
                f"reported lost after {1000 * (loop.time() - pulled):.0f} ms: "
                f"{type(reason).__name__ if reason else 'closed'}"
                f"{f' ({reason})' if reason else ''}"
            )
        except TimeoutError:
            outcome = f"not reported within {UNPLUG_WAIT:g} s"
            line.reply = loop.create_future()
            transport.write(request)
            try:
                await asyncio.wait_for(line.reply, 1)
            except TimeoutError:
                outcome += "; a request then times out"
    finally:
        transport.close()
        await bus.stop()
        bus.close()
    return walls, cpus, outcome


def bench_serial() -> None:
    """Print both libraries' poll cost and unplug behaviour on one line."""
    print(
        f"== Serial libraries: {POLLS} polls of one balancer on the virtual bus "
        "(9600 baud, wire time simulated), then the adapter pulled"
    )
    for name, opener in _openers().items():
        walls, cpus, outcome = asyncio.run(_polls(opener))
        distribution = name.rsplit(" ", 1)[0]
        print(
            f"   {name}: poll median {1000 * statistics.median(walls):.1f} ms, "
            f"CPU {1000 * statistics.fmean(cpus):.3f} ms per poll (mean); "
            f"unplugged: {outcome}"
        )
        print(f"     {_footprint(distribution)}")
