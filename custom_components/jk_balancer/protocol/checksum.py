"""The checksum every JK frame, command and RS485 message ends with."""

from __future__ import annotations


def checksum(data: bytes | bytearray | memoryview) -> int:
    """Return the sum of all bytes modulo 256."""
    return sum(data) & 0xFF
