"""Benchmarks: every figure printed here is measured in this run.

``decode``    cost per cell-info frame of the real captures, ours next to
              aiobmsble's Jikong decoder (installed by ``scripts/bench``);
``memory``    peak memory of ``jk-balancer decode`` on 2 MB and 80 MB files;
``snapshot``  connected to first snapshot against the virtual balancer at the
              real devices' pace, next to the official app in the btsnoop logs;
``cost``      Home Assistant with 10 virtual 24-cell balancers for a simulated
              hour: CPU seconds and state changes;
``slots``     balancers sharing one proxy's connection slots, connecting per update
              (``--balancers``, ``--slots``, ``--interval``, ``--minutes``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import gc
import importlib
import itertools
import os
from pathlib import Path
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Final

from bleak.backends.device import BLEDevice
from homeassistant.const import EVENT_STATE_CHANGED, __version__ as HA_VERSION
from homeassistant.core import Event, EventStateChangedData, callback

from custom_components.jk_balancer.const import (
    DEFAULT_UPDATE_INTERVAL,
    ConnectionMode,
)
from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    CellInfo,
    Frame,
    FrameAssembler,
    FrameType,
    JKBalancerClient,
    Protocol,
    Request,
    check_cell_info,
    decode_cell_info,
    decode_device_info,
    detect_protocol,
    encode_request,
)
from jk_emulator import PROFILES, VirtualBalancer, VirtualRadio
from jk_emulator.device import DEVICE_INFO_DELAY, STREAM_START_DELAY

from .captures import (
    ATT_NOTIFICATION,
    CAPTURES,
    capture_files,
    load_frames,
    read_att,
)
from .simulation import Simulation, quiet_logging, run_simulation

ROOT: Final = Path(__file__).resolve().parents[1]
# scripts/bench installs the peer here, away from Home Assistant's packages.
PEER_PATH: Final = ROOT / ".bench" / "aiobmsble"
SECTIONS: Final = ("decode", "memory", "snapshot", "cost", "slots")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default) and print their figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--hours", type=float, default=1.0, help="simulated hours for 'cost'"
    )
    parser.add_argument(
        "--balancers", type=int, default=6, help="balancers for 'slots'"
    )
    parser.add_argument(
        "--slots", type=int, default=3, help="proxy connection slots for 'slots'"
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=DEFAULT_UPDATE_INTERVAL,
        help="update interval (s) for 'slots'",
    )
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="simulated minutes for 'slots'"
    )
    args = parser.parse_args(argv)
    if unknown := set(args.sections) - set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    quiet_logging()
    print(machine())
    for section in args.sections or SECTIONS:
        print()
        if section == "decode":
            bench_decode()
        elif section == "memory":
            bench_memory()
        elif section == "snapshot":
            bench_snapshot()
        elif section == "cost":
            bench_cost(args.hours)
        else:
            bench_slots(args.minutes, args.balancers, args.slots, args.interval)
    return 0


def machine() -> str:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"Machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}\nPython {platform.python_version()} "
        f"({platform.python_implementation()}), Home Assistant {HA_VERSION}"
    )


# -- decode ---------------------------------------------------------------------


@dataclass(frozen=True)
class RealFrame:
    """A cell-info frame of a capture and the firmware version that sent it."""

    frame: Frame
    software_major: int


def real_cell_info_frames() -> dict[Protocol, list[RealFrame]]:
    """Every distinct cell-info frame of the captures, by layout."""
    recordings: dict[str, list[Frame]] = {}
    for path in capture_files():
        # Files of one recording (hex files hold one frame type) share a name.
        recording = path.name.split(".")[0].removesuffix("_cmds")
        recordings.setdefault(recording, []).extend(
            frame for _, frame in load_frames(path).frames
        )
    found: dict[Protocol, dict[bytes, RealFrame]] = {
        item: {} for item in BLUETOOTH_PROTOCOLS
    }
    for frames in recordings.values():
        protocol = detect_protocol(frames)
        if protocol is None:
            continue
        # Without a device-info frame, the oldest firmware of the layout.
        major = 10 if protocol is Protocol.JK02_24S else 11
        for frame in frames:
            if frame.frame_type == FrameType.DEVICE_INFO:
                major = decode_device_info(frame).software_major or major
        for frame in frames:
            if frame.frame_type == FrameType.CELL_INFO:
                found[protocol][frame.raw] = RealFrame(frame, major)
    return {protocol: list(frames.values()) for protocol, frames in found.items()}


@dataclass
class Timing:
    """Per-frame cost over many rounds."""

    mean_us: float
    median_us: float


def time_per_frame(
    decoders: dict[str, Callable[[RealFrame], object]],
    frames: list[RealFrame],
    rounds: int = 60,
    per_round: int = 2000,
) -> dict[str, Timing]:
    """Time the decoders side by side, alternating them round by round."""
    batch = [frames[i % len(frames)] for i in range(per_round)]
    samples: dict[str, list[float]] = {name: [] for name in decoders}
    for decoder in decoders.values():  # warm up
        for frame in batch[:200]:
            decoder(frame)
    gc.disable()
    try:
        for number in range(rounds):
            order = list(decoders.items())
            if number % 2:
                order.reverse()
            for name, decoder in order:
                start = time.perf_counter_ns()
                for frame in batch:
                    decoder(frame)
                samples[name].append((time.perf_counter_ns() - start) / per_round)
    finally:
        gc.enable()
    return {
        name: Timing(statistics.fmean(values) / 1000, statistics.median(values) / 1000)
        for name, values in samples.items()
    }


def peer_decoder() -> Callable[[RealFrame], dict[str, Any]] | None:
    """aiobmsble's Jikong decoder on one frame: its update path without radio.

    Its ``_async_update`` reads the frame its notification handler stored and
    awaits nothing when one is there; ``_add_missing_values`` is what its
    ``async_update`` adds (power, cycle capacity, ...). It is told the
    firmware version, as its connection set-up would be.
    """
    if str(PEER_PATH) not in sys.path:
        sys.path.insert(0, str(PEER_PATH))
    try:
        BMS: Any = importlib.import_module("aiobmsble.bms.jikong_bms").BMS
    except ImportError:
        return None
    instances: dict[int, Any] = {}

    def instance(major: int) -> Any:
        # Never connected; the BlueZ backend it builds only needs a path.
        details = {"path": "/org/bluez/hci0/dev_C8_47_80_00_00_01"}
        bms = BMS(BLEDevice("C8:47:80:00:00:01", "JK-peer", details))
        bms._sw_version = major
        bms._prot_offset = -32 if major < 11 else 0
        return bms

    def decode(real: RealFrame) -> dict[str, Any]:
        bms = instances.get(real.software_major)
        if bms is None:
            bms = instances[real.software_major] = instance(real.software_major)
        bms._msg = real.frame.raw
        bms._msg_event.set()
        update = bms._async_update()
        try:
            update.send(None)
        except StopIteration as done:
            data: dict[str, Any] = done.value
        else:
            update.close()
            raise RuntimeError("aiobmsble waited for a frame")
        BMS._add_missing_values(data, bms._raw_values())
        return data

    return decode


def count_values(decoded: object) -> int:
    """Values a decoder hands its user; a list of cells counts each cell."""
    if isinstance(decoded, CellInfo):
        return sum(
            count_values(value)
            for value in decoded
            if value is not None and not isinstance(value, Protocol)
        )
    if isinstance(decoded, dict):
        return sum(count_values(value) for value in decoded.values())
    if isinstance(decoded, (list, tuple)):
        return sum(count_values(value) for value in decoded)
    return 1


def bench_decode() -> None:
    """Cell-info decode cost on the real frames, side by side with the peer.

    Ours twice: as the integration does for every frame of the stream (every
    field checked; converted into the record only when it is read), and
    checked and converted, every value.
    """
    print("== Decode: one cell-info frame, real frames from the captures")
    if not CAPTURES.is_dir():
        print(f"   skipped: no captures at {CAPTURES} (set JK_CAPTURES)")
        return
    frames = real_cell_info_frames()
    peer = peer_decoder()
    for protocol in (Protocol.JK02_32S, Protocol.JK02_24S, Protocol.JK04):
        sample = frames[protocol]
        if not sample:
            continue

        def checked(real: RealFrame, protocol: Protocol = protocol) -> object:
            return check_cell_info(real.frame, protocol)

        def converted(real: RealFrame, protocol: Protocol = protocol) -> CellInfo:
            return decode_cell_info(real.frame, protocol)

        decoders: dict[str, Callable[[RealFrame], object]] = {
            "ours, per frame": checked,
            "ours, every value": converted,
        }
        if peer is not None and protocol.is_jk02:
            decoders["aiobmsble"] = peer
        timings = time_per_frame(decoders, sample)
        print(f"   {protocol.value}: {len(sample)} distinct real frames")
        for name, timing in timings.items():
            # Counted from what each hands its user once everything is read.
            reader = decoders[
                "aiobmsble" if name == "aiobmsble" else "ours, every value"
            ]
            print(
                f"     {name:<18} mean {timing.mean_us:6.2f} us, median "
                f"{timing.median_us:6.2f} us per frame; "
                f"{count_values(reader(sample[0]))} values per frame"
            )
        if "aiobmsble" in timings:
            for ours in ("ours, per frame", "ours, every value"):
                ratio = timings["aiobmsble"].mean_us / timings[ours].mean_us
                median = timings["aiobmsble"].median_us / timings[ours].median_us
                print(f"     {ours}: {ratio:.1f}x faster (median {median:.1f}x)")
        elif protocol.is_jk02:
            print(f"     aiobmsble is not installed in {PEER_PATH}: run scripts/bench")
        else:
            print("     (no Python peer decodes JK04 frames: absolute figures only)")


def bench_memory(sizes_mb: Sequence[int] = (2, 80)) -> None:
    """Peak memory of ``jk-balancer decode`` on hex files of growing size.

    Each file repeats the real frames of the captures; each decode runs in its
    own process, whose peak resident memory is reported.
    """
    print("== Memory: jk-balancer decode of a hex frame file (output discarded)")
    if not CAPTURES.is_dir():
        print(f"   skipped: no captures at {CAPTURES} (set JK_CAPTURES)")
        return
    lines = [
        frame.raw.hex(" ") + "\n"
        for path in capture_files()
        for _, frame in load_frames(path).frames
    ]
    block = "".join(lines).encode()
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="jk-bench-") as folder:
        for size in sizes_mb:
            path = Path(folder) / f"{size}mb.hex"
            with path.open("wb") as handle:
                for _ in range(max(1, size * 2**20 // len(block))):
                    handle.write(block)
            peaks[size] = _peak_mib(
                [sys.executable, "-m", "jk_tools.cli", "decode", str(path)]
            )
            frames = path.stat().st_size // len(lines[0])
            print(
                f"   {path.stat().st_size / 2**20:6.1f} MiB, about {frames:,} frames: "
                f"peak {peaks[size]:.1f} MiB"
            )
    first, last = sizes_mb[0], sizes_mb[-1]
    print(
        f"   {last} MB needs {peaks[last] - peaks[first]:+.1f} MiB more than {first} MB"
    )


def _peak_mib(command: list[str]) -> float:
    """Peak resident memory of ``command``, measured by a process of its own."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", probe, *command],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(result.stdout.strip()) / 1024  # KiB on Linux


# -- connected to first snapshot ---------------------------------------------------


class _TimedBalancer(VirtualBalancer):
    """Remembers when a client's link came up."""

    linked_at = 0.0

    def connect(
        self, notify: Callable[[bytes], None], on_drop: Callable[[], None]
    ) -> Any:
        link = super().connect(notify, on_drop)
        self.linked_at = asyncio.get_running_loop().time()
        return link


async def _first_snapshots(profile: str, connects: int) -> list[float]:
    radio = VirtualRadio(slots=1)
    device = _TimedBalancer(PROFILES[profile], address="C8:47:80:00:00:01")
    radio.add(device)
    client = JKBalancerClient(
        radio.ble_device(device.address), backend=radio.client_class
    )
    loop = asyncio.get_running_loop()
    durations = []
    for _ in range(connects):
        await client.connect()
        durations.append(loop.time() - device.linked_at)
        await client.disconnect()
    return durations


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


def bench_snapshot(connects: int = 5) -> None:
    """Connected to first snapshot, next to the device's floor and the app."""
    floor = DEVICE_INFO_DELAY + STREAM_START_DELAY
    print("== Connected to first snapshot (device info, settings, one cell-info frame)")
    print(
        f"   virtual balancer at the real devices' pace: device info after "
        f"{DEVICE_INFO_DELAY:g} s, stream {STREAM_START_DELAY:g} s after the settings "
        f"request; floor {floor:.3f} s"
    )
    worst = 0.0
    for profile in ("jk-b2a16s", "jk-b2a24s20p", "jk-pb2a16s20p"):
        durations = asyncio.run(_first_snapshots(profile, connects))
        worst = max(worst, *durations)
        print(
            f"     {profile:<14} ({PROFILES[profile].protocol.value:8}) "
            f"mean {statistics.fmean(durations):.3f} s, worst {max(durations):.3f} s"
            f" over {connects} connects"
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


def _null_link(device: VirtualBalancer) -> None:
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
        VirtualBalancer(
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
    frames_before = sum(sim.coordinator(d).client.stats.frames for d in devices)
    unsubscribe = sim.hass.bus.async_listen(EVENT_STATE_CHANGED, count)
    start = _cpu()
    await sim.run_for(seconds)
    total = _cpu() - start
    unsubscribe()
    frames = sum(sim.coordinator(d).client.stats.frames for d in devices)
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


async def _slots(
    sim: Simulation, minutes: float, balancers: int, interval: int
) -> None:
    devices = [
        sim.add_device("jk-b2a16s", f"Shed {number + 1}") for number in range(balancers)
    ]
    for device in devices:
        await sim.add_entry(device, ConnectionMode.PER_UPDATE, interval)
    updates: dict[str, list[float]] = {device.address: [] for device in devices}
    failures: dict[str, int] = dict.fromkeys(updates, 0)

    @callback
    def listen(device: VirtualBalancer) -> None:
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
    worst = 0.0
    for device in devices:
        times = [start, *updates[device.address], sim.now]
        intervals = [b - a for a, b in itertools.pairwise(times)]
        worst = max(worst, *intervals)
        print(
            f"   {device.name}: {len(updates[device.address])} updates, "
            f"{failures[device.address]} failed, "
            f"longest interval {max(intervals):.1f} s"
        )
    stale = [d.name for d in devices if not updates[d.address]]
    estimate = sim.coordinator(devices[0]).turns.sustainable_interval(
        devices[0].address
    )
    print(
        f"   {'every balancer updated' if not stale else 'NOT every balancer updated'}"
        f"; worst interval: {worst:.0f} s (update interval {interval} s; the "
        f"options dialog estimates {estimate} s), "
        f"{sim.radio.connection_attempts} connections made"
    )
    if stale:
        print(f"   never updated: {', '.join(stale)}")


def bench_slots(
    minutes: float = 30, balancers: int = 6, slots: int = 3, interval: int = 30
) -> None:
    """Balancers sharing one proxy's connection slots, connecting per update."""
    print(
        f"== Connection slots: {balancers} balancers, one proxy with {slots} slots, "
        f"connect per update every {interval} s, {minutes:g} simulated minutes"
    )
    run_simulation(lambda sim: _slots(sim, minutes, balancers, interval), slots=slots)


if __name__ == "__main__":
    sys.exit(main())
