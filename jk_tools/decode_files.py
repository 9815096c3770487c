"""``jk-balancer decode``: every frame of capture files as JSON lines, as read.

Bluetooth captures print a line per frame; RS485 logs a line per reply, with
the same keys (the reply carries measurements and settings together). A
damaged record, a truncated or unreadable file is named on stderr; a file
that yields no frame makes the status non-zero. Frames print as they are
found; until the frame layout is known they wait (at most DETECTION_WINDOW of
them), so memory does not grow with the file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
import sys
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    CellInfo,
    DeviceInfo,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    Protocol,
    Settings,
    decode_rs485_reply,
)
from jk_tools.captures import detect_protocol

from .captures import Problem, is_rs485_log, read_frames, read_rs485
from .exit_status import EXIT_DEVICE

# Frames read before the layout is known wait for it, at most this many.
DETECTION_WINDOW: Final = 64


async def decode(args: argparse.Namespace, forced: Protocol | None) -> int:
    """Decode every file of ``args.files``; the status for the whole run."""
    status = 0
    for name in args.files:
        path = Path(name)
        try:
            if is_rs485_log(path):
                printed = _decode_rs485_file(path)
            else:
                printed = _decode_file(path, forced, args.show_passcode)
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


def _decode_rs485_file(path: Path) -> int:
    """Print every reply of an RS485 log; return how many were printed."""
    printed = 0
    for item in read_rs485(path):
        if isinstance(item, Problem):
            print(item.message, file=sys.stderr)
            continue
        if not item.is_reply:
            continue
        try:
            snapshot = decode_rs485_reply(item.data)
        except FrameError as err:
            print(f"{item.source}: {err}", file=sys.stderr)
            continue
        record = {
            "frame_type": "rs485_reply",
            "protocol": snapshot.protocol.value,
            "address": item.data[2],
        }
        print(
            json.dumps(
                record | snapshot.cell_info.to_dict() | snapshot.settings.to_dict()
            )
        )
        printed += 1
    return printed
