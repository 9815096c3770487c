"""Frames of the ESPHome native API, from the node's side: plaintext or noise.

Plaintext: a zero byte, then the payload's length and the message type as
varints, then the payload. Noise (a node with an encryption key): every frame
is a one byte, a 16-bit big-endian length and the frame. The client opens with
an empty frame and its handshake message (``Noise_NNpsk0_25519_ChaChaPoly_SHA256``,
the prologue ``NoiseAPIInit`` and two zero bytes); the node answers with its
protocol choice, name and MAC, then its handshake message, or a refusal. After
that each frame is an encrypted message type and payload length (16 bits each)
followed by the payload.

Development and test tooling: never shipped.
"""

from __future__ import annotations

import asyncio
import binascii
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from noise.connection import NoiseConnection  # type: ignore[import-untyped]
from noise.exceptions import NoiseInvalidMessage  # type: ignore[import-untyped]

_PLAINTEXT: Final = 0x00
_NOISE: Final = 0x01
_NOISE_NAME: Final = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
_NOISE_PROLOGUE: Final = b"NoiseAPIInit\x00\x00"


class ApiFrames(Protocol):
    """Messages in and out, whatever the framing."""

    async def read(self) -> tuple[int, bytes]:
        """The next message's type and payload."""

    def write(self, kind: int, payload: bytes) -> None:
        """Send a message."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


async def _read_varint(reader: asyncio.StreamReader) -> int:
    value = shift = 0
    while True:
        byte = (await reader.readexactly(1))[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7


class _PlaintextFrames:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._first = True

    async def read(self) -> tuple[int, bytes]:
        # The first indicator byte was read to choose the framing.
        if not self._first and (await self._reader.readexactly(1))[0] != _PLAINTEXT:
            raise ConnectionError("not a plaintext frame")
        self._first = False
        length = await _read_varint(self._reader)
        kind = await _read_varint(self._reader)
        return kind, await self._reader.readexactly(length)

    def write(self, kind: int, payload: bytes) -> None:
        self._writer.write(b"\x00" + _varint(len(payload)) + _varint(kind) + payload)


class _NoiseFrames:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        noise: NoiseConnection,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._noise = noise

    async def read(self) -> tuple[int, bytes]:
        message = self._noise.decrypt(await _read_noise_frame(self._reader))
        kind = int.from_bytes(message[0:2], "big")
        length = int.from_bytes(message[2:4], "big")
        return kind, message[4 : 4 + length]

    def write(self, kind: int, payload: bytes) -> None:
        header = kind.to_bytes(2, "big") + len(payload).to_bytes(2, "big")
        _write_noise_frame(self._writer, self._noise.encrypt(header + payload))


async def _read_noise_frame(
    reader: asyncio.StreamReader, *, indicator_read: bool = False
) -> bytes:
    if not indicator_read and (await reader.readexactly(1))[0] != _NOISE:
        raise ConnectionError("not a noise frame")
    length = int.from_bytes(await reader.readexactly(2), "big")
    return await reader.readexactly(length)


def _write_noise_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    writer.write(bytes([_NOISE]) + len(frame).to_bytes(2, "big") + frame)


async def accept(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    noise_psk: str | None,
    name: str,
    mac: str,
) -> ApiFrames | None:
    """The framing a new client speaks, handshake done; None when refused.

    A node with ``noise_psk`` (base64 of 32 bytes) takes noise only and
    answers a plaintext client with a noise frame, as ESPHome does, which
    tells the client that the node needs a key. A node without takes
    plaintext only.
    """
    indicator = (await reader.readexactly(1))[0]
    if noise_psk is None:
        return _PlaintextFrames(reader, writer) if indicator == _PLAINTEXT else None
    if indicator != _NOISE:
        _write_noise_frame(writer, b"")
        return None
    await _read_noise_frame(reader, indicator_read=True)  # the client's hello
    opening = await _read_noise_frame(reader)
    noise = NoiseConnection.from_name(_NOISE_NAME)
    noise.set_as_responder()
    noise.set_psks(binascii.a2b_base64(noise_psk))
    noise.set_prologue(_NOISE_PROLOGUE)
    noise.start_handshake()
    mac_text = mac.replace(":", "").lower()
    _write_noise_frame(writer, b"\x01" + f"{name}\0{mac_text}\0".encode())
    try:
        if opening[:1] != b"\x00":
            raise NoiseInvalidMessage("no handshake")
        noise.read_message(opening[1:])
    except (NoiseInvalidMessage, InvalidTag, ValueError):
        # What ESPHome answers a client with the wrong key.
        _write_noise_frame(writer, b"\x01Handshake MAC failure")
        return None
    _write_noise_frame(writer, b"\x00" + noise.write_message())
    return _NoiseFrames(reader, writer, noise)
