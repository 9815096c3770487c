"""Shared fixtures: where the real captures are, and virtual devices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import bleak_retry_connector
import pytest

from custom_components.jk_balancer.protocol import BluetoothClient, Protocol
from jk_emulator import (
    BUS_PROFILES,
    PROFILES,
    BluetoothBalancer,
    VirtualBalancer,
    VirtualBus,
    VirtualRadio,
)
from jk_tools.captures import CAPTURES

# Real devices answer within 0.1 s and stream every 0.5 s; tests run 100x faster.
FAST = 0.01


async def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    """Let the event loop run until ``condition`` holds (fail after ``seconds``)."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture(autouse=True)
def short_connection_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """bleak-retry-connector waits 4 s between attempts at a missing device."""
    monkeypatch.setattr(bleak_retry_connector, "BLEAK_OUT_OF_SLOTS_BACKOFF_TIME", 0.01)


@pytest.fixture
def captures() -> Path:
    """The folder of real device captures, kept in the repository."""
    assert CAPTURES.is_dir(), f"the real captures are missing at {CAPTURES}"
    return CAPTURES


def protocol_from_name(name: str) -> Protocol:
    """Protocol named in a capture file name (JK04, JK02_24S, JK02_32S, JK02)."""
    for protocol in (Protocol.JK02_32S, Protocol.JK02_24S, Protocol.JK04):
        if protocol.value in name:
            return protocol
    return Protocol.JK02_24S  # files named plainly "JK02" are 24-cell JK02


@pytest.fixture
def radio() -> VirtualRadio:
    """A virtual radio with three connection slots."""
    return VirtualRadio(slots=3)


@pytest.fixture
def make_device(
    radio: VirtualRadio,
) -> Callable[..., BluetoothBalancer]:
    """Create a virtual device on the radio (fast protocol timing, fixed seed)."""
    counter = iter(range(1, 100))

    def make(profile: str = "jk-b2a16s", **kwargs: object) -> BluetoothBalancer:
        options: dict[str, object] = {"time_scale": FAST, "seed": 7}
        options |= kwargs
        address = f"C8:47:80:00:00:{next(counter):02X}"
        return radio.add(
            BluetoothBalancer(PROFILES[profile], address=address, **options)
        )  # type: ignore[arg-type]

    return make


@pytest.fixture
async def connect(
    radio: VirtualRadio,
) -> AsyncIterator[Callable[..., BluetoothClient]]:
    """Build clients for virtual devices; all are disconnected afterwards."""
    clients: list[BluetoothClient] = []

    def build(device: BluetoothBalancer, **kwargs: object) -> BluetoothClient:
        options: dict[str, object] = {
            "backend": radio.client_class,
            "response_timeout": 0.5,
            "stream_timeout": 0.5,
        }
        options |= kwargs
        client = BluetoothClient(radio.ble_device(device.address), **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.disconnect()


def bus_unit(address: int, **options: object) -> VirtualBalancer:
    """A DZ-series balancer for a virtual bus (fixed seed per address)."""
    settings: dict[str, object] = {"seed": address, "noise": False}
    settings |= options
    return VirtualBalancer(
        BUS_PROFILES["jk-dz11"],
        address=f"00:00:00:00:00:{address:02X}",
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture
async def virtual_bus() -> AsyncIterator[VirtualBus]:
    """Two DZ-series balancers at addresses 1 and 2 on a virtual RS485 bus."""
    async with VirtualBus({1: bus_unit(1), 2: bus_unit(2)}, wire_time=False) as bus:
        yield bus
