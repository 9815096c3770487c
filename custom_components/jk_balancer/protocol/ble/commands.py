"""Commands to the device: the 20-byte frame every request and write uses.

A command is 20 bytes: ``AA 55 90 EB``, a command (register) byte, a length byte,
the value little endian, zero padding, and the sum of bytes 0..18 in byte 19. The
official app fills the padding with random bytes; devices ignore them. What a
register means is defined once per setting in :mod:`..settings`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checksum import checksum
from ..const import COMMAND_HEADER, COMMAND_LENGTH, Request
from ..errors import FrameError
from ..writes import PreparedWrite

_MAX_VALUE_LENGTH = COMMAND_LENGTH - 7


def encode_command(command: int, value: bytes = b"", padding: bytes = b"") -> bytes:
    """Build a 20-byte command.

    The bytes after the value are ``padding`` (zeros by default; the app sends
    random ones), and the checksum covers them.
    """
    if not 0 <= command <= 0xFF or len(value) > _MAX_VALUE_LENGTH:
        raise ValueError("command byte or value length out of range")
    body = COMMAND_HEADER + bytes((command, len(value))) + value
    fill = COMMAND_LENGTH - 1 - len(body)
    body += (padding + bytes(fill))[:fill]
    return body + bytes((checksum(body),))


def write_command(write: PreparedWrite) -> bytes:
    """The command that writes a checked setting: its register, its value."""
    return encode_command(write.register.address, write.payload)


def encode_request(request: Request) -> bytes:
    """Build a read request (device info 0x97, settings 0x96)."""
    return encode_command(request)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed 20-byte command."""

    command: int
    value: bytes


def parse_command(data: bytes) -> Command:
    """Parse a command as a device does: header, length and checksum must hold."""
    if len(data) != COMMAND_LENGTH or not data.startswith(COMMAND_HEADER):
        raise FrameError("not a 20-byte command", length=str(len(data)))
    if checksum(data[:-1]) != data[-1]:
        raise FrameError("command checksum mismatch")
    length = data[5]
    if length > _MAX_VALUE_LENGTH:
        raise FrameError("command value length too large", length=str(length))
    return Command(data[4], bytes(data[6 : 6 + length]))
