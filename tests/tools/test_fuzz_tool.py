"""scripts/fuzz: its oracle catches what it must, and a short run passes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from custom_components.jk_balancer.protocol import (
    Frame,
    FrameAssembler,
    FrameDecoder,
    Protocol,
)
from custom_components.jk_balancer.protocol.const import RESPONSE_HEADER
from jk_tools import fuzz
from jk_tools.captures import load_frames


def decoded(captures: Path, name: str, protocol: Protocol) -> object:
    frame: Frame = load_frames(captures / "frames" / name).frames[0][1]
    return FrameDecoder(protocol).decode(frame)


def test_oracle_flags_impossible_cells_and_control_characters(
    captures: Path,
) -> None:
    cell_info = decoded(
        captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex", Protocol.JK02_24S
    )
    assert isinstance(cell_info, fuzz.CellInfo)
    assert fuzz.check_values(cell_info) is None
    too_high = cell_info._replace(cell_voltages=(7.0, *cell_info.cell_voltages[1:]))
    assert "cell voltage out of range" in str(fuzz.check_values(too_high))
    not_a_number = cell_info._replace(current=float("nan"))
    assert fuzz.check_values(not_a_number) == "current = nan"

    info = decoded(
        captures, "JK-B2A24S20P_sw10.07_JK02_24S.device_info.hex", Protocol.JK02_24S
    )
    assert isinstance(info, fuzz.DeviceInfo)
    assert fuzz.check_values(info) is None
    assert "device_name" in str(fuzz.check_values(replace(info, device_name="J\x07")))


def test_oracle_flags_an_assembler_that_passes_a_bad_checksum_on() -> None:
    class CarelessAssembler(FrameAssembler):
        def feed(self, data: bytes) -> list[Frame]:
            return [Frame(data)]

    pipeline = fuzz.Pipeline(None)
    pipeline.assembler = CarelessAssembler()
    outcome = fuzz.Outcome()
    bad_checksum = RESPONSE_HEADER + bytes([0x02]) + bytes(294) + b"\x01"
    fuzz.feed(pipeline, bad_checksum, outcome)
    assert len(outcome.failures) == 1
    assert outcome.failures[0].startswith("assembler passed a bad frame")


def test_a_short_run_passes_and_prints_its_counts(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fuzz.main(["--count", "5000", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "5,000 notification chunks, seed 7" in out
    assert "failures: 0 (PASS" in out
