"""Commands to the device: the 20-byte frame every request and write uses.

A command is 20 bytes: ``AA 55 90 EB``, a command (register) byte, a length byte,
the value little endian, zero padding, and the sum of bytes 0..18 in byte 19. The
official app fills the padding with random bytes; devices ignore them. What a
register means is defined once per setting in :mod:`..settings`.
"""

from __future__ import annotations

from ..checksum import checksum
from ..const import COMMAND_HEADER, COMMAND_LENGTH, Request
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
