"""Benchmark ``bus``: polling N balancers on one RS485 line (see bench.py).

The virtual bus delays each reply by its time on the wire at 9600 baud, so a
poll cycle takes what it would on a real line; the device's own reaction time
is not known and not added. CPU is that of this process, which runs both the
clients and the virtual balancers.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from custom_components.jk_balancer.protocol import Rs485Client, Rs485Port
from jk_emulator import BUS_PROFILES, VirtualBalancer, VirtualBus

CYCLES = 20


async def _poll(units: int) -> tuple[list[float], float, float]:
    """Wall time of each cycle, CPU per cycle, and one confirmed write."""
    balancers = {
        address: VirtualBalancer(
            BUS_PROFILES["jk-dz11"],
            address=f"00:00:00:00:00:{address:02X}",
            seed=address,
            noise=False,
        )
        for address in range(1, units + 1)
    }
    async with VirtualBus(balancers, wire_time=True) as line:
        bus = Rs485Port(line.path)
        clients = [Rs485Client(bus, address) for address in balancers]
        await clients[0].read()  # opens the port
        cycles = []
        cpu = time.process_time()
        for _ in range(CYCLES):
            start = time.perf_counter()
            for client in clients:
                await client.read()
            cycles.append(time.perf_counter() - start)
        cpu = (time.process_time() - cpu) / CYCLES
        start = time.perf_counter()
        await clients[-1].write_setting("balance_trigger_voltage", 0.008)
        write = time.perf_counter() - start
        await bus.close()
    return cycles, cpu, write


def bench_bus(counts: tuple[int, ...] = (1, 2, 4, 8, 15)) -> None:
    """Print the time and CPU of a poll cycle for N balancers on one bus."""
    print(f"RS485 bus at 9600 baud (virtual, wire time simulated), {CYCLES} cycles")
    for units in counts:
        cycles, cpu, write = asyncio.run(_poll(units))
        print(
            f"   {units:2d} balancers: cycle {statistics.median(cycles) * 1000:6.0f} ms"
            f" (worst {max(cycles) * 1000:.0f} ms), CPU {cpu * 1000:5.1f} ms/cycle;"
            f" a confirmed write {write * 1000:.0f} ms"
        )
