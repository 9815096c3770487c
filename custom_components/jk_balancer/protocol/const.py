"""Constants of the JK BLE protocol (JK04, JK02_24S, JK02_32S)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final

SERVICE_UUID: Final = "0000ffe0-0000-1000-8000-00805f9b34fb"
CHARACTERISTIC_UUID: Final = "0000ffe1-0000-1000-8000-00805f9b34fb"

RESPONSE_HEADER: Final = b"\x55\xaa\xeb\x90"
COMMAND_HEADER: Final = b"\xaa\x55\x90\xeb"
FRAME_LENGTH: Final = 300
COMMAND_LENGTH: Final = 20
# Some BLE modules write this into the notification stream.
MODULE_MESSAGE: Final = b"AT\r\n"

DEFAULT_PASSCODE: Final = "1234"


class Protocol(StrEnum):
    """Frame layout family a device speaks; the device does not announce it."""

    JK04 = "JK04"
    JK02_24S = "JK02_24S"
    JK02_32S = "JK02_32S"

    @property
    def is_jk02(self) -> bool:
        """Return True for the integer (JK02) layouts."""
        return self is not Protocol.JK04


class FrameType(IntEnum):
    """Byte 4 of a response frame."""

    SETTINGS = 0x01
    CELL_INFO = 0x02
    DEVICE_INFO = 0x03

    @property
    def key(self) -> str:
        """Snake-case name used in JSON output and diagnostics."""
        return self.name.lower()


class Request(IntEnum):
    """Command bytes that ask the device for a frame."""

    SETTINGS = 0x96
    DEVICE_INFO = 0x97
