"""``jk-balancer``: decode captures, list virtual devices, talk to a balancer.

Exit status: 0 success, 1 device or file trouble, 2 a rejected value or bad
usage, 3 wrong password.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import json
import os
from pathlib import Path
import sys
from typing import Final

from bleak import BleakScanner
from bleak.exc import BleakError

from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    SETTING_SPECS,
    Chemistry,
    Protocol,
    is_jk_advertisement,
)
from jk_emulator import BUS_PROFILES, PROFILES
from jk_emulator.device_codec import DEFAULT_PASSCODE

from . import live
from .decode_files import decode
from .exit_status import EXIT_DEVICE

# Simulated seconds per second for --emulator: balancing shows within seconds.
DEFAULT_EMULATOR_SPEED: Final = 1800.0


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
    chosen = getattr(args, "protocol", "auto")
    args.forced_protocol = None if chosen == "auto" else Protocol(chosen)
    result: int = await args.handler(args)
    return result


async def _decode(args: argparse.Namespace) -> int:
    return await decode(args, args.forced_protocol)


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
    read.set_defaults(handler=live.read)

    monitor = commands.add_parser("monitor", help="follow the cells live")
    _add_target(monitor)
    monitor.add_argument(
        "--count", type=int, default=0, help="stop after N updates (0: never)"
    )
    monitor.set_defaults(handler=live.monitor)

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
    set_.add_argument(
        "--chemistry",
        choices=[chemistry.value for chemistry in Chemistry],
        help="the pack's cells, to refuse a start voltage they never reach "
        "(default: from the cell voltages)",
    )
    set_.add_argument(
        "--fewer-cells",
        action="store_true",
        help="confirm a cell count below the cells connected (after rewiring)",
    )
    set_.set_defaults(handler=live.set_setting)
    return parser


def _add_protocol(parser: argparse.ArgumentParser, *, allow_auto: bool) -> None:
    choices = ["auto", *(protocol.value for protocol in BLUETOOTH_PROTOCOLS)]
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
        "--port",
        metavar="DEVICE",
        help="RS485 port (/dev/ttyUSB0, or socket://HOST:PORT for a gateway)",
    )
    target.add_argument(
        "--emulator",
        choices=[*PROFILES, *BUS_PROFILES],
        help="use a virtual device instead",
    )
    target.add_argument(
        "--recording",
        type=Path,
        metavar="FILE",
        help="replay a real device from a capture (btsnoop log or hex frames)",
    )
    parser.add_argument(
        "--address",
        dest="bus_address",
        type=int,
        choices=range(256),
        default=1,
        metavar="N",
        help="RS485: the balancer's address on the bus (default: 1)",
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


# -- emulators and scan ------------------------------------------------------


async def _emulators(_args: argparse.Namespace) -> int:
    for profile in (*PROFILES.values(), *BUS_PROFILES.values()):
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


if __name__ == "__main__":
    sys.exit(main())
