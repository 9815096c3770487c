"""Soak with fault injection: Home Assistant and 3 virtual balancers for hours.

On simulated time (see :mod:`jk_tools.simulation`), with the integration's
default options, the virtual balancers drop the link in the middle of a frame,
corrupt 5 % of their frames for half an hour, go silent for 2 minutes, reboot,
and vanish while a setting is written. Printed per fault: how long the entities
were unavailable and how soon after the fault cleared they showed fresh values;
then connections, tasks and timers before and after, memory at start and end,
and every warning or error logged outside a fault. Exit status 1 when a fault
did not recover within two update intervals, something leaked, the write did
not fail cleanly, or an unexpected error was logged.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging
import sys
import time
import tracemalloc
from typing import Final

from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er

from custom_components.jk_balancer.const import DEFAULT_UPDATE_INTERVAL, DOMAIN
from jk_emulator import BluetoothBalancer

from .simulation import Simulation, quiet_logging, run_simulation
from .soak_records import (
    Census,
    DeviceWatch,
    Fault,
    LogRecorder,
)

# Two update intervals: the acceptance bound for fresh values after a fault.
RECOVERY_BOUND: Final = 2 * DEFAULT_UPDATE_INTERVAL
WARM_UP: Final = 600.0
# Time given to the integration after a fault before anything it logs counts
# as unexpected.
GRACE: Final = RECOVERY_BOUND
# A few objects come and go with timing (a pending frame, a log record); a
# leak of one object per update would add hundreds over the soak.
OBJECT_GROWTH_LIMIT: Final = 100


class Soak:
    """The fault schedule, the watchers and the report."""

    def __init__(self, sim: Simulation, hours: float) -> None:
        """Prepare; nothing runs until :meth:`run`."""
        self.sim = sim
        self.hours = hours
        self.faults: list[Fault] = []
        self.watches: dict[str, DeviceWatch] = {}
        self.problems: list[str] = []
        self.log = LogRecorder(lambda: sim.now)
        self.growth: list[tracemalloc.StatisticDiff] = []

    async def run(self) -> int:
        """Set up, inject every fault, report; return the exit status."""
        sim = self.sim
        devices = [
            sim.add_device("jk-b2a16s", "Shed JK04"),
            sim.add_device("jk-b2a24s20p", "Rack JK02 24S"),
            sim.add_device("jk-pb2a16s20p", "House JK02 32S"),
        ]
        for device in devices:
            await sim.add_entry(device)
            self._watch(device)
        await sim.run_for(WARM_UP)
        logging.getLogger().addHandler(self.log)
        # Traced from here: what the Python heap holds beyond the warmed-up state.
        tracemalloc.start()
        before = Census.take(sim)
        started = sim.now
        first, second, third = devices

        await self._drop_mid_frame(first)
        await self._corrupt(devices, 0.05, 1800)
        await self._silence(second, 120)
        await self._reboot(third, 10)
        await self._write_while_gone(first, 120)
        # Memory after the faults, and again after hours of normal running:
        # growth between the two would be a leak.
        middle = Census.take(sim)
        await sim.run_for(max(0.0, started + 3600 * self.hours - sim.now))

        after = Census.take(sim)
        self.growth = [
            stat
            for stat in after.heap.compare_to(middle.heap, "lineno")
            if stat.size_diff > 0
        ][:3]
        tracemalloc.stop()
        logging.getLogger().removeHandler(self.log)
        self._report(devices, (before, middle, after), sim.now - started)
        return 1 if self.problems else 0

    # -- watching ----------------------------------------------------------------

    def _watch(self, device: BluetoothBalancer) -> None:
        sim = self.sim
        watch = self.watches[device.address] = DeviceWatch(set(sim.entity_ids(device)))
        coordinator = sim.coordinator(device)

        @callback
        def updated() -> None:
            watch.updates.append((sim.now, coordinator.last_update_success))

        @callback
        def state_changed(event: Event[EventStateChangedData]) -> None:
            if event.data["entity_id"] not in watch.entity_ids:
                return
            new = event.data["new_state"]
            down = new is None or new.state == STATE_UNAVAILABLE
            if down and watch.unavailable_since is None:
                watch.unavailable_since = sim.now
            elif not down and watch.unavailable_since is not None:
                watch.unavailable_total += sim.now - watch.unavailable_since
                watch.unavailable_since = None

        entry = sim.entries[device.address]
        entry.async_on_unload(coordinator.async_add_listener(updated))
        entry.async_on_unload(
            sim.hass.bus.async_listen(EVENT_STATE_CHANGED, state_changed)
        )

    def _begin(self, name: str, device: BluetoothBalancer | None) -> Fault:
        fault = Fault(name, device, self.sim.now)
        self.faults.append(fault)
        for watch in self._watches(device):
            watch.unavailable_total = 0.0
        return fault

    def _watches(self, device: BluetoothBalancer | None) -> list[DeviceWatch]:
        if device is None:
            return list(self.watches.values())
        return [self.watches[device.address]]

    async def _settle(self, fault: Fault, cleared: float | None = None) -> None:
        """Wait for fresh values after the fault cleared (or the bound to pass)."""
        fault.cleared = self.sim.now if cleared is None else cleared
        watches = self._watches(fault.device)
        deadline = fault.cleared + 3 * RECOVERY_BOUND
        while self.sim.now < deadline:
            await self.sim.run_for(1)
            fresh = [
                next(
                    (at for at, ok in watch.updates if ok and at >= fault.cleared),
                    None,
                )
                for watch in watches
            ]
            if all(at is not None for at in fresh) and not any(
                watch.unavailable_since is not None for watch in watches
            ):
                fault.fresh_after = max(at for at in fresh if at is not None)
                fault.fresh_after -= fault.cleared
                break
        for watch in watches:
            fault.unavailable += watch.unavailable_total
            fault.failed_updates += sum(
                1 for at, ok in watch.updates if not ok and at >= fault.start
            )
        if fault.fresh_after is None or fault.fresh_after > RECOVERY_BOUND:
            self.problems.append(f"{fault.name}: no fresh values within the bound")
        await self.sim.run_for(GRACE)

    # -- faults ------------------------------------------------------------------

    async def _drop_mid_frame(self, device: BluetoothBalancer) -> None:
        fault = self._begin("link dropped mid-frame", device)
        dropped: list[float] = []
        client = self.sim.link(device).client
        remove = client.add_disconnect_listener(lambda: dropped.append(self.sim.now))
        device.drop_link(mid_frame=True)
        while not dropped:
            await self.sim.run_for(0.05)
        remove()
        await self._settle(fault, cleared=dropped[0])

    async def _corrupt(
        self, devices: list[BluetoothBalancer], rate: float, seconds: float
    ) -> None:
        fault = self._begin(f"{rate:.0%} of frames corrupted for {seconds:g} s", None)
        clients = [self.sim.link(device).client for device in devices]
        bad_before = sum(client.stats.bad_checksum for client in clients)
        frames_before = sum(client.stats.frames for client in clients)
        for device in devices:
            device.corrupt_frames(rate)
        await self.sim.run_for(seconds)
        for device in devices:
            device.corrupt_frames(0.0)
        bad = sum(client.stats.bad_checksum for client in clients) - bad_before
        good = sum(client.stats.frames for client in clients) - frames_before
        fault.notes.append(f"{bad} bad frames dropped, {good} good ones used")
        await self._settle(fault)

    async def _silence(self, device: BluetoothBalancer, seconds: float) -> None:
        fault = self._begin(f"silent for {seconds:g} s", device)
        device.go_silent(seconds)
        await self.sim.run_for(seconds)
        await self._settle(fault)

    async def _reboot(self, device: BluetoothBalancer, downtime: float) -> None:
        fault = self._begin(f"reboot ({downtime:g} s down)", device)
        device.reboot(downtime)
        await self.sim.run_for(downtime)
        await self._settle(fault)

    async def _write_while_gone(
        self, device: BluetoothBalancer, seconds: float
    ) -> None:
        """The device vanishes; a setting written right then must fail cleanly."""
        fault = self._begin(f"setting written while gone ({seconds:g} s)", device)
        entity_id = self._number_entity(device, "balance_trigger_voltage")
        shown = self.sim.hass.states.get(entity_id)
        held = device.settings.balance_trigger_voltage
        writes = len(device.writes)
        device.set_powered(False)
        attempted = self.sim.now
        try:
            await self.sim.hass.services.async_call(
                "number",
                "set_value",
                # The entity shows the trigger in mV: 2 mV more.
                {"entity_id": entity_id, "value": round(held * 1000) + 2},
                blocking=True,
            )
        except HomeAssistantError as err:
            fault.notes.append(
                f"the write failed after {self.sim.now - attempted:.1f} s: "
                f'"{err}" (translation key {err.translation_key})'
            )
            if err.translation_key != "write_unreachable":
                self.problems.append(
                    f"the failed write was not refused as unreachable: {err}"
                )
        else:
            self.problems.append("a write to a vanished device did not fail")
        if (
            len(device.writes) != writes
            or device.settings.balance_trigger_voltage != held
        ):
            self.problems.append("the failed write changed the device")
        now_shown = self.sim.hass.states.get(entity_id)
        if (
            shown is not None
            and now_shown is not None
            and now_shown.state not in (shown.state, STATE_UNAVAILABLE)
        ):
            self.problems.append(
                f"the failed write changed {entity_id}: {shown.state} -> "
                f"{now_shown.state}"
            )
        fault.notes.append(
            f"device still holds {held * 1000:g} mV, entity shows "
            f"{now_shown.state if now_shown else 'nothing'}"
        )
        await self.sim.run_for(seconds)
        device.set_powered(True)
        await self._settle(fault)

    def _number_entity(self, device: BluetoothBalancer, key: str) -> str:
        entity_id = er.async_get(self.sim.hass).async_get_entity_id(
            "number", DOMAIN, f"{device.address}-{key}"
        )
        if entity_id is None:
            raise RuntimeError(f"{device.name} has no {key} number")
        return entity_id

    # -- report ------------------------------------------------------------------

    def _report(
        self,
        devices: list[BluetoothBalancer],
        census: tuple[Census, Census, Census],
        elapsed: float,
    ) -> None:
        before, middle, after = census
        print(
            f"   {len(devices)} balancers, {elapsed / 3600:.1f} simulated hours, "
            f"update every {DEFAULT_UPDATE_INTERVAL} s, bound for fresh values "
            f"{RECOVERY_BOUND} s after a fault clears"
        )
        for fault in self.faults:
            where = fault.device.name if fault.device else "every balancer"
            fresh = (
                "NEVER" if fault.fresh_after is None else f"{fault.fresh_after:5.1f} s"
            )
            print(
                f"   - {fault.name} ({where}): fresh values {fresh} after it "
                f"cleared; entities unavailable {fault.unavailable:.1f} s; "
                f"{fault.failed_updates} failed update(s)"
            )
            for note in fault.notes:
                print(f"       {note}")
        connected = sum(device.link is not None for device in devices)
        print(
            f"   links open: {before.links} before, {after.links} after "
            f"({connected} devices linked); tasks {before.tasks} -> {after.tasks}; "
            f"timers {before.timers} -> {after.timers}"
        )
        print(
            "   memory at start, after the faults, at the end: "
            f"{before.rss:.1f}, {middle.rss:.1f}, {after.rss:.1f} MiB resident; "
            f"Python heap allocated since the start and still held (less the "
            f"soak's own records) "
            f"{before.traced:.2f}, {middle.traced:.2f}, {after.traced:.2f} MiB; "
            f"Python objects {before.objects}, {middle.objects}, {after.objects}"
        )
        for stat in self.growth:
            origin = stat.traceback[0]
            print(
                f"     heap growth after the faults: {stat.size_diff / 1024:+.1f} KiB "
                f"in {stat.count_diff:+d} blocks at {origin.filename}:{origin.lineno}"
            )
        if after.links != len(devices) or connected != len(devices):
            self.problems.append("not every balancer is linked at the end")
        if after.links > before.links or after.tasks > before.tasks:
            self.problems.append("connections or tasks leaked")
        if after.timers > before.timers:
            self.problems.append("timers leaked")
        # Steady running after the faults should not keep adding objects.
        if after.objects - middle.objects > OBJECT_GROWTH_LIMIT:
            self.problems.append("Python objects kept growing after the faults")
        unexpected = [
            (at, record)
            for at, record in self.log.records
            if not self._during_fault(at) or record.exc_info
        ]
        print(
            f"   warnings and errors logged: {len(self.log.records)}, "
            f"{len(unexpected)} outside a fault or with a traceback"
        )
        for at, record in unexpected:
            message = record.getMessage()
            print(f"     UNEXPECTED at {at:.0f} s: {record.levelname} {message}")
            self.problems.append("unexpected log record")
        for at, record in self.log.records:
            if (at, record) not in unexpected:
                print(f"     during a fault: {record.levelname} {record.getMessage()}")
        print(
            "   result: "
            + ("PASS" if not self.problems else "FAIL: " + "; ".join(self.problems))
        )

    def _during_fault(self, at: float) -> bool:
        return any(fault.start <= at <= fault.cleared + GRACE for fault in self.faults)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak and print what it saw."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours")
    args = parser.parse_args(argv)
    quiet_logging()
    print(f"== Soak with fault injection, {args.hours:g} simulated hours")
    wall = time.monotonic()

    async def soak(sim: Simulation) -> int:
        return await Soak(sim, args.hours).run()

    status: int = run_simulation(soak)
    print(f"   ({time.monotonic() - wall:.0f} s of real time)")
    return status


if __name__ == "__main__":
    sys.exit(main())
