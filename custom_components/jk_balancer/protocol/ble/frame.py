"""Reassembly of response frames from BLE notification chunks.

A response is 300 bytes: the header ``55 AA EB 90``, the frame type (byte 4), a
counter (byte 5), the payload and a sum-8 checksum in byte 299. It arrives in
notifications of 20 bytes or more, and a frame may start in the middle of one.
Some firmware appends a 20-byte ``AA 55 90 EB`` record (320 bytes in all); some BLE
modules write ``AT\\r\\n`` into the stream. Only frames whose checksum holds leave
the assembler; everything else is counted and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checksum import checksum
from ..const import FRAME_LENGTH, MODULE_MESSAGE, RESPONSE_HEADER

_HEADER_LENGTH = len(RESPONSE_HEADER)


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete response frame whose checksum holds."""

    raw: bytes

    @property
    def frame_type(self) -> int:
        """Byte 4: 0x01 settings, 0x02 cell info, 0x03 device info."""
        return self.raw[4]

    @property
    def counter(self) -> int:
        """Byte 5: a counter the device increments per frame."""
        return self.raw[5]

    @classmethod
    def from_bytes(cls, data: bytes) -> Frame:
        """Check a whole frame (as stored in capture files) and wrap it.

        Trailing bytes beyond 300 (the 320-byte variant) are ignored.
        """
        if len(data) < FRAME_LENGTH:
            raise ValueError(f"frame is {len(data)} bytes, expected {FRAME_LENGTH}")
        raw = bytes(data[:FRAME_LENGTH])
        if not raw.startswith(RESPONSE_HEADER):
            raise ValueError("frame does not start with 55 AA EB 90")
        if checksum(raw[:-1]) != raw[-1]:
            raise ValueError(
                f"checksum mismatch: computed {checksum(raw[:-1]):#04x}, "
                f"frame says {raw[-1]:#04x}"
            )
        return cls(raw)


@dataclass(slots=True)
class AssemblerStats:
    """What the assembler saw besides good frames."""

    frames: int = 0
    bad_checksum: int = 0
    truncated: int = 0
    module_messages: int = 0
    discarded_bytes: int = 0

    @property
    def bad_frames(self) -> int:
        """Frames that started but were dropped."""
        return self.bad_checksum + self.truncated


@dataclass(slots=True)
class FrameAssembler:
    """Turn notification chunks into checksummed frames.

    Between calls at most ``FRAME_LENGTH - 1`` bytes are kept, so a stream of
    garbage cannot grow memory.
    """

    stats: AssemblerStats = field(default_factory=AssemblerStats)
    _buffer: bytearray = field(default_factory=bytearray)

    def reset(self) -> None:
        """Forget a partial frame (after the link was lost)."""
        self._buffer.clear()

    def feed(self, chunk: bytes | bytearray) -> list[Frame]:
        """Add one notification; return the frames it completed, in order."""
        if chunk.startswith(MODULE_MESSAGE):
            self.stats.module_messages += 1
            chunk = chunk[len(MODULE_MESSAGE) :]
        buffer = self._buffer
        # A notification that starts with a header starts a new frame: whatever was
        # collected before it can no longer complete.
        if chunk.startswith(RESPONSE_HEADER) and buffer:
            if buffer.startswith(RESPONSE_HEADER):
                self.stats.truncated += 1
            else:
                self.stats.discarded_bytes += len(buffer)
            buffer.clear()
        buffer += chunk
        frames: list[Frame] = []
        while True:
            start = buffer.find(RESPONSE_HEADER)
            if start < 0:
                # Keep a possible partial header at the end.
                keep = min(len(buffer), _HEADER_LENGTH - 1)
                self.stats.discarded_bytes += len(buffer) - keep
                del buffer[: len(buffer) - keep]
                break
            if start:
                self.stats.discarded_bytes += start
                del buffer[:start]
            if len(buffer) < FRAME_LENGTH:
                break
            candidate = bytes(buffer[:FRAME_LENGTH])
            if checksum(candidate[:-1]) == candidate[-1]:
                self.stats.frames += 1
                frames.append(Frame(candidate))
                del buffer[:FRAME_LENGTH]
                continue
            # A header inside the candidate means this frame lost bytes and a new
            # one began; otherwise the bytes themselves were damaged.
            if candidate.find(RESPONSE_HEADER, 1) > 0:
                self.stats.truncated += 1
            else:
                self.stats.bad_checksum += 1
            del buffer[:_HEADER_LENGTH]
        return frames
