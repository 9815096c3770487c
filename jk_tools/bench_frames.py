"""Real cell-info frames of the captures, and timing a decoder on them per frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import gc
import statistics
import time

from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    Frame,
    FrameType,
    Protocol,
    decode_device_info,
)
from jk_tools.captures import detect_protocol

from .captures import capture_files, load_frames


@dataclass(frozen=True)
class RealFrame:
    """A cell-info frame of a capture and the firmware version that sent it."""

    frame: Frame
    software_major: int


def real_cell_info_frames() -> dict[Protocol, list[RealFrame]]:
    """Every distinct cell-info frame of the captures, by layout."""
    recordings: dict[str, list[Frame]] = {}
    for path in capture_files():
        # Files of one recording (hex files hold one frame type) share a name.
        recording = path.name.split(".")[0].removesuffix("_cmds")
        recordings.setdefault(recording, []).extend(
            frame for _, frame in load_frames(path).frames
        )
    found: dict[Protocol, dict[bytes, RealFrame]] = {
        item: {} for item in BLUETOOTH_PROTOCOLS
    }
    for frames in recordings.values():
        protocol = detect_protocol(frames)
        if protocol is None:
            continue
        # Without a device-info frame, the oldest firmware of the layout.
        major = 10 if protocol is Protocol.JK02_24S else 11
        for frame in frames:
            if frame.frame_type == FrameType.DEVICE_INFO:
                major = decode_device_info(frame).software_major or major
        for frame in frames:
            if frame.frame_type == FrameType.CELL_INFO:
                found[protocol][frame.raw] = RealFrame(frame, major)
    return {protocol: list(frames.values()) for protocol, frames in found.items()}


@dataclass
class Timing:
    """Per-frame cost over many rounds."""

    mean_us: float
    median_us: float


def time_per_frame(
    decoders: dict[str, Callable[[RealFrame], object]],
    frames: list[RealFrame],
    rounds: int = 60,
    per_round: int = 2000,
) -> dict[str, Timing]:
    """Time the decoders side by side, alternating them round by round."""
    batch = [frames[i % len(frames)] for i in range(per_round)]
    samples: dict[str, list[float]] = {name: [] for name in decoders}
    for decoder in decoders.values():  # warm up
        for frame in batch[:200]:
            decoder(frame)
    gc.disable()
    try:
        for number in range(rounds):
            order = list(decoders.items())
            if number % 2:
                order.reverse()
            for name, decoder in order:
                start = time.perf_counter_ns()
                for frame in batch:
                    decoder(frame)
                samples[name].append((time.perf_counter_ns() - start) / per_round)
    finally:
        gc.enable()
    return {
        name: Timing(statistics.fmean(values) / 1000, statistics.median(values) / 1000)
        for name, values in samples.items()
    }
