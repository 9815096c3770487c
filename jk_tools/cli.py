"""``jk-balancer``: decode captures, list virtual devices, talk to a balancer.

Exit status: 0 success, 1 device or file trouble, 2 a rejected value or bad
usage, 3 wrong password.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Sequence
import contextlib
from datetime import datetime
import json
import os
from pathlib import Path
import sys
from typing import Any, Final, TextIO

from bleak import BleakScanner
from bleak.exc import BleakError

from custom_components.jk_balancer.protocol import (
    DEFAULT_PASSCODE,
    SETTING_SPECS,
    CellInfo,
    DeviceConnectionError,
    DeviceInfo,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    JKBalancerClient,
    JKError,
    Protocol,
    SettingError,
    Settings,
    Snapshot,
    ValueKind,
    WriteNotConfirmedError,
    check_plausible,
    detect_protocol,
    held_value,
    is_jk_advertisement,
)
from jk_emulator import PROFILES, RecordedBalancer, VirtualBalancer, VirtualRadio

from .captures import Problem, load_frames, read_frames

EXIT_DEVICE: Final = 1
EXIT_VALUE: Final = 2
EXIT_PASSWORD: Final = 3
EMULATOR_ADDRESS: Final = "C8:47:80:0E:00:01"
# Simulated seconds per second for --emulator: balancing shows within seconds.
DEFAULT_EMULATOR_SPEED: Final = 1800.0
# Frames read before the layout is known wait for it, at most this many.
DETECTION_WINDOW: Final = 64


class WrongPasswordError(JKError):
    """The password does not match the device's passcode."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        return asyncio.run(run(argv))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (head, less) went away; that is not an error.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


async def run(argv: Sequence[str] | None = None) -> int:
    """Run one command in the running event loop; return the exit status."""
    args = _parser().parse_args(argv)
    result: int = await args.handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jk-balancer",
        description="Decode JK BLE captures and talk to JK active balancers.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    decode = commands.add_parser(
        "decode", help="decode hex frame files and btsnoop logs to JSON lines"
    )
    decode.add_argument("files", nargs="+", metavar="FILE")
    _add_protocol(decode, allow_auto=True)
    decode.add_argument(
        "--show-passcode",
        action="store_true",
        help="include the device passcode in device-info output",
    )
    decode.set_defaults(handler=_decode)

    emulators = commands.add_parser("emulators", help="list the virtual devices")
    emulators.set_defaults(handler=_emulators)

    scan = commands.add_parser("scan", help="find JK devices nearby")
    scan.add_argument("--timeout", type=float, default=10.0, help="seconds to scan")
    scan.add_argument("--json", action="store_true", help="print JSON lines")
    scan.set_defaults(handler=_scan)

    read = commands.add_parser("read", help="print device info, settings and cells")
    _add_target(read)
    read.set_defaults(handler=_read)

    monitor = commands.add_parser("monitor", help="follow the cells live")
    _add_target(monitor)
    monitor.add_argument(
        "--count", type=int, default=0, help="stop after N updates (0: never)"
    )
    monitor.set_defaults(handler=_monitor)

    set_ = commands.add_parser(
        "set",
        help="write a setting and print what the device holds afterwards",
        description="Settings: "
        + "; ".join(
            f"{key} ({spec.description}, {spec.unit or 'number'})"
            for key, spec in SETTING_SPECS.items()
        ),
    )
    _add_target(set_)
    set_.add_argument("setting", choices=list(SETTING_SPECS), metavar="SETTING")
    set_.add_argument("value", metavar="VALUE", help="number, or on/off")
    set_.set_defaults(handler=_set)
    return parser


def _add_protocol(parser: argparse.ArgumentParser, *, allow_auto: bool) -> None:
    choices = ["auto", *(protocol.value for protocol in Protocol)]
    parser.add_argument(
        "--protocol",
        choices=choices,
        default="auto",
        help="frame layout (default: detect)" if allow_auto else "frame layout",
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("address", nargs="?", help="Bluetooth address")
    target.add_argument(
        "--emulator", choices=list(PROFILES), help="use a virtual device instead"
    )
    target.add_argument(
        "--recording",
        type=Path,
        metavar="FILE",
        help="replay a real device from a capture (btsnoop log or hex frames)",
    )
    parser.add_argument(
        "--password",
        default=DEFAULT_PASSCODE,
        help=f"device password (default: the factory {DEFAULT_PASSCODE})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_EMULATOR_SPEED,
        help="emulator: simulated seconds per second",
    )
    parser.add_argument("--seed", type=int, help="emulator: random seed")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to find the device"
    )
    _add_protocol(parser, allow_auto=True)


def _protocol(args: argparse.Namespace) -> Protocol | None:
    return None if args.protocol == "auto" else Protocol(args.protocol)


# -- decode ------------------------------------------------------------------


async def _decode(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            printed = _decode_file(path, _protocol(args), args.show_passcode)
        except OSError as err:
            print(f"{path}: {err.strerror or err}", file=sys.stderr)
            status = EXIT_DEVICE
            continue
        if not printed:
            print(f"{path}: no frame found", file=sys.stderr)
            status = EXIT_DEVICE
    return status


def _decode_file(path: Path, forced: Protocol | None, show_passcode: bool) -> int:
    """Print every frame of a file as it is read; return how many were printed.

    Until the frame layout is known the frames wait (at most
    DETECTION_WINDOW of them), so every frame is decoded in the layout the
    file's frames settle on, and memory does not grow with the file.
    """
    detector = None if forced else FrameDecoder()
    decoder = FrameDecoder(forced) if forced else None
    waiting: list[tuple[str, Frame]] = []
    printed = 0
    for item in read_frames(path):
        if isinstance(item, Problem):
            print(item.message, file=sys.stderr)
            continue
        if decoder is not None:
            printed += _print_frame(decoder, *item, show_passcode)
            continue
        assert detector is not None
        waiting.append(item)
        with contextlib.suppress(FrameError):
            detector.check(item[1])
        if detector.confirmed or len(waiting) >= DETECTION_WINDOW:
            decoder = FrameDecoder(detect_protocol(frame for _, frame in waiting))
            printed += sum(
                _print_frame(decoder, *waited, show_passcode) for waited in waiting
            )
            waiting.clear()
    if waiting:
        decoder = FrameDecoder(detect_protocol(frame for _, frame in waiting))
        printed += sum(
            _print_frame(decoder, *waited, show_passcode) for waited in waiting
        )
    return printed


def _print_frame(
    decoder: FrameDecoder, source: str, frame: Frame, show_passcode: bool
) -> int:
    """Print one decoded frame as a JSON line (1), or why it cannot be (0)."""
    try:
        decoded = decoder.decode(frame)
    except FrameError as err:
        print(f"{source}: {err}", file=sys.stderr)
        return 0
    print(json.dumps(_frame_record(frame, decoder.protocol, decoded, show_passcode)))
    return 1


def _frame_record(
    frame: Frame,
    protocol: Protocol | None,
    decoded: DeviceInfo | Settings | CellInfo,
    show_passcode: bool,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "frame_type": FrameType(frame.frame_type).key,
        "protocol": None if protocol is None else protocol.value,
    }
    if isinstance(decoded, DeviceInfo):
        record |= decoded.to_dict(show_passcode=show_passcode)
    else:
        record |= decoded.to_dict()
    return record


# -- emulators and scan ------------------------------------------------------


async def _emulators(_args: argparse.Namespace) -> int:
    for profile in PROFILES.values():
        record = {
            "name": profile.name,
            "protocol": profile.protocol.value,
            "cells": profile.cells,
            "model": profile.vendor_id,
            "description": profile.description,
        }
        print(json.dumps(record))
    return 0


async def _scan(args: argparse.Namespace) -> int:
    try:
        found = await BleakScanner.discover(timeout=args.timeout, return_adv=True)
    except (BleakError, OSError) as err:
        print(f"Bluetooth scan failed: {err or type(err).__name__}", file=sys.stderr)
        return EXIT_DEVICE
    for device, advertisement in found.values():
        if not is_jk_advertisement(advertisement.manufacturer_data):
            continue
        record = {
            "address": device.address,
            "name": advertisement.local_name or device.name,
            "rssi": advertisement.rssi,
        }
        if args.json:
            print(json.dumps(record))
        else:
            print(f"{record['address']}  {record['rssi']:>4} dBm  {record['name']}")
    return 0


# -- live commands -------------------------------------------------------------


def _recorded(path: Path) -> RecordedBalancer:
    try:
        frames = [frame for _, frame in load_frames(path).frames]
        return RecordedBalancer(frames, address=EMULATOR_ADDRESS)
    except (OSError, ValueError) as err:
        raise JKError(f"{path}: {err}") from err


@contextlib.asynccontextmanager
async def _connected(args: argparse.Namespace) -> AsyncIterator[JKBalancerClient]:
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
            else _recorded(args.recording)
        )
        client = JKBalancerClient(
            radio.ble_device(device.address),
            protocol=_protocol(args),
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
        client = JKBalancerClient(ble_device, protocol=_protocol(args))
    await client.connect()
    try:
        if not client.verify_password(args.password):
            raise WrongPasswordError("wrong password")
        yield client
    finally:
        await client.disconnect()


async def _with_device(args: argparse.Namespace, action: Any) -> int:
    try:
        async with _connected(args) as client:
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


async def _read(args: argparse.Namespace) -> int:
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
    return {
        "protocol": snapshot.protocol.value,
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


async def _monitor(args: argparse.Namespace) -> int:
    async def action(client: JKBalancerClient) -> int:
        updates: asyncio.Queue[Snapshot] = asyncio.Queue()
        remove = client.add_listener(updates.put_nowait)
        lost = asyncio.Event()
        remove_lost = client.add_disconnect_listener(lost.set)
        try:
            if not args.json:
                print(
                    "time      total V  delta mV  balancing  bal. A  cells (mV)",
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
    if as_json:
        print(json.dumps(cells.to_dict()), flush=True)
        return
    millivolts = " ".join(f"{voltage * 1000:.0f}" for voltage in cells.cell_voltages)
    total = "-" if cells.total_voltage is None else f"{cells.total_voltage:.3f}"
    delta = cells.delta_cell_voltage
    print(
        f"{datetime.now():%H:%M:%S}  {total:>7}  "
        f"{'-' if delta is None else f'{delta * 1000:.1f}':>8}  "
        f"{'yes' if cells.balancing else 'no':<9}  {cells.balancing_current:6.2f}  "
        f"{millivolts or 'no cells measured'}",
        flush=True,
    )


async def _set(args: argparse.Namespace) -> int:
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
        settings = await client.write_setting(spec.key, value)
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


if __name__ == "__main__":
    sys.exit(main())
