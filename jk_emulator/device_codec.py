"""The device's side of the wire: what a balancer sends and how it reads what it gets.

Home Assistant only ever decodes frames and replies and encodes commands and
requests; the reverse (response frames and RS485 replies built from values,
commands and requests parsed as a device parses them) is the virtual
balancer's, so it lives here and never ships. It works from the same layout
tables the integration decodes with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from custom_components.jk_balancer.protocol import (
    COMMAND_HEADER,
    SETTING_SPECS,
    FrameError,
    Protocol,
    SettingSpec,
)
from custom_components.jk_balancer.protocol.checksum import checksum
from custom_components.jk_balancer.protocol.const import (
    COMMAND_LENGTH,
    RESPONSE_HEADER,
)
from custom_components.jk_balancer.protocol.layout import Field, Layout
from custom_components.jk_balancer.protocol.rs485.codec import (
    READ_ALL,
    REPLY,
    REPLY_HEADER,
    REQUEST_HEADER,
)

# What a JK device's password is when it leaves the factory.
DEFAULT_PASSCODE: Final = "1234"
_MAX_VALUE_LENGTH: Final = COMMAND_LENGTH - 7
# An RS485 request: header, address, command, two value bytes, checksum.
REQUEST_LENGTH: Final = 7


def encode_layout(layout: Layout, values: Mapping[str, Any], header: bytes) -> bytes:
    """A checksummed frame of ``layout``; fields missing from ``values`` are zero.

    ``header`` fills the bytes before the layout's first field.
    """
    raw: list[Any] = []
    for name in layout.record._fields:
        item, value = layout.fields[name], values.get(name)
        if item.code == "s":
            raw.append(str(value or "").encode("ascii")[: item.size])
        elif item.count == 1:
            raw.append(_to_raw(item, value))
        else:
            sequence = list(value or ())
            sequence += [None] * (item.count - len(sequence))
            raw.extend(_to_raw(item, element) for element in sequence)
    frame = bytearray(layout.length)
    frame[: layout.start] = header
    layout.packer.pack_into(frame, layout.start, *raw)
    frame[-1] = checksum(frame[:-1])
    return bytes(frame)


def _to_raw(item: Field, value: Any) -> int | float:
    if value is None:
        return item.absent if item.absent is not None else 0
    if item.is_float:
        return float(value)
    raw = round(float(value) * item.divisor)
    if item.swapped:  # stored byte-swapped: packed so the frame's order reads it
        return int.from_bytes(raw.to_bytes(item.length, "little"), "big")
    return raw


def encode_frame(layout: Layout, values: Mapping[str, Any], counter: int = 0) -> bytes:
    """A Bluetooth response frame of ``layout``, numbered ``counter``."""
    return encode_layout(
        layout, values, RESPONSE_HEADER + bytes((layout.frame_type, counter & 0xFF))
    )


@dataclass(frozen=True, slots=True)
class Command:
    """A 20-byte command as the device reads it."""

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


def spec_for_register(
    protocol: Protocol, address: int, size: int
) -> SettingSpec | None:
    """The setting written at ``address`` with ``size`` bytes on ``protocol``."""
    for spec in SETTING_SPECS.values():
        register = spec.registers.get(protocol)
        if (
            register is not None
            and register.address == address
            and register.encoding.size == size
        ):
            return spec
    return None


class Rs485Request(NamedTuple):
    """An RS485 request as a balancer reads it: to whom, what, its value."""

    address: int
    command: int
    value: bytes


def parse_rs485_request(data: bytes) -> Rs485Request:
    """Parse a request as a balancer does: header, length and checksum must hold."""
    if len(data) != REQUEST_LENGTH or not data.startswith(REQUEST_HEADER):
        raise FrameError("not a 7-byte RS485 request", length=str(len(data)))
    if checksum(data[:-1]) != data[-1]:
        raise FrameError("request checksum mismatch")
    return Rs485Request(data[2], data[3], bytes(data[4:6]))


def encode_rs485_reply(address: int, values: Mapping[str, Any]) -> bytes:
    """The reply of the balancer at ``address`` to a read."""
    return encode_layout(REPLY, values, REPLY_HEADER + bytes((address, READ_ALL)))
