"""The frame assembler: chunking, resynchronisation, noise and damage."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.jk_balancer.protocol import (
    Frame,
    FrameAssembler,
)
from custom_components.jk_balancer.protocol.checksum import (
    checksum,
)
from custom_components.jk_balancer.protocol.const import FRAME_LENGTH
from jk_emulator.ble import TRAILER


def make_frame(frame_type: int = 0x02, fill: int = 0x11, counter: int = 0) -> bytes:
    """A valid 300-byte frame with a recognisable payload."""
    body = bytearray(b"\x55\xaa\xeb\x90" + bytes((frame_type, counter)))
    body += bytes([fill]) * (FRAME_LENGTH - 7)
    body.append(checksum(body))
    return bytes(body)


def chunks(data: bytes, size: int = 20) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def feed_all(assembler: FrameAssembler, pieces: list[bytes]) -> list[bytes]:
    return [frame.raw for piece in pieces for frame in assembler.feed(piece)]


def test_checksum_is_sum_modulo_256() -> None:
    assert checksum(bytes([0xFF, 0x02])) == 0x01
    assert checksum(b"") == 0


def test_frame_in_20_byte_notifications() -> None:
    frame = make_frame()
    assembler = FrameAssembler()
    assert feed_all(assembler, chunks(frame)) == [frame]
    assert assembler.stats.frames == 1
    assert assembler.stats.bad_frames == 0


def test_frames_starting_inside_a_notification() -> None:
    """Real logs show the next header in the middle of a notification."""
    stream = make_frame(fill=1) + make_frame(fill=2) + make_frame(fill=3)
    assembler = FrameAssembler()
    assert feed_all(assembler, chunks(stream, 17)) == [
        make_frame(fill=1),
        make_frame(fill=2),
        make_frame(fill=3),
    ]


def test_320_byte_frames_skip_the_appended_record() -> None:
    frame = make_frame()
    assembler = FrameAssembler()
    out = feed_all(assembler, chunks((frame + TRAILER) * 2))
    assert out == [frame, frame]
    assert assembler.stats.bad_frames == 0


def test_module_message_at_notification_start_is_ignored() -> None:
    frame = make_frame()
    pieces = chunks(frame)
    pieces.insert(3, b"AT\r\n")
    pieces[5] = b"AT\r\n" + pieces[5]
    assembler = FrameAssembler()
    assert feed_all(assembler, pieces) == [frame]
    assert assembler.stats.module_messages == 2


def test_garbage_before_a_frame_is_discarded() -> None:
    frame = make_frame()
    assembler = FrameAssembler()
    assert feed_all(assembler, [b"\x00\x12garbage" * 7, *chunks(frame)]) == [frame]
    assert assembler.stats.discarded_bytes == 63


def test_bad_checksum_is_counted_and_dropped() -> None:
    damaged = bytearray(make_frame())
    damaged[100] ^= 0x01
    assembler = FrameAssembler()
    assert feed_all(assembler, chunks(bytes(damaged))) == []
    assert assembler.stats.bad_checksum == 1
    # The next good frame still comes through.
    assert feed_all(assembler, chunks(make_frame(fill=5))) == [make_frame(fill=5)]


def test_truncated_frame_then_new_header_in_a_fresh_notification() -> None:
    """A notification lost mid-frame: the next header starts a new frame."""
    first, second = make_frame(fill=1), make_frame(fill=2)
    assembler = FrameAssembler()
    out = feed_all(assembler, chunks(first)[:8] + chunks(second))
    assert out == [second]
    assert assembler.stats.truncated == 1


def test_truncated_frame_then_new_header_inside_a_notification() -> None:
    first, second = make_frame(fill=1), make_frame(fill=2)
    assembler = FrameAssembler()
    out = feed_all(assembler, chunks(first[:150] + second, 13))
    assert out == [second]
    assert assembler.stats.truncated == 1


def test_reset_forgets_a_partial_frame() -> None:
    frame = make_frame()
    assembler = FrameAssembler()
    assembler.feed(frame[:100])
    assembler.reset()
    assert feed_all(assembler, [frame[100:]]) == []
    assert feed_all(assembler, [frame]) == [frame]


def test_frame_from_bytes_checks_length_header_and_checksum() -> None:
    frame = make_frame()
    assert Frame.from_bytes(frame + TRAILER).raw == frame
    assert Frame.from_bytes(frame).frame_type == 0x02
    with pytest.raises(ValueError, match="298 bytes"):
        Frame.from_bytes(frame[:298])
    with pytest.raises(ValueError, match="checksum"):
        Frame.from_bytes(frame[:-1] + bytes([frame[-1] ^ 1]))
    with pytest.raises(ValueError, match="start"):
        Frame.from_bytes(b"\x00" + frame[1:])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    fills=st.lists(st.integers(0, 255), min_size=1, max_size=4),
    cuts=st.lists(st.integers(1, 1200), max_size=30),
)
def test_any_chunking_yields_the_same_frames(fills: list[int], cuts: list[int]) -> None:
    frames = [make_frame(fill=fill, counter=i) for i, fill in enumerate(fills)]
    stream = b"".join(frames)
    points = sorted({c % len(stream) for c in cuts} | {0, len(stream)})
    pieces = [stream[a:b] for a, b in itertools.pairwise(points)]
    assembler = FrameAssembler()
    assert feed_all(assembler, pieces) == frames


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=400), max_size=20))
def test_random_input_never_raises_and_yields_only_valid_frames(
    pieces: list[bytes],
) -> None:
    assembler = FrameAssembler()
    for piece in pieces:
        for frame in assembler.feed(piece):
            assert len(frame.raw) == FRAME_LENGTH
            assert checksum(frame.raw[:-1]) == frame.raw[-1]
        # Memory stays bounded between calls, whatever arrives.
        assert len(assembler._buffer) < FRAME_LENGTH


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=1, max_size=60), max_size=5))
def test_a_good_frame_survives_noise_before_it(noise: list[bytes]) -> None:
    """Noise ahead of a frame that starts a notification never hides the frame."""
    frame = make_frame(fill=9)
    assembler = FrameAssembler()
    assert frame in feed_all(assembler, noise + chunks(frame))
