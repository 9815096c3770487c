"""Benchmark ``energy``: a JK BMS's energy, its cost per frame and a day of it.

A balancer's link checks every streamed cell-info frame and converts it only
when it is read. A JK BMS's energy meter needs the power of every frame, so
each is also converted into a snapshot and counted. Both are timed on the real
JK02 frames of the captures (their current and voltage as recorded).

Then a simulated day through Home Assistant: a virtual JK BMS whose current is
a daily sine streams its frames through the virtual proxy, with three gaps (the
BMS out of reach, the link lent, Home Assistant stopped). The energy sensors
are compared with what the virtual battery says really flowed outside the gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    EnergyMeter,
    Protocol,
    Snapshot,
    check_cell_info,
)
from jk_emulator import PROFILES, VirtualBalancer

from .bench_frames import RealFrame, real_cell_info_frames, time_per_frame
from .captures import CAPTURES
from .simulation import Simulation, run_simulation

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
    print("   A simulated day through Home Assistant, a 40 A daily sine, three gaps:")
    began = time.perf_counter()
    day = simulate_day()
    print(
        f"     charged {day.charged:.3f} kWh, truth {day.true_charged:.3f} kWh "
        f"({day.charged_error:+.3%}); discharged {day.discharged:.3f} kWh, truth "
        f"{day.true_discharged:.3f} kWh ({day.discharged_error:+.3%})"
    )
    print(
        f"     not counted, as it flowed in the gaps: {day.gap_charged:.3f} kWh in, "
        f"{day.gap_discharged:.3f} kWh out ({time.perf_counter() - began:.0f} s "
        "of real time)"
    )


# -- a simulated day through Home Assistant ---------------------------------------


@dataclass(frozen=True)
class EnergyDay:
    """What the sensors counted and what really flowed, outside the gaps (kWh)."""

    charged: float
    discharged: float
    true_charged: float
    true_discharged: float
    # What flowed during the gaps (not to be counted).
    gap_charged: float
    gap_discharged: float

    @property
    def charged_error(self) -> float:
        """Relative error of the charged energy."""
        return self.charged / self.true_charged - 1

    @property
    def discharged_error(self) -> float:
        """Relative error of the discharged energy."""
        return self.discharged / self.true_discharged - 1


# The gaps of the day (simulated hours from the start, and how long).
LINK_DOWN: Final = (3.0, 20 / 60)  # the BMS out of reach
LENT: Final = (10.0, 15 / 60)  # the link lent to the JK app
STOPPED: Final = (18.0, 2.0)  # Home Assistant not running (the entry unloaded)


def simulate_day(hours: float = 24.0, amps: float = 40.0) -> EnergyDay:
    """A virtual JK BMS with a daily sine of ``amps`` through Home Assistant."""
    return run_simulation(lambda sim: _day(sim, hours, amps))


async def _day(sim: Simulation, hours: float, amps: float) -> EnergyDay:
    device = sim.add_device("jk-pb2a16s20p", "Energy BMS", noise=False)
    battery = device.battery
    battery.load_amplitude = amps
    # Half full, so the day's charge and discharge fit in the 280 Ah cells.
    for cell in battery.cells:
        cell.charge = battery.capacity * 0.5
    entry = await sim.add_entry(device)
    hass = sim.hass
    start = sim.now
    gaps: list[tuple[float, float]] = []

    def truth() -> tuple[float, float]:
        device.measure()  # brings the battery up to now
        return battery.energy_in / 1000, battery.energy_out / 1000

    def sensor(key: str) -> float:
        state = hass.states.get(f"sensor.energy_bms_energy_{key}")
        assert state is not None
        return float(state.state)

    async def until(hour: float) -> None:
        await sim.run_for(start + hour * 3600 - sim.now)

    async def gap(at: float, length: float, begin: Any, end: Any) -> None:
        await until(at)
        before = truth()
        await begin()
        await until(at + length)
        after = truth()
        await end()
        gaps.append((after[0] - before[0], after[1] - before[1]))

    async def power_off() -> None:
        device.set_powered(False)

    async def power_on() -> None:
        device.set_powered(True)

    async def lend() -> None:
        await sim.link(device).lending.async_lend()

    async def take_back() -> None:
        sim.link(device).lending.async_take_back()

    async def stop() -> None:
        await hass.config_entries.async_unload(entry.entry_id)

    async def start_again() -> None:
        await hass.config_entries.async_setup(entry.entry_id)

    sim.link(device).lending.minutes = LENT[1] * 60
    first = truth()
    for at, length, begin, end in (
        (*LINK_DOWN, power_off, power_on),
        (*LENT, lend, take_back),
        (*STOPPED, stop, start_again),
    ):
        if at + length < hours:
            await gap(at, length, begin, end)
    await until(hours)
    # The last update publishes what the meter counted up to now.
    await sim.coordinator(device).async_refresh()
    last = truth()
    gap_in = sum(item[0] for item in gaps)
    gap_out = sum(item[1] for item in gaps)
    return EnergyDay(
        charged=sensor("charged"),
        discharged=sensor("discharged"),
        true_charged=last[0] - first[0] - gap_in,
        true_discharged=last[1] - first[1] - gap_out,
        gap_charged=gap_in,
        gap_discharged=gap_out,
    )
