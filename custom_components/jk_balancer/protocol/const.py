"""Constants of the JK protocols: BLE (JK04, JK02_24S, JK02_32S) and RS485."""

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


class Protocol(StrEnum):
    """Frame layout family a device speaks.

    Over Bluetooth the device does not announce it (see ``BLUETOOTH_PROTOCOLS``);
    DZ_RS485 is the reply of a DZ-series balancer on its RS485 port.
    """

    JK04 = "JK04"
    JK02_24S = "JK02_24S"
    JK02_32S = "JK02_32S"
    DZ_RS485 = "DZ_RS485"

    @property
    def is_jk02(self) -> bool:
        """Return True for the integer (JK02) Bluetooth layouts."""
        return self in (Protocol.JK02_24S, Protocol.JK02_32S)

    @property
    def is_bluetooth(self) -> bool:
        """Return True for the layouts spoken over Bluetooth."""
        return self is not Protocol.DZ_RS485


# The layouts a Bluetooth device may speak, in the order they were found.
BLUETOOTH_PROTOCOLS: Final = (Protocol.JK04, Protocol.JK02_24S, Protocol.JK02_32S)


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
