"""Readers for recorded JK traffic: hex frame files and Android btsnoop logs.

Hex files hold one frame per line (``55 AA EB 90 ...``, ``0x55 0xAA ...`` or one
run of hex digits). btsnoop logs are HCI captures; the ATT layer inside them is
reassembled from ACL fragments, the device's notifications are fed through the
protocol layer's frame assembler, and the app's writes are returned as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import struct
from typing import Final

from custom_components.jk_balancer.protocol import Frame, FrameAssembler

# ../shared/captures beside the project (CI clones it there); JK_CAPTURES moves it.
CAPTURES: Final = Path(
    os.environ.get(
        "JK_CAPTURES", Path(__file__).resolve().parents[2] / "shared" / "captures"
    )
)
CAPTURE_FOLDERS: Final = ("frames", "pdus", "btsnoop")
BTSNOOP_MAGIC: Final = b"btsnoop\0"
_RECORD_HEADER = struct.Struct(">IIIIq")
_HCI_ACL = 0x02
_ATT_CID = 0x0004
ATT_WRITE_REQUEST: Final = 0x12
ATT_NOTIFICATION: Final = 0x1B
ATT_WRITE_COMMAND: Final = 0x52
# btsnoop timestamps count microseconds from year 0.
_EPOCH_DELTA_US = 0x00DCDDB30F2F8000
_HEX_PREFIX = re.compile(r"0x", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,.:;-]")


@dataclass(frozen=True, slots=True)
class AttPacket:
    """One ATT PDU from a btsnoop log."""

    time: float  # seconds since 1970
    from_device: bool
    opcode: int
    handle: int
    value: bytes


@dataclass(slots=True)
class LoadedFrames:
    """Frames read from one file, with what could not be read."""

    frames: list[tuple[str, Frame]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def capture_files(captures: Path = CAPTURES) -> list[Path]:
    """Every recording: hex frame files, PDU dumps and btsnoop logs (none if absent)."""
    return sorted(
        path
        for folder in CAPTURE_FOLDERS
        if (captures / folder).is_dir()
        for path in (captures / folder).iterdir()
    )


def is_btsnoop(path: Path) -> bool:
    """Return True when the file starts with the btsnoop magic."""
    with path.open("rb") as handle:
        return handle.read(len(BTSNOOP_MAGIC)) == BTSNOOP_MAGIC


def read_att(path: Path) -> Iterator[AttPacket]:
    """Yield the ATT PDUs of a btsnoop log (datalink H4), in order."""
    data = path.read_bytes()
    if not data.startswith(BTSNOOP_MAGIC):
        raise ValueError(f"{path}: not a btsnoop log")
    offset = 16
    pending: dict[tuple[int, bool], bytearray] = {}
    while offset + _RECORD_HEADER.size <= len(data):
        _, length, flags, _, timestamp = _RECORD_HEADER.unpack_from(data, offset)
        packet = data[
            offset + _RECORD_HEADER.size : offset + _RECORD_HEADER.size + length
        ]
        offset += _RECORD_HEADER.size + length
        if len(packet) < 5 or packet[0] != _HCI_ACL:
            continue
        header, acl_length = struct.unpack_from("<HH", packet, 1)
        from_device = bool(flags & 1)
        key = (header & 0x0FFF, from_device)
        fragment = packet[5 : 5 + acl_length]
        if (header >> 12) & 0x3 == 0x1:  # continuation of an L2CAP PDU
            if key not in pending:
                continue
            pending[key] += fragment
        else:
            pending[key] = bytearray(fragment)
        buffer = pending[key]
        if len(buffer) < 4:
            continue
        l2cap_length, channel = struct.unpack_from("<HH", buffer)
        if len(buffer) < 4 + l2cap_length:
            continue
        del pending[key]
        pdu = bytes(buffer[4 : 4 + l2cap_length])
        if channel != _ATT_CID or len(pdu) < 3:
            continue
        yield AttPacket(
            (timestamp - _EPOCH_DELTA_US) / 1e6,
            from_device,
            pdu[0],
            struct.unpack_from("<H", pdu, 1)[0],
            pdu[3:],
        )


def parse_hex(text: str) -> bytes:
    """Parse one line of hex bytes; ``0x`` prefixes and separators are allowed."""
    digits = _SEPARATORS.sub("", _HEX_PREFIX.sub("", text))
    if bad := set(digits) - set("0123456789abcdefABCDEF"):
        raise ValueError(f"not hex: {''.join(sorted(bad))!r}")
    if len(digits) % 2:
        raise ValueError("odd number of hex digits")
    return bytes.fromhex(digits)


def load_frames(path: Path) -> LoadedFrames:
    """Read every complete frame of a hex file or btsnoop log."""
    result = LoadedFrames()
    if is_btsnoop(path):
        assembler = FrameAssembler()
        count = 0
        for packet in read_att(path):
            if packet.from_device and packet.opcode == ATT_NOTIFICATION:
                for frame in assembler.feed(packet.value):
                    count += 1
                    result.frames.append((f"{path.name}#{count}", frame))
        stats = assembler.stats
        if stats.bad_frames:
            result.problems.append(
                f"{path.name}: dropped {stats.bad_checksum} frame(s) with a bad "
                f"checksum and {stats.truncated} truncated frame(s)"
            )
        return result
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path.name}:{number}"
        try:
            result.frames.append((source, Frame.from_bytes(parse_hex(line))))
        except ValueError as err:
            result.problems.append(f"{source}: {err}")
    return result
