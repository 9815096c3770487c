"""Readers for recorded JK traffic: hex frame files, btsnoop logs, RS485 logs.

Hex files hold one frame per line (``55 AA EB 90 ...``, ``0x55 0xAA ...`` or one
run of hex digits). btsnoop logs are HCI captures; the ATT layer inside them is
reassembled from ACL fragments, the device's notifications are fed through the
protocol layer's frame assembler, and the app's writes are returned as well.
RS485 logs hold the master's requests on ``>>> `` lines and the replies on
``<<< `` lines, in hex.

Everything streams: a file is read record by record or line by line, so memory
does not grow with it, and what cannot be read is reported as a
:class:`Problem` in order, naming the record or line, instead of ending the
reading silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import itertools
import os
from pathlib import Path
import re
import struct
from typing import BinaryIO, Final

from custom_components.jk_balancer.protocol import (
    Frame,
    FrameAssembler,
    FrameDecoder,
    FrameError,
    Protocol,
)
from custom_components.jk_balancer.protocol.ble.decode import candidate_protocols

# The real captures kept in the repository (see captures/README.md);
# JK_CAPTURES points at another folder of them.
CAPTURES: Final = Path(
    os.environ.get("JK_CAPTURES", Path(__file__).resolve().parents[1] / "captures")
)
CAPTURE_FOLDERS: Final = ("frames", "pdus", "btsnoop")
RS485_REQUEST: Final = ">>>"
RS485_REPLY: Final = "<<<"
BTSNOOP_MAGIC: Final = b"btsnoop\0"
_FILE_HEADER = struct.Struct(">8sII")
_RECORD_HEADER = struct.Struct(">IIIIq")
# Datalink 1002: HCI packets with their H4 type byte first (Android's logs).
_DATALINK_H4 = 1002
# No HCI packet is longer than an ACL header plus a 64 KiB payload.
_MAX_RECORD = 5 + 0xFFFF
_HCI_ACL = 0x02
_ATT_CID = 0x0004
ATT_WRITE_REQUEST: Final = 0x12
ATT_NOTIFICATION: Final = 0x1B
ATT_WRITE_COMMAND: Final = 0x52
# btsnoop timestamps count microseconds from year 0.
_EPOCH_DELTA_US = 0x00DCDDB30F2F8000
_HEX_PREFIX = re.compile(r"0x", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,.:;-]")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# A frame line is under 2 KiB; a longer one is not read whole.
_MAX_LINE = 64 * 1024
# A file whose first content lines are none of them hex is not a frame file.
_SNIFF_LINES = 20
NOT_A_CAPTURE: Final = "not a hex frame file or btsnoop log"


@dataclass(frozen=True, slots=True)
class AttPacket:
    """One ATT PDU from a btsnoop log."""

    time: float  # seconds since 1970
    from_device: bool
    opcode: int
    handle: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Problem:
    """Something in a file that could not be read, and where."""

    message: str


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


def is_rs485_log(path: Path) -> bool:
    """Return True when the first line with content is a request or a reply."""
    with path.open("rb") as handle:
        for line in _lines(handle):
            if line is None:
                return False
            if line.strip():
                return line.lstrip().startswith((RS485_REQUEST, RS485_REPLY))
    return False


@dataclass(frozen=True, slots=True)
class Rs485Line:
    """A request (from the master) or a reply, with where it was read."""

    source: str
    is_reply: bool
    data: bytes


def read_rs485(path: Path) -> Iterator[Rs485Line | Problem]:
    """Every request and reply of an RS485 log; other lines are problems."""
    with path.open("rb") as handle:
        for number, line in enumerate(_lines(handle), 1):
            source = f"{path.name}:{number}"
            if line is None:
                yield Problem(f"{source}: longer than {_MAX_LINE} bytes")
                continue
            text = line.strip()
            if not text:
                continue
            marker, _, rest = text.partition(" ")
            if marker not in (RS485_REQUEST, RS485_REPLY):
                yield Problem(f"{source}: neither a >>> request nor a <<< reply")
                continue
            try:
                yield Rs485Line(source, marker == RS485_REPLY, parse_hex(rest))
            except ValueError as err:
                yield Problem(f"{source}: {err}")


def is_btsnoop(path: Path) -> bool:
    """Return True when the file starts with the btsnoop magic."""
    with path.open("rb") as handle:
        return handle.read(len(BTSNOOP_MAGIC)) == BTSNOOP_MAGIC


def read_att(path: Path) -> Iterator[AttPacket]:
    """Yield the ATT PDUs of a btsnoop log (datalink H4), in order."""
    with path.open("rb") as handle:
        for item in att_items(path.name, handle):
            if isinstance(item, AttPacket):
                yield item


def att_items(name: str, handle: BinaryIO) -> Iterator[AttPacket | Problem]:
    """The ATT PDUs of a btsnoop log, and what could not be read, in order.

    A record whose header cannot be true (a length beyond the end of the file
    or beyond any HCI packet, unknown flags) ends the reading: what follows it
    cannot be found again.
    """
    if (problem := _file_header_problem(name, handle)) is not None:
        yield problem
        return
    offset = _FILE_HEADER.size
    pending: dict[tuple[int, bool], bytearray] = {}
    for number in itertools.count(1):
        record = handle.read(_RECORD_HEADER.size)
        if not record:
            return
        where = f"{name}: record {number} at byte {offset}"
        if len(record) < _RECORD_HEADER.size:
            yield Problem(f"{where}: truncated: its header is cut short")
            return
        original, length, flags, _, timestamp = _RECORD_HEADER.unpack(record)
        if length > _MAX_RECORD or length > original or flags > 0b11:
            yield Problem(
                f"{where}: damaged header (length {length}, original {original}, "
                f"flags {flags}); the rest of the log cannot be read"
            )
            return
        packet = handle.read(length)
        if len(packet) < length:
            yield Problem(
                f"{where}: truncated: {len(packet)} of its {length} bytes are there"
            )
            return
        offset += _RECORD_HEADER.size + length
        if (pdu := _reassemble(pending, packet, from_device=bool(flags & 1))) is None:
            continue
        yield AttPacket(
            (timestamp - _EPOCH_DELTA_US) / 1e6,
            bool(flags & 1),
            pdu[0],
            struct.unpack_from("<H", pdu, 1)[0],
            pdu[3:],
        )


def _file_header_problem(name: str, handle: BinaryIO) -> Problem | None:
    """Why the log cannot be read at all, if it cannot."""
    header = handle.read(_FILE_HEADER.size)
    if len(header) < _FILE_HEADER.size:
        return Problem(f"{name}: truncated: the btsnoop header is cut short")
    magic, _version, datalink = _FILE_HEADER.unpack(header)
    if magic != BTSNOOP_MAGIC:
        return Problem(f"{name}: {NOT_A_CAPTURE}")
    if datalink != _DATALINK_H4:
        return Problem(f"{name}: btsnoop datalink {datalink} is not HCI H4 (1002)")
    return None


def _reassemble(
    pending: dict[tuple[int, bool], bytearray], packet: bytes, *, from_device: bool
) -> bytes | None:
    """Feed one HCI packet; return an ATT PDU once one is complete."""
    if len(packet) < 5 or packet[0] != _HCI_ACL:
        return None
    header, acl_length = struct.unpack_from("<HH", packet, 1)
    key = (header & 0x0FFF, from_device)
    fragment = packet[5 : 5 + acl_length]
    if (header >> 12) & 0x3 == 0x1:  # continuation of an L2CAP PDU
        if key not in pending:
            return None
        pending[key] += fragment
    else:
        pending[key] = bytearray(fragment)
    buffer = pending[key]
    if len(buffer) < 4:
        return None
    l2cap_length, channel = struct.unpack_from("<HH", buffer)
    if len(buffer) < 4 + l2cap_length:
        return None
    del pending[key]
    pdu = bytes(buffer[4 : 4 + l2cap_length])
    if channel != _ATT_CID or len(pdu) < 3:
        return None
    return pdu


def parse_hex(text: str) -> bytes:
    """Parse one line of hex bytes; ``0x`` prefixes and separators are allowed."""
    digits = _SEPARATORS.sub("", _HEX_PREFIX.sub("", text))
    if bad := set(digits) - _HEX_DIGITS:
        raise ValueError(f"not hex: {''.join(sorted(bad))!r}")
    if len(digits) % 2:
        raise ValueError("odd number of hex digits")
    return bytes.fromhex(digits)


def read_frames(path: Path) -> Iterator[tuple[str, Frame] | Problem]:
    """Every complete frame of a hex file or btsnoop log, with its source.

    Raises OSError when the file cannot be opened.
    """
    with path.open("rb") as handle:
        if handle.read(len(BTSNOOP_MAGIC)) == BTSNOOP_MAGIC:
            handle.seek(0)
            yield from _btsnoop_frames(path.name, handle)
        else:
            handle.seek(0)
            yield from _hex_frames(path.name, handle)


def _btsnoop_frames(
    name: str, handle: BinaryIO
) -> Iterator[tuple[str, Frame] | Problem]:
    assembler = FrameAssembler()
    count = 0
    for item in att_items(name, handle):
        if isinstance(item, Problem):
            yield item
        elif item.from_device and item.opcode == ATT_NOTIFICATION:
            for frame in assembler.feed(item.value):
                count += 1
                yield f"{name}#{count}", frame
    stats = assembler.stats
    if stats.bad_frames:
        yield Problem(
            f"{name}: dropped {stats.bad_checksum} frame(s) with a bad "
            f"checksum and {stats.truncated} truncated frame(s)"
        )


def _hex_frames(name: str, handle: BinaryIO) -> Iterator[tuple[str, Frame] | Problem]:
    """Frames of a text file, one per line; a binary file is not one."""
    if b"\0" in handle.read(4096):
        yield Problem(f"{name}: {NOT_A_CAPTURE}")
        return
    handle.seek(0)
    content_lines = hex_lines = 0
    for number, line in enumerate(_lines(handle), 1):
        source = f"{name}:{number}"
        if line is None:
            yield Problem(f"{source}: longer than {_MAX_LINE} bytes, not a frame")
            continue
        if not line.strip():
            continue
        content_lines += 1
        try:
            data = parse_hex(line)
        except ValueError as err:
            if not hex_lines and content_lines >= _SNIFF_LINES:
                yield Problem(f"{name}: {NOT_A_CAPTURE}")
                return
            yield Problem(f"{source}: {err}")
            continue
        hex_lines += 1
        try:
            yield source, Frame.from_bytes(data)
        except ValueError as err:
            yield Problem(f"{source}: {err}")


def _lines(handle: BinaryIO) -> Iterator[str | None]:
    """Text lines, never more than ``_MAX_LINE`` bytes each (None for longer)."""
    while line := handle.readline(_MAX_LINE + 1):
        if len(line) > _MAX_LINE and not line.endswith(b"\n"):
            while (rest := handle.readline(_MAX_LINE)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line.decode("utf-8", "replace")


def load_frames(path: Path) -> LoadedFrames:
    """Read every complete frame of a hex file or btsnoop log into memory."""
    result = LoadedFrames()
    for item in read_frames(path):
        if isinstance(item, Problem):
            result.problems.append(item.message)
        else:
            result.frames.append(item)
    return result


def detect_protocol(frames: Iterable[Frame]) -> Protocol | None:
    """Return the layout that best explains a recorded sequence of frames.

    A plausible cell-info frame decides; failing that a settings frame; failing
    that the device info's hint. None when the frames say nothing at all.
    """
    decoder = FrameDecoder()
    for frame in frames:
        try:
            decoder.decode(frame)
        except FrameError:
            continue
        if decoder.confirmed:
            break
    if decoder.protocol is None and decoder.device_info is not None:
        return candidate_protocols(decoder.device_info)[0]
    return decoder.protocol
