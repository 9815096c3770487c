"""Fuzz the frame assembler and the decoders with notification chunks.

Seeded from the real captures: their notifications and frames are cut at
random places, mutated (with and without a repaired checksum), spliced, mixed
with stray headers and random bytes, and fed to one assembler and decoder per
layout choice (detected, or forced to each layout). The oracle:

* nothing but the protocol layer's documented errors (``FrameError`` and its
  subclasses) may escape a decoder, and the assembler raises nothing;
* every frame the assembler hands on has a correct checksum, computed here
  independently, so no snapshot can come from a frame with a bad checksum;
* every decoded value is finite and within the physical ranges.

Prints the counts and the outcome; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
import math
from pathlib import Path
import random
import sys
import time
import traceback
from typing import Final

from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    CellInfo,
    DeviceInfo,
    Frame,
    FrameAssembler,
    FrameDecoder,
    FrameError,
    Protocol,
    Settings,
)

from .captures import (
    ATT_NOTIFICATION,
    CAPTURES,
    capture_files,
    is_btsnoop,
    load_frames,
    read_att,
)

# The frame's shape and the decoders' physical limits, restated here so the
# oracle does not trust the code under test.
FRAME_LENGTH: Final = 300
RESPONSE_HEADER: Final = bytes.fromhex("55aaeb90")
CELL_VOLTAGE_MAX: Final = 5.0
MAX_CELLS: Final = 32


@dataclass
class Seeds:
    """Real traffic to start from."""

    frames: list[bytes]
    notifications: list[bytes]

    @classmethod
    def load(cls, captures: Path = CAPTURES) -> Seeds:
        """Every frame and notification of the captures."""
        frames: dict[bytes, None] = {}
        notifications: dict[bytes, None] = {}
        for path in capture_files(captures):
            for _, frame in load_frames(path).frames:
                frames[frame.raw] = None
            if is_btsnoop(path):
                for packet in read_att(path):
                    if packet.from_device and packet.opcode == ATT_NOTIFICATION:
                        notifications[packet.value] = None
        if not frames:
            raise FileNotFoundError(f"no frames in {captures}")
        return cls(list(frames), list(notifications))


def independent_checksum(data: bytes | bytearray) -> int:
    """Sum of the bytes modulo 256 (the JK frame checksum)."""
    total = 0
    for byte in data:
        total += byte
    return total & 0xFF


class Mutator:
    """Builds notification chunks from the seeds."""

    def __init__(self, seeds: Seeds, rng: random.Random) -> None:
        """Draw from ``seeds`` with ``rng``."""
        self.seeds = seeds
        self.rng = rng

    def stream(self) -> Iterator[tuple[str, list[bytes]]]:
        """Endless (kind, chunks) pairs; each chunk is one notification."""
        makers = (
            ("random", self._random),
            ("notification", self._mutated_notification),
            ("frame", self._mutated_frame),
            ("repaired", self._repaired_frame),
            ("spliced", self._spliced),
            ("headers", self._stray_headers),
        )
        while True:
            kind, make = self.rng.choice(makers)
            yield kind, make()

    def _chunks(self, data: bytes) -> list[bytes]:
        rng = self.rng
        size = rng.choice((20, 20, 20, 128, 244, rng.randint(1, 320)))
        chunks = []
        position = 0
        while position < len(data):
            step = size if rng.random() < 0.8 else rng.randint(1, 2 * size)
            chunks.append(data[position : position + step])
            position += step
        return chunks

    def _mutate(self, data: bytes) -> bytes:
        rng = self.rng
        mutated = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4, 16))):
            if not mutated:
                break
            what = rng.random()
            spot = rng.randrange(len(mutated))
            if what < 0.4:
                mutated[spot] ^= 1 << rng.randrange(8)
            elif what < 0.7:
                mutated[spot] = rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)))
            elif what < 0.8:
                del mutated[spot : spot + rng.randint(1, 20)]
            elif what < 0.9:
                mutated[spot:spot] = rng.randbytes(rng.randint(1, 20))
            else:
                value = rng.choice((0xFFFF, 0x8000, 0x7FFF, 0xFFFFFFFF, 0x7FC00000))
                width = 2 if value <= 0xFFFF else 4
                mutated[spot : spot + width] = value.to_bytes(width, "little")
        return bytes(mutated)

    def _random(self) -> list[bytes]:
        rng = self.rng
        return [rng.randbytes(rng.choice((1, 4, 20, rng.randint(0, 400))))]

    def _mutated_notification(self) -> list[bytes]:
        notifications = self.seeds.notifications or self.seeds.frames
        return [self._mutate(self.rng.choice(notifications))]

    def _mutated_frame(self) -> list[bytes]:
        return self._chunks(self._mutate(self.rng.choice(self.seeds.frames)))

    def _repaired_frame(self) -> list[bytes]:
        """A mutated frame whose checksum is made right: the decoders' turn."""
        frame = bytearray(self.rng.choice(self.seeds.frames)[:FRAME_LENGTH])
        for _ in range(self.rng.choice((1, 2, 3, 8))):
            spot = self.rng.randrange(6, FRAME_LENGTH - 1)
            frame[spot] = self.rng.randrange(256)
        frame[-1] = independent_checksum(frame[:-1])
        return self._chunks(bytes(frame))

    def _spliced(self) -> list[bytes]:
        first, second = (self.rng.choice(self.seeds.frames) for _ in range(2))
        cut = self.rng.randrange(1, FRAME_LENGTH)
        return self._chunks(first[:cut] + second[self.rng.randrange(FRAME_LENGTH) :])

    def _stray_headers(self) -> list[bytes]:
        data = bytearray(self.rng.choice(self.seeds.frames))
        for _ in range(self.rng.randint(1, 3)):
            spot = self.rng.randrange(len(data))
            data[spot:spot] = RESPONSE_HEADER + bytes((self.rng.choice((1, 2, 3)),))
        return self._chunks(bytes(data))


@dataclass
class Outcome:
    """What the fuzzer fed and saw."""

    chunks: int = 0
    bytes: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    frames: int = 0
    decoded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    bad_checksums_dropped: int = 0
    failures: list[str] = field(default_factory=list)


class Pipeline:
    """One device's path: an assembler and a decoder (detected or forced layout)."""

    def __init__(self, protocol: Protocol | None) -> None:
        """A fresh assembler and decoder."""
        self.protocol = protocol
        self.assembler = FrameAssembler()
        self.decoder = FrameDecoder(protocol)

    def reset(self) -> None:
        """Forget the partial frame and the detected layout (a new connection)."""
        self.assembler.reset()
        self.decoder = FrameDecoder(self.protocol)


# How far a delta rounded to the cells' resolution may be from the exact one.
DELTA_ROUNDING: Final = 0.0005


def check_values(decoded: object) -> str | None:
    """Why a decoded value is impossible, or None when it is fine."""
    if isinstance(decoded, DeviceInfo):
        return next(
            (
                f"{item.name} = {value!r}"
                for item in fields(decoded)
                if isinstance(value := getattr(decoded, item.name), str)
                and not value.isprintable()
            ),
            None,
        )
    if isinstance(decoded, CellInfo) and (problem := _check_cells(decoded)):
        return problem
    if isinstance(decoded, (CellInfo, Settings)):
        for name, value in _numbers(decoded):
            if not math.isfinite(value):
                return f"{name} = {value}"
    return None


def _check_cells(info: CellInfo) -> str | None:
    """The cells are possible and the figures shown agree with them."""
    cells = info.cell_voltages
    if not 0 <= len(cells) <= MAX_CELLS:
        return f"{len(cells)} cells"
    if len(info.cell_resistances) != len(cells):
        return "resistances do not match the cells"
    if any(not 0.0 < voltage <= CELL_VOLTAGE_MAX for voltage in cells):
        return f"cell voltage out of range: {cells}"
    summary = (
        info.min_cell_voltage,
        info.max_cell_voltage,
        info.min_voltage_cell,
        info.max_voltage_cell,
        info.delta_cell_voltage,
    )
    if not cells:
        return None if summary == (None,) * 5 else f"figures without cells: {summary}"
    lowest, highest = min(cells), max(cells)
    expected = (lowest, highest, cells.index(lowest) + 1, cells.index(highest) + 1)
    # The delta is rounded to the cells' resolution (1 mV at most).
    delta = info.delta_cell_voltage
    if (
        summary[:4] != expected
        or delta is None
        or abs(delta - (highest - lowest)) > (DELTA_ROUNDING)
    ):
        return f"figures {summary} for cells {cells}"
    return None


def _numbers(decoded: CellInfo | Settings) -> Iterator[tuple[str, float]]:
    values = (
        decoded._asdict()
        if isinstance(decoded, CellInfo)
        else {item.name: getattr(decoded, item.name) for item in fields(decoded)}
    )
    for name, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            yield name, float(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, int | float) and not isinstance(item, bool):
                    yield name, float(item)


def feed(pipeline: Pipeline, chunk: bytes, outcome: Outcome) -> None:
    """Feed one chunk through ``pipeline`` and check what comes out."""
    before = pipeline.assembler.stats.bad_checksum
    try:
        frames = pipeline.assembler.feed(chunk)
    except Exception:  # any exception from the assembler is a finding
        outcome.failures.append(
            f"assembler raised on {chunk.hex()}:\n{traceback.format_exc()}"
        )
        return
    outcome.bad_checksums_dropped += pipeline.assembler.stats.bad_checksum - before
    for frame in frames:
        outcome.frames += 1
        raw = frame.raw
        if (
            len(raw) != FRAME_LENGTH
            or not raw.startswith(RESPONSE_HEADER)
            or independent_checksum(raw[:-1]) != raw[-1]
        ):
            outcome.failures.append(f"assembler passed a bad frame: {raw.hex()}")
            continue
        decode(pipeline, frame, outcome)


def decode(pipeline: Pipeline, frame: Frame, outcome: Outcome) -> None:
    """Decode one good frame; only documented errors may come out."""
    try:
        decoded = pipeline.decoder.decode(frame)
    except FrameError as err:
        outcome.rejected[type(err).__name__] += 1
        return
    except Exception:  # anything else is a finding
        outcome.failures.append(
            f"decoder ({pipeline.protocol}) raised on {frame.raw.hex()}:\n"
            f"{traceback.format_exc()}"
        )
        return
    outcome.decoded[type(decoded).__name__] += 1
    if (problem := check_values(decoded)) is not None:
        outcome.failures.append(
            f"decoder ({pipeline.protocol}) returned an impossible value ({problem}) "
            f"from {frame.raw.hex()}"
        )


def run(count: int, seed: int, seeds: Seeds) -> Outcome:
    """Feed ``count`` chunks; return what happened."""
    rng = random.Random(seed)  # noqa: S311 - reproducible inputs, not secrets
    pipelines = [Pipeline(None), *map(Pipeline, BLUETOOTH_PROTOCOLS)]
    outcome = Outcome()
    stream = Mutator(seeds, rng).stream()
    while outcome.chunks < count:
        kind, chunks = next(stream)
        outcome.kinds[kind] += 1
        pipeline = rng.choice(pipelines)
        if rng.random() < 0.001:
            pipeline.reset()
        for chunk in chunks[: count - outcome.chunks]:
            outcome.chunks += 1
            outcome.bytes += len(chunk)
            feed(pipeline, chunk, outcome)
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer and print the outcome."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000, help="chunks to feed")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    args = parser.parse_args(argv)
    seed = (
        args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    )
    print(f"== Fuzzer: {args.count:,} notification chunks, seed {seed}")
    if not CAPTURES.is_dir():
        print(f"   no captures at {CAPTURES} (set JK_CAPTURES)", file=sys.stderr)
        return 1
    seeds = Seeds.load()
    print(
        f"   seeded from {len(seeds.frames)} real frames and "
        f"{len(seeds.notifications)} real notifications"
    )
    start = time.monotonic()
    outcome = run(args.count, seed, seeds)
    elapsed = time.monotonic() - start
    print(
        f"   fed {outcome.chunks:,} chunks ({outcome.bytes:,} bytes) "
        f"in {elapsed:.1f} s: "
        + ", ".join(f"{kind} {n:,}" for kind, n in sorted(outcome.kinds.items()))
        + " inputs"
    )
    print(
        f"   frames with a good checksum: {outcome.frames:,}; bad checksums dropped "
        f"by the assembler: {outcome.bad_checksums_dropped:,}"
    )
    print(
        "   decoded: "
        + ", ".join(f"{name} {n:,}" for name, n in sorted(outcome.decoded.items()))
    )
    print(
        "   rejected with a documented error: "
        + ", ".join(f"{name} {n:,}" for name, n in sorted(outcome.rejected.items()))
    )
    for failure in outcome.failures[:10]:
        print(f"   FAILURE: {failure}")
    print(
        f"   failures: {len(outcome.failures)} "
        f"({'PASS' if not outcome.failures else 'FAIL'}; rerun with --seed {seed})"
    )
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
