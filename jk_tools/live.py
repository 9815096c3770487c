"""The commands that talk to a balancer: ``read``, ``monitor`` and ``set``.

The balancer is a real one (by Bluetooth address), a virtual one, or a real
one replayed from a capture.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import datetime
import json
from pathlib import Path
import sys
from typing import Any, Final, TextIO

from bleak import BleakScanner
from bleak.exc import BleakError

from custom_components.jk_balancer.protocol import (
    SETTING_SPECS,
    Chemistry,
    DeviceConnectionError,
    JKBalancerClient,
    JKError,
    SettingError,
    Snapshot,
    ValueKind,
    WriteNotConfirmedError,
    balancing_status,
    check_plausible,
    held_value,
)
from jk_emulator import PROFILES, RecordedBalancer, VirtualBalancer, VirtualRadio

from .captures import load_frames
from .status import EXIT_DEVICE, EXIT_PASSWORD, EXIT_VALUE

EMULATOR_ADDRESS: Final = "C8:47:80:0E:00:01"


class WrongPasswordError(JKError):
    """The password does not match the device's passcode."""


def recorded(path: Path) -> RecordedBalancer:
    try:
        frames = [frame for _, frame in load_frames(path).frames]
        return RecordedBalancer(frames, address=EMULATOR_ADDRESS)
    except (OSError, ValueError) as err:
        raise JKError(f"{path}: {err}") from err


@contextlib.asynccontextmanager
async def connected(args: argparse.Namespace) -> AsyncIterator[JKBalancerClient]:
    """The balancer ``args`` names, connected and its password checked."""
    if args.emulator or args.recording:
        radio = VirtualRadio()
        device = radio.add(
            VirtualBalancer(
                PROFILES[args.emulator],
                address=EMULATOR_ADDRESS,
                speed=args.speed,
                seed=args.seed,
            )
            if args.emulator
            else recorded(args.recording)
        )
        client = JKBalancerClient(
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
        client = JKBalancerClient(ble_device, protocol=args.forced_protocol)
    await client.connect()
    try:
        if not client.verify_password(args.password):
            raise WrongPasswordError("wrong password")
        yield client
    finally:
        await client.disconnect()


async def _with_device(args: argparse.Namespace, action: Any) -> int:
    try:
        async with connected(args) as client:
            result: int = await action(client)
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

    async def action(client: JKBalancerClient) -> int:
        snapshot = client.snapshot
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
    print(
        f"{info.vendor_id} (hw {info.hardware_version}, sw {info.software_version}, "
        f"{snapshot.protocol.value}), name {info.device_name!r}, "
        f"serial {info.serial_number or '-'}",
        file=out,
    )
    status = balancing_status(snapshot)
    print(f"Balancing status: {status.value if status else '-'}", file=out)
    print("Settings:", file=out)
    for key, value in settings.to_dict().items():
        print(f"  {key:<24} {_show(value)}", file=out)
    print("Cells:", file=out)
    for number, (voltage, resistance) in enumerate(
        zip(cells.cell_voltages, cells.cell_resistances, strict=True), 1
    ):
        print(f"  {number:>2}  {voltage:.3f} V  wire {resistance:.3f} Ohm", file=out)
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

    async def action(client: JKBalancerClient) -> int:
        updates: asyncio.Queue[Snapshot] = asyncio.Queue()
        remove = client.add_listener(updates.put_nowait)
        lost = asyncio.Event()
        remove_lost = client.add_disconnect_listener(lost.set)
        try:
            if not args.json:
                print(
                    "time      total V  delta mV  status               bal. A  "
                    "cells (mV)",
                    flush=True,
                )
            shown = 0
            while not args.count or shown < args.count:
                update = asyncio.ensure_future(updates.get())
                gone = asyncio.ensure_future(lost.wait())
                done, _ = await asyncio.wait(
                    (update, gone), return_when=asyncio.FIRST_COMPLETED
                )
                gone.cancel()
                if update not in done:
                    update.cancel()
                    raise DeviceConnectionError("connection lost")
                _print_update(update.result(), args.json)
                shown += 1
        finally:
            remove()
            remove_lost()
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

    async def action(client: JKBalancerClient) -> int:
        settings = await client.write_setting(
            spec.key,
            value,
            chemistry=Chemistry(args.chemistry) if args.chemistry else None,
            fewer_cells_confirmed=args.fewer_cells,
        )
        snapshot = client.snapshot
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
