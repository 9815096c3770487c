"""Benchmarks: every figure printed here is measured in this run.

``decode``    cost per cell-info frame of the real captures, ours next to
              aiobmsble's Jikong decoder (installed by ``scripts/bench``);
``memory``    peak memory of ``jk-balancer decode`` on 2 MB and 80 MB files;
``snapshot``  connected to first snapshot against the virtual balancer at the
              real devices' pace, next to the official app in the btsnoop logs;
``cost``      Home Assistant with 10 virtual 24-cell balancers for a simulated
              hour: CPU seconds and state changes;
``slots``     balancers sharing proxies' connection slots, connecting per update
              (``--balancers``, ``--proxies``, ``--slots``, ``--interval``,
              ``--minutes``);
``--esphome`` ``snapshot`` and ``slots`` through Home Assistant's esphome
              integration and emulated ESPHome nodes on 127.0.0.1;
``bus``       a poll cycle of 1 to 15 balancers on one RS485 bus: time and CPU;
``serial``    pyserial-asyncio-fast next to serialx (Home Assistant 2026.11's
              serial library): a poll's time and CPU, a pulled adapter, install;
``care``      the stored drift window over a simulated day;
``energy``    what counting a JK BMS's energy adds per frame.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
from typing import Any, Final

from bleak.backends.device import BLEDevice
from homeassistant.const import __version__ as HA_VERSION

from custom_components.jk_balancer.const import DEFAULT_UPDATE_INTERVAL
from custom_components.jk_balancer.protocol import CellInfo, Protocol, check_cell_info

from .bench_bus import bench_bus
from .bench_care import bench_care
from .bench_energy import bench_energy
from .bench_frames import RealFrame, real_cell_info_frames, time_per_frame
from .bench_ha import bench_cost, bench_slots, bench_snapshot
from .bench_peers import PEERS, import_peer
from .bench_serial import bench_serial
from .captures import CAPTURES, capture_files, load_frames
from .simulation import quiet_logging

ROOT: Final = Path(__file__).resolve().parents[1]
# scripts/bench installs the peer here, away from Home Assistant's packages.
SECTIONS: Final = (
    "decode",
    "memory",
    "snapshot",
    "cost",
    "slots",
    "bus",
    "serial",
    "care",
    "energy",
)


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
        "--proxies",
        type=int,
        default=1,
        help="proxies for 'slots' (the balancers spread over them)",
    )
    parser.add_argument(
        "--slots", type=int, default=3, help="connection slots per proxy for 'slots'"
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
    parser.add_argument(
        "--esphome",
        action="store_true",
        help="'snapshot' and 'slots' through Home Assistant's esphome integration "
        "and emulated ESPHome nodes instead of virtual proxies",
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
            bench_snapshot(esphome=args.esphome)
        elif section == "cost":
            bench_cost(args.hours)
        elif section == "bus":
            bench_bus()
        elif section == "serial":
            bench_serial()
        elif section == "care":
            bench_care()
        elif section == "energy":
            bench_energy()
        else:
            bench_slots(
                args.minutes,
                args.balancers,
                args.slots,
                args.interval,
                args.proxies,
                esphome=args.esphome,
            )
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


def peer_decoder() -> Callable[[RealFrame], dict[str, Any]] | None:
    """aiobmsble's Jikong decoder on one frame: its update path without radio.

    Its ``_async_update`` reads the frame its notification handler stored and
    awaits nothing when one is there; ``_add_missing_values`` is what its
    ``async_update`` adds (power, cycle capacity, ...). It is told the
    firmware version, as its connection set-up would be.
    """
    if (peer := import_peer("aiobmsble.bms.jikong_bms")) is None:
        return None
    BMS: Any = peer.BMS
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
            return check_cell_info(real.frame, protocol).cell_info()

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
            print(f"     aiobmsble is not installed in {PEERS}: run scripts/bench")
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


if __name__ == "__main__":
    sys.exit(main())
