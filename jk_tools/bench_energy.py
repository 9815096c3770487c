"""Benchmark ``energy``: what counting a JK BMS's energy adds per frame (see bench.py).

A balancer's link checks every streamed cell-info frame and converts it only
when it is read. A JK BMS's energy meter needs the power of every frame, so
each is also converted into a snapshot and counted. Both are timed on the real
JK02 frames of the captures (their current and voltage as recorded).
"""

from __future__ import annotations

import time

from custom_components.jk_balancer.protocol import (
    EnergyMeter,
    Protocol,
    Snapshot,
    check_cell_info,
)
from jk_emulator import PROFILES, VirtualBalancer

from .bench_frames import RealFrame, real_cell_info_frames, time_per_frame
from .captures import CAPTURES

FRAME_INTERVAL = 0.5  # s between streamed frames


def bench_energy() -> None:
    """Print the cost per frame without and with the energy meter."""
    print("== Energy: one cell-info frame of a JK BMS, without and with the meter")
    if not CAPTURES.is_dir():
        print(f"   skipped: no captures at {CAPTURES} (set JK_CAPTURES)")
        return
    frames = real_cell_info_frames()
    bms = VirtualBalancer(PROFILES["jk-pb2a16s20p"], address="C8:47:80:00:00:01")
    device_info, settings = bms.device_info(), bms.settings
    for protocol in (Protocol.JK02_32S, Protocol.JK02_24S):
        sample = frames[protocol]
        if not sample:
            continue
        meter = EnergyMeter(max_gap=15.0)

        def checked(real: RealFrame, protocol: Protocol = protocol) -> object:
            return check_cell_info(real.frame, protocol)

        def counted(
            real: RealFrame, protocol: Protocol = protocol, meter: EnergyMeter = meter
        ) -> object:
            cells = check_cell_info(real.frame, protocol).cell_info()
            snapshot = Snapshot(protocol, device_info, settings, cells)
            power = snapshot.cell_info.power
            if power is not None:
                meter.add(time.perf_counter(), power)
            return snapshot

        timings = time_per_frame(
            {"checked (a balancer)": checked, "and counted (a BMS)": counted}, sample
        )
        base = timings["checked (a balancer)"]
        print(f"   {protocol.value}: {len(sample)} distinct real frames")
        for name, timing in timings.items():
            print(
                f"     {name:<22} mean {timing.mean_us:6.2f} us, median "
                f"{timing.median_us:6.2f} us per frame"
            )
        added = timings["and counted (a BMS)"].mean_us - base.mean_us
        print(
            f"     the meter adds {added:.2f} us per frame: "
            f"{added / FRAME_INTERVAL / 1e4:.4f} % of one CPU at 2 frames/s"
        )
