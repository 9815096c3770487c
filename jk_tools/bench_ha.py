"""Benchmarks with Home Assistant or the virtual balancers' clock (see bench.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import itertools
import statistics
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, callback

from custom_components.jk_balancer.bluetooth import async_ble_device
from custom_components.jk_balancer.const import (
    DEFAULT_UPDATE_INTERVAL,
    ConnectionMode,
)
from custom_components.jk_balancer.protocol import (
    BluetoothClient,
    FrameAssembler,
    FrameType,
    Request,
    encode_request,
)
from jk_emulator import PROFILES, BluetoothBalancer, VirtualRadio
from jk_emulator.ble import DEVICE_INFO_DELAY, STREAM_START_DELAY

from .captures import (
    ATT_NOTIFICATION,
    CAPTURES,
    read_att,
)
from .simulation import Simulation, run_simulation

# -- connected to first snapshot ---------------------------------------------------


class _TimedBalancer(BluetoothBalancer):
    """Remembers when a client's link came up."""

    linked_at = 0.0

    def connect(
        self, notify: Callable[[bytes], None], on_drop: Callable[[], None]
    ) -> Any:
        link = super().connect(notify, on_drop)
        self.linked_at = asyncio.get_running_loop().time()
        return link


async def _time_first_snapshots(
    client: BluetoothClient, device: _TimedBalancer, connects: int
) -> list[tuple[float, float]]:
    """Link up to first snapshot, and asked to first snapshot, per connect."""
    loop = asyncio.get_running_loop()
    durations = []
    for _ in range(connects):
        asked = loop.time()
        await client.read()
        now = loop.time()
        durations.append((now - device.linked_at, now - asked))
        await client.disconnect()
    return durations


async def _first_snapshots(profile: str, connects: int) -> list[tuple[float, float]]:
    """The client on the virtual radio's bleak backend, no Home Assistant."""
    radio = VirtualRadio(slots=1)
    device = _TimedBalancer(PROFILES[profile], address="C8:47:80:00:00:01")
    radio.add(device)
    client = BluetoothClient(
        radio.ble_device(device.address), backend=radio.client_class
    )
    return await _time_first_snapshots(client, device, connects)


async def _first_snapshots_through_node(
    sim: Simulation, profile: str, connects: int
) -> list[tuple[float, float]]:
    """The client in Home Assistant, through its esphome integration,
    bleak-esphome and aioesphomeapi to an emulated node, in real time."""
    device = _TimedBalancer(
        PROFILES[profile], address=f"C8:47:80:00:00:{len(sim.devices) + 1:02X}"
    )
    sim.radios[0].add(device)
    sim.devices.append(device)
    await sim.heard(device)
    client = BluetoothClient(async_ble_device(sim.hass, device.address))
    return await _time_first_snapshots(client, device, connects)


def app_first_cell_info() -> list[tuple[str, float]]:
    """Official app: its device-info request to the first complete cell info.

    From the last 0x97 request before the first cell-info frame (one log shows
    the app reconnecting once first).
    """
    device_info_request = encode_request(Request.DEVICE_INFO)[:5]
    results = []
    for path in sorted((CAPTURES / "btsnoop").glob("*.log")):
        assembler = FrameAssembler()
        requested_at: float | None = None
        for packet in read_att(path):
            if not packet.from_device and packet.value[:5] == device_info_request:
                requested_at = packet.time
            elif packet.from_device and packet.opcode == ATT_NOTIFICATION:
                frames = assembler.feed(packet.value)
                if requested_at is not None and any(
                    frame.frame_type == FrameType.CELL_INFO for frame in frames
                ):
                    results.append((path.name, packet.time - requested_at))
                    break
    return results


_SNAPSHOT_PROFILES = ("jk-b2a16s", "jk-b2a24s20p", "jk-pb2a16s20p")


def bench_snapshot(connects: int = 5, *, esphome: bool = False) -> None:
    """Connected to first snapshot, next to the device's floor and the app.

    With ``esphome``, through Home Assistant and an emulated ESPHome node.
    """
    floor = DEVICE_INFO_DELAY + STREAM_START_DELAY
    print("== Connected to first snapshot (device info, settings, one cell-info frame)")
    print(
        f"   virtual balancer at the real devices' pace: device info after "
        f"{DEVICE_INFO_DELAY:g} s, stream {STREAM_START_DELAY:g} s after the settings "
        f"request; floor {floor:.3f} s"
    )
    if esphome:
        print(
            "   through Home Assistant's esphome integration, bleak-esphome and "
            "aioesphomeapi to an emulated ESPHome node on 127.0.0.1"
        )

        async def through_node(
            sim: Simulation,
        ) -> dict[str, list[tuple[float, float]]]:
            return {
                profile: await _first_snapshots_through_node(sim, profile, connects)
                for profile in _SNAPSHOT_PROFILES
            }

        timings = run_simulation(through_node, slots=1, esphome=True)
    else:
        print("   the client on the virtual radio's bleak backend")
        timings = {
            profile: asyncio.run(_first_snapshots(profile, connects))
            for profile in _SNAPSHOT_PROFILES
        }
    worst = 0.0
    print(f"   over {connects} connects each: from link up / from the read call")
    for profile, durations in timings.items():
        linked = [linked for linked, _ in durations]
        asked = [asked for _, asked in durations]
        worst = max(worst, *linked)
        print(
            f"     {profile:<14} ({PROFILES[profile].protocol.value:8}) "
            f"mean {statistics.fmean(linked):.3f} / {statistics.fmean(asked):.3f} s,"
            f" worst {max(linked):.3f} / {max(asked):.3f} s"
        )
    print(f"   worst is {worst - floor:+.3f} s from the device's floor (from link up)")
    if CAPTURES.is_dir():
        app = app_first_cell_info()
        print("   official app (btsnoop), its device-info request to first cell info:")
        for name, seconds in app:
            print(f"     {seconds:.3f} s  {name}")
        print(f"     median {statistics.median(s for _, s in app):.3f} s")


# -- Home Assistant cost -----------------------------------------------------------


def _cpu() -> float:
    return time.process_time()


def _null_link(device: BluetoothBalancer) -> None:
    """Start ``device`` streaming into nothing: the emulator's own cost."""
    link = device.connect(lambda _data: None, lambda: None)
    device.receive(link, encode_request(Request.DEVICE_INFO))
    device.receive(link, encode_request(Request.SETTINGS))


async def _cost(sim: Simulation, hours: float, balancers: int) -> None:
    seconds = 3600 * hours
    profiles = ("jk-b5a24s", "jk-b2a24s20p")
    start = _cpu()
    await sim.run_for(seconds)
    idle = _cpu() - start
    # The same devices streaming into nothing: what the emulator costs.
    alone = [
        BluetoothBalancer(
            PROFILES[profiles[number % 2]],
            address=f"C8:47:80:0F:00:{number:02X}",
            seed=number,
            clock=sim.loop.time,
        )
        for number in range(balancers)
    ]
    for device in alone:
        _null_link(device)
    start = _cpu()
    await sim.run_for(seconds)
    emulator = _cpu() - start
    for device in alone:
        if device.link is not None:
            device.disconnect(device.link)

    devices = [
        sim.add_device(profiles[number % 2], f"Bank {number + 1}")
        for number in range(balancers)
    ]
    for device in devices:
        await sim.add_entry(device)
    ours = {entity for device in devices for entity in sim.entity_ids(device)}
    changes = 0

    @callback
    def count(event: Event[EventStateChangedData]) -> None:
        nonlocal changes
        if event.data["entity_id"] in ours:
            changes += 1

    await sim.run_for(120)  # settle: first updates, first stream frames
    frames_before = sum(sim.link(d).client.stats.frames for d in devices)
    unsubscribe = sim.hass.bus.async_listen(EVENT_STATE_CHANGED, count)
    start = _cpu()
    await sim.run_for(seconds)
    total = _cpu() - start
    unsubscribe()
    frames = sum(sim.link(d).client.stats.frames for d in devices)
    frames -= frames_before
    integration = total - idle - emulator
    print(f"   CPU, all of it:                    {total:7.2f} s")
    print(f"   CPU, Home Assistant idle:          {idle:7.2f} s (measured alone)")
    print(f"   CPU, the virtual balancers:        {emulator:7.2f} s (measured alone)")
    print(
        f"   CPU, this integration:             {integration:7.2f} s = "
        f"{100 * integration / seconds:.2f} % of one core"
    )
    print(
        f"   frames received and decoded:       {frames:7d} "
        f"({1e6 * integration / max(frames, 1):.0f} us of CPU each, all included)"
    )
    print(
        f"   state changes written:             {changes / hours:7.0f} per hour "
        f"({changes / hours / balancers:.0f} per balancer, "
        f"{len(ours) // balancers} entities each)"
    )


def bench_cost(hours: float, balancers: int = 10) -> None:
    """Home Assistant's cost of 10 virtual 24-cell balancers."""
    print(
        f"== Home Assistant cost: {balancers} virtual 24-cell balancers (JK04 and "
        f"JK02_24S), {hours:g} simulated hour(s), default options "
        f"(kept-open link, update every {DEFAULT_UPDATE_INTERVAL} s)"
    )
    wall = time.monotonic()
    run_simulation(lambda sim: _cost(sim, hours, balancers), slots=balancers)
    print(f"   ({time.monotonic() - wall:.0f} s of real time)")


# -- connection slots --------------------------------------------------------------

# Up to this many balancers, each one's figures are printed.
_LISTED = 12


async def _slots(
    sim: Simulation, minutes: float, balancers: int, interval: int
) -> None:
    devices = [
        sim.add_device("jk-b2a16s", f"Shed {number + 1}") for number in range(balancers)
    ]
    for device in devices:
        entry = await sim.add_entry(device, ConnectionMode.PER_UPDATE, interval)
        # Set up one at a time (each link kept open until its options are set),
        # then all together below.
        await sim.hass.config_entries.async_unload(entry.entry_id)
    updates: dict[str, list[float]] = {device.address: [] for device in devices}
    failures: dict[str, int] = dict.fromkeys(updates, 0)

    @callback
    def listen(device: BluetoothBalancer) -> None:
        coordinator = sim.coordinator(device)

        @callback
        def updated() -> None:
            if coordinator.last_update_success:
                updates[device.address].append(sim.now)
            else:
                failures[device.address] += 1

        sim.entries[device.address].async_on_unload(
            coordinator.async_add_listener(updated)
        )

    # As after a restart of Home Assistant: all of them start at the same moment.
    start = sim.now
    sim.loop.fast_forward = True
    await asyncio.gather(
        *(
            sim.hass.config_entries.async_reload(sim.entries[d.address].entry_id)
            for d in devices
        )
    )
    for device in devices:
        listen(device)
        if sim.coordinator(device).last_update_success:
            updates[device.address].append(sim.now)
    await sim.run_for(60 * minutes)
    longest: dict[str, float] = {}
    for device in devices:
        times = [start, *updates[device.address], sim.now]
        longest[device.address] = max(b - a for a, b in itertools.pairwise(times))
        if len(devices) <= _LISTED:
            print(
                f"   {device.name}: {len(updates[device.address])} updates, "
                f"{failures[device.address]} failed, "
                f"longest interval {longest[device.address]:.1f} s"
            )
    if len(devices) > _LISTED:
        counts = [len(times) for times in updates.values()]
        print(
            f"   updates per balancer: {min(counts)} to {max(counts)}, "
            f"{sum(failures.values())} failed in all"
        )
    worst = max(longest.values())
    stale = [d.name for d in devices if not updates[d.address]]
    estimate = sim.link(devices[0]).turns.sustainable_interval(devices[0].address)
    print(
        f"   {'every balancer updated' if not stale else 'NOT every balancer updated'}"
        f"; worst interval: {worst:.0f} s (update interval {interval} s; the "
        f"options dialog estimates {estimate} s), "
        f"{sim.connection_attempts} connections made"
    )
    if stale:
        print(f"   never updated: {', '.join(stale)}")


def bench_slots(
    minutes: float = 30,
    balancers: int = 6,
    slots: int = 3,
    interval: int = 30,
    proxies: int = 1,
    *,
    esphome: bool = False,
) -> None:
    """Balancers sharing proxies' connection slots, connecting per update.

    The balancers are spread over the proxies, each in range of one; with
    ``esphome`` the proxies are emulated ESPHome nodes.
    """
    if esphome:
        kind = "emulated ESPHome node" if proxies == 1 else "emulated ESPHome nodes"
    else:
        kind = "virtual proxy" if proxies == 1 else "virtual proxies"
    print(
        f"== Connection slots: {balancers} balancers, {proxies} {kind} with "
        f"{slots} slots each, connect per update every {interval} s, "
        f"{minutes:g} simulated minutes"
    )
    run_simulation(
        lambda sim: _slots(sim, minutes, balancers, interval),
        slots=slots,
        proxies=proxies,
        esphome=esphome,
    )
