"""The commands that talk to a balancer: ``read``, ``monitor`` and ``set``.

The balancer is a real one (by Bluetooth address, or on an RS485 port at an
address), a virtual one (Bluetooth or RS485), or a real one replayed from a
capture.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
from datetime import datetime
import json
from pathlib import Path
import sys
from typing import Any, Final, TextIO

from bleak import BleakScanner
from bleak.exc import BleakError

from custom_components.jk_balancer.protocol import (
    SETTING_SPECS,
    BalancerClient,
    BluetoothClient,
    Chemistry,
    DeviceConnectionError,
    JKError,
    Rs485Client,
    Rs485Port,
    SettingSpec,
    Snapshot,
    ValueKind,
    WriteNotConfirmedError,
    balancing_status,
    held_value,
)
from custom_components.jk_balancer.protocol.errors import SettingError
from custom_components.jk_balancer.protocol.settings import Limits
from custom_components.jk_balancer.protocol.writes import check_value
from jk_emulator import (
    BUS_PROFILES,
    PROFILES,
    BluetoothBalancer,
    RecordedBalancer,
    VirtualBalancer,
    VirtualBus,
    VirtualRadio,
)

from .captures import load_frames
from .exit_status import EXIT_DEVICE, EXIT_PASSWORD, EXIT_VALUE

EMULATOR_ADDRESS: Final = "C8:47:80:0E:00:01"
# How often ``monitor`` reads a balancer on RS485 (it streams over Bluetooth).
BUS_POLL_INTERVAL: Final = 1.0


class WrongPasswordError(JKError):
    """The password does not match the device's passcode."""


def recorded(path: Path) -> RecordedBalancer:
    try:
        frames = [frame for _, frame in load_frames(path).frames]
        return RecordedBalancer(frames, address=EMULATOR_ADDRESS)
    except (OSError, ValueError) as err:
        raise JKError(f"{path}: {err}") from err


@dataclass
class Session:
    """A balancer the commands talk to, whichever way it is reached."""

    client: BalancerClient

    def updates(self) -> AsyncIterator[Snapshot]:
        """Every new state, until the balancer is lost."""
        raise NotImplementedError


@dataclass
class BluetoothSession(Session):
    """A balancer over Bluetooth: it streams its measurements."""

    client: BluetoothClient

    async def updates(self) -> AsyncIterator[Snapshot]:
        """Every snapshot the stream brings, until the link drops."""
        queue: asyncio.Queue[Snapshot] = asyncio.Queue()
        lost = asyncio.Event()
        remove = self.client.add_listener(queue.put_nowait)
        remove_lost = self.client.add_disconnect_listener(lost.set)
        try:
            while True:
                update = asyncio.ensure_future(queue.get())
                gone = asyncio.ensure_future(lost.wait())
                done, _ = await asyncio.wait(
                    (update, gone), return_when=asyncio.FIRST_COMPLETED
                )
                gone.cancel()
                if update not in done:
                    update.cancel()
                    raise DeviceConnectionError("connection lost")
                yield update.result()
        finally:
            remove()
            remove_lost()


@dataclass
class BusSession(Session):
    """A balancer on an RS485 bus: it is read at an interval."""

    client: Rs485Client
    interval: float = BUS_POLL_INTERVAL

    async def updates(self) -> AsyncIterator[Snapshot]:
        """A fresh reading every ``interval`` seconds."""
        while True:
            await asyncio.sleep(self.interval)
            yield await self.client.read()


@contextlib.asynccontextmanager
async def connected(args: argparse.Namespace) -> AsyncIterator[Session]:
    """The balancer ``args`` names, reached, and over Bluetooth its password checked."""
    if args.port or args.emulator in BUS_PROFILES:
        async with _on_bus(args) as session:
            yield session
        return
    if args.emulator or args.recording:
        radio = VirtualRadio()
        device = radio.add(
            BluetoothBalancer(
                PROFILES[args.emulator],
                address=EMULATOR_ADDRESS,
                speed=args.speed,
                seed=args.seed,
            )
            if args.emulator
            else recorded(args.recording)
        )
        client = BluetoothClient(
            radio.ble_device(device.address),
            protocol=args.forced_protocol,
            backend=radio.client_class,
        )
    else:
        try:
            ble_device = await BleakScanner.find_device_by_address(
                args.address, timeout=args.timeout
            )
        except (BleakError, OSError) as err:
            raise DeviceConnectionError(f"Bluetooth is not available: {err}") from err
        if ble_device is None:
            raise DeviceConnectionError(f"{args.address} was not found")
        client = BluetoothClient(ble_device, protocol=args.forced_protocol)
    try:
        await client.read()
        if not client.verify_password(args.password):
            raise WrongPasswordError("wrong password")
        yield BluetoothSession(client)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def _on_bus(args: argparse.Namespace) -> AsyncIterator[Session]:
    """The balancer at ``--address`` on ``--port``, or on a virtual bus."""
    async with contextlib.AsyncExitStack() as stack:
        port = args.port
        if args.emulator:
            unit = VirtualBalancer(
                BUS_PROFILES[args.emulator],
                address=EMULATOR_ADDRESS,
                speed=args.speed,
                seed=args.seed,
            )
            virtual = await stack.enter_async_context(
                VirtualBus({args.bus_address: unit})
            )
            port = virtual.path
        line = Rs485Port(port)
        stack.push_async_callback(line.close)
        client = Rs485Client(line, args.bus_address)
        await client.read()
        yield BusSession(client)


async def _with_device(args: argparse.Namespace, action: Any) -> int:
    try:
        async with connected(args) as session:
            result: int = await action(session)
            return result
    except WrongPasswordError:
        print("Wrong password: the device reports another passcode.", file=sys.stderr)
        return EXIT_PASSWORD
    except SettingError as err:
        print(str(err), file=sys.stderr)
        return EXIT_DEVICE if isinstance(err, WriteNotConfirmedError) else EXIT_VALUE
    except JKError as err:
        print(str(err), file=sys.stderr)
        return EXIT_DEVICE


async def read(args: argparse.Namespace) -> int:
    """The ``read`` command."""

    async def action(session: Session) -> int:
        snapshot = session.client.snapshot
        assert snapshot is not None
        if args.json:
            print(json.dumps(_snapshot_record(snapshot)))
        else:
            _print_snapshot(snapshot, sys.stdout)
        return 0

    return await _with_device(args, action)


def _snapshot_record(snapshot: Snapshot) -> dict[str, Any]:
    status = balancing_status(snapshot)
    return {
        "protocol": snapshot.protocol.value,
        "balancing_status": None if status is None else status.value,
        "device_info": snapshot.device_info.to_dict(),
        "settings": snapshot.settings.to_dict(),
        "cell_info": snapshot.cell_info.to_dict(),
    }


def _print_snapshot(snapshot: Snapshot, out: TextIO) -> None:
    info, settings, cells = snapshot.device_info, snapshot.settings, snapshot.cell_info
    if snapshot.protocol.is_bluetooth:
        print(
            f"{info.vendor_id} (hw {info.hardware_version}, "
            f"sw {info.software_version}, {snapshot.protocol.value}), "
            f"name {info.device_name!r}, serial {info.serial_number or '-'}",
            file=out,
        )
    else:
        print(f"{info.vendor_id}, {info.device_name}", file=out)
    status = balancing_status(snapshot)
    print(f"Balancing status: {status.value if status else '-'}", file=out)
    print("Settings:", file=out)
    for key, value in settings.to_dict().items():
        print(f"  {key:<24} {_show(value)}", file=out)
    print("Cells:", file=out)
    for number, voltage in enumerate(cells.cell_voltages, 1):
        # Over RS485 the wires' resistances are not reported.
        wire = (
            f"  wire {cells.cell_resistances[number - 1]:.3f} Ohm"
            if cells.cell_resistances
            else ""
        )
        print(f"  {number:>2}  {voltage:.3f} V{wire}", file=out)
    for key, value in cells.to_dict().items():
        if key not in ("cell_voltages", "cell_resistances"):
            print(f"  {key:<24} {_show(value)}", file=out)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "-"
    return str(value)


async def monitor(args: argparse.Namespace) -> int:
    """The ``monitor`` command."""

    async def action(session: Session) -> int:
        if not args.json:
            print(
                "time      total V  delta mV  status               bal. A  cells (mV)",
                flush=True,
            )
        shown = 0
        async for snapshot in session.updates():
            _print_update(snapshot, args.json)
            shown += 1
            if args.count and shown >= args.count:
                break
        return 0

    return await _with_device(args, action)


def _print_update(snapshot: Snapshot, as_json: bool) -> None:
    cells = snapshot.cell_info
    status = balancing_status(snapshot)
    shown = "-" if status is None else status.value
    if as_json:
        print(json.dumps(cells.to_dict() | {"balancing_status": shown}), flush=True)
        return
    millivolts = " ".join(f"{voltage * 1000:.0f}" for voltage in cells.cell_voltages)
    total = "-" if cells.total_voltage is None else f"{cells.total_voltage:.3f}"
    delta = cells.delta_cell_voltage
    print(
        f"{datetime.now():%H:%M:%S}  {total:>7}  "
        f"{'-' if delta is None else f'{delta * 1000:.1f}':>8}  "
        f"{shown:<20} {cells.balancing_current:6.2f}  "
        f"{millivolts or 'no cells measured'}",
        flush=True,
    )


def check_plausible(spec: SettingSpec, value: float | bool) -> float:
    """Refuse a value no device of any layout would take (nothing connected)."""
    low, high = spec.widest_range()
    return check_value(spec, value, Limits(low, high, spec.step))


async def set_setting(args: argparse.Namespace) -> int:
    """The ``set`` command."""
    spec = SETTING_SPECS[args.setting]
    try:
        value = _parse_value(args.value, spec.kind)
    except ValueError:
        print(f"{args.value!r} is not a valid value for {spec.key}", file=sys.stderr)
        return EXIT_VALUE
    try:
        # What no device takes is refused before anything is connected.
        check_plausible(spec, value)
    except SettingError as err:
        print(str(err), file=sys.stderr)
        return EXIT_VALUE

    async def action(session: Session) -> int:
        settings = await session.client.write_setting(
            spec.key,
            value,
            chemistry=Chemistry(args.chemistry) if args.chemistry else None,
            fewer_cells_confirmed=args.fewer_cells,
        )
        snapshot = session.client.snapshot
        assert snapshot is not None
        held = held_value(spec, settings, snapshot.cell_info)
        shown: Any = spec.coerce(held) if held is not None else None
        if args.json:
            print(json.dumps({"setting": spec.key, "value": shown}))
        else:
            print(_show(shown) if not isinstance(shown, float) else f"{shown:g}")
        return 0

    return await _with_device(args, action)


def _parse_value(text: str, kind: ValueKind) -> float | bool:
    if kind is ValueKind.SWITCH:
        lowered = text.lower()
        if lowered in ("on", "true", "1"):
            return True
        if lowered in ("off", "false", "0"):
            return False
        raise ValueError(text)
    return float(text)
