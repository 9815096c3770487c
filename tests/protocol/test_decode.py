"""Decoding guards: a wrong layout or a damaged frame never yields a number."""

from __future__ import annotations

import ast
from pathlib import Path
from statistics import fmean
import struct
import subprocess
import sys

import pytest

from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    CELL_INFO_LAYOUTS,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    Protocol,
    ProtocolDetectionError,
    check_cell_info,
    decode_device_info,
)
from custom_components.jk_balancer.protocol.ble.decode import (
    candidate_protocols,
    decode_settings,
    redact_passcodes,
)
from custom_components.jk_balancer.protocol.checksum import checksum
from custom_components.jk_balancer.protocol.errors import ImplausibleFrameError
from custom_components.jk_balancer.protocol.model import DeviceInfo
from jk_tools.captures import capture_files, detect_protocol, load_frames

PROTOCOL_PACKAGE = (
    Path(__file__).resolve().parents[2]
    / "custom_components"
    / "jk_balancer"
    / "protocol"
)


def real(captures: Path, name: str) -> Frame:
    return load_frames(captures / "frames" / name).frames[0][1]


def patched(frame: Frame, offset: int, data: bytes) -> Frame:
    """The frame with ``data`` written at ``offset`` and a fixed checksum."""
    raw = bytearray(frame.raw)
    raw[offset : offset + len(data)] = data
    raw[-1] = checksum(raw[:-1])
    return Frame(bytes(raw))


CELL_INFO_FILES = {
    "JK-B2A16S_sw3.3.0_JK04.cell_info.hex": Protocol.JK04,
    "JK-B5A24S_sw8.0.3M_JK04.cell_info.hex": Protocol.JK04,
    "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex": Protocol.JK02_24S,
    "JK-B2A24S20P_sw10.07_JK02_24S.cell_info_neg_temps.hex": Protocol.JK02_24S,
    "JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex": Protocol.JK02_32S,
    "JK_PB2A16S15P_sw14.20_JK02_32S_a.cell_info.hex": Protocol.JK02_32S,
    "JK_PB2A16S15P_sw14.20_JK02_32S_b.cell_info.hex": Protocol.JK02_32S,
    "JK_PB2A16S15P_sw15.38_JK02_32S.cell_info.hex": Protocol.JK02_32S,
}


@pytest.mark.parametrize(("name", "right"), CELL_INFO_FILES.items())
def test_cell_info_in_a_wrong_layout_is_rejected(
    captures: Path, name: str, right: Protocol
) -> None:
    frame = real(captures, name)
    assert check_cell_info(frame, right).cell_info().cell_count > 0
    for wrong in set(BLUETOOTH_PROTOCOLS) - {right}:
        with pytest.raises(ImplausibleFrameError):
            check_cell_info(frame, wrong).cell_info()


def test_settings_in_a_wrong_family_are_rejected(captures: Path) -> None:
    jk04 = real(captures, "JK-B5A24S_sw8.0.3M_JK04.settings.hex")
    with pytest.raises(ImplausibleFrameError):
        decode_settings(jk04, Protocol.JK02_24S)
    jk02 = load_frames(
        captures / "pdus" / "JK-B2A8S20P-11.26-BLE-JK02_32S-settings-frame.txt"
    ).frames[0][1]
    assert decode_settings(jk02, Protocol.JK02_32S).cell_count == 4
    with pytest.raises(ImplausibleFrameError):
        decode_settings(jk02, Protocol.JK04)


@pytest.mark.parametrize(
    ("offset", "data", "field"),
    [
        (6, struct.pack("<H", 9999), "cell_voltages"),  # cell 1 at 9.999 V
        (130, struct.pack("<h", 1500), "temperature_sensor_1"),  # 150 degC
        (130, struct.pack("<h", -500), "temperature_sensor_1"),  # -50 degC
        (54, struct.pack("<I", 0xF0F0), "connected_cells_mask"),  # gaps in the mask
        (54, struct.pack("<I", 0), "connected_cells_mask"),  # no cells
        (58, struct.pack("<H", 3600), "average_cell_voltage"),  # disagrees with cells
        (118, struct.pack("<I", 10_000), "total_voltage"),  # 10 V for 24 cells
        (62, bytes((30,)), "max_voltage_cell_index"),  # cell 31 of 24
        (141, bytes((150,)), "state_of_charge"),
        (126, struct.pack("<i", -2_500_000), "current"),  # -2500 A
        (138, struct.pack("<h", -11_000), "balancing_current"),  # -11 A
        (166, bytes((2,)), "charging"),
    ],
)
def test_damaged_jk02_values_are_reported_not_returned(
    captures: Path, offset: int, data: bytes, field: str
) -> None:
    frame = patched(
        real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex"), offset, data
    )
    with pytest.raises(ImplausibleFrameError) as caught:
        check_cell_info(frame, Protocol.JK02_24S).cell_info()
    assert caught.value.placeholders["field"] == field


def test_nan_cell_voltage_is_rejected(captures: Path) -> None:
    frame = patched(
        real(captures, "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"),
        10,
        struct.pack("<f", float("nan")),
    )
    with pytest.raises(ImplausibleFrameError, match="cell_voltages"):
        check_cell_info(frame, Protocol.JK04).cell_info()


def test_absent_temperature_probe_reads_none(captures: Path) -> None:
    frame = patched(
        real(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex"),
        164,
        struct.pack("<h", -2000),
    )
    cells = check_cell_info(frame, Protocol.JK02_32S).cell_info()
    assert cells.temperature_sensor_2 is None
    assert cells.temperature_sensor_1 == 11.9


@pytest.mark.parametrize(
    ("name", "protocol"),
    [
        ("JK-B2A24S20P_sw10.07_JK02_24S.cell_info_neg_temps.hex", Protocol.JK02_24S),
        ("JK_PB2A16S15P_sw15.38_JK02_32S.cell_info.hex", Protocol.JK02_32S),
    ],
)
def test_every_measurement_lands_in_the_field_of_its_name(
    captures: Path, name: str, protocol: Protocol
) -> None:
    """A real frame's values, decoded by name, are the record's of that name:
    nothing depends on the order the record or the layout lists them in."""
    frame = real(captures, name)
    named = CELL_INFO_LAYOUTS[protocol].decode(frame.raw)._asdict()
    cells = check_cell_info(frame, protocol).cell_info()
    # The summary is the cells' own (the device's figures lag a sample).
    derived = {"average_cell_voltage", "delta_cell_voltage"}
    shared = [
        field for field in cells._fields if field in named and field not in derived
    ]
    assert cells.device_figures.average_cell_voltage == named["average_cell_voltage"]
    assert {"current", "state_of_charge", "cycle_count", "temperature_sensor_2"} <= (
        set(shared)
    )
    for field in shared:
        value = getattr(cells, field)
        if field in ("cell_voltages", "cell_resistances"):
            assert value == named[field][: len(value)], field
        elif field in ("charging", "discharging"):
            assert value is (named[field] == 1), field
        else:
            assert value == named[field], field


def test_jk02_warning_and_error_bits(captures: Path) -> None:
    frame = real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex")
    frame = patched(frame, 114, struct.pack("<I", 0b101))  # wires of cells 1 and 3
    frame = patched(frame, 136, bytes((0x04, 0x08)))  # big endian: bits 10 and 3
    cells = check_cell_info(frame, Protocol.JK02_24S).cell_info()
    assert cells.wire_resistance_warnings == (1, 3)
    assert cells.errors == ("cell_undervoltage", "cell_count_mismatch")


def test_jk04_high_wire_resistance_is_flagged(captures: Path) -> None:
    frame = patched(
        real(captures, "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"),
        102 + 4 * 4,
        struct.pack("<f", 2.5),
    )
    assert check_cell_info(
        frame, Protocol.JK04
    ).cell_info().wire_resistance_warnings == (5,)


def test_unmeasured_top_cell_is_not_shown(captures: Path) -> None:
    """While the cell count changes the mask can still include a 0 V cell."""
    frame = patched(
        real(captures, "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"), 6 + 15 * 4, bytes(4)
    )
    assert check_cell_info(frame, Protocol.JK04).cell_info().cell_count == 15


def test_control_bytes_in_names_do_not_reach_the_device_registry(
    captures: Path,
) -> None:
    # A corrupt frame can pass the 8-bit checksum; the name it carries must
    # still be something Home Assistant can show.
    frame = real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.device_info.hex")
    info = decode_device_info(patched(frame, 46, b"JK\x07BMS\n\0"))
    assert info.device_name == "JK\ufffdBMS"
    assert decode_device_info(patched(frame, 6, b"JK_B2A24S\0")).vendor_id == (
        "JK_B2A24S"
    )


def test_detection_order_follows_the_device_info() -> None:
    def info(vendor: str, software: str) -> DeviceInfo:
        return DeviceInfo(vendor, "1", software, "", "", "", 0, 0, passcode="x")

    assert candidate_protocols(info("JK-B2A16S", "3.3.0"))[0] is Protocol.JK04
    assert candidate_protocols(info("JK-BD6A24S10P", "8.0.6G"))[0] is Protocol.JK02_24S
    assert candidate_protocols(info("JK-B5A24S", "8.0.3M"))[0] is Protocol.JK04
    assert candidate_protocols(info("JK-PB2A16S20P", "19.27"))[0] is Protocol.JK02_32S
    assert candidate_protocols(info("JK-B2A24S", "x"))[0] is Protocol.JK04
    assert set(candidate_protocols(None)) == set(BLUETOOTH_PROTOCOLS)


def test_decoder_detects_on_the_fly_and_keeps_the_layout(captures: Path) -> None:
    frames = [
        frame
        for _, frame in load_frames(
            captures / "pdus" / "JK-B2A8S20P-11.17-BLE-JK02_32S.txt"
        ).frames
    ]
    decoder = FrameDecoder()
    assert not decoder.confirmed
    for frame in frames:
        decoder.decode(frame)
    assert decoder.protocol is Protocol.JK02_32S
    assert decoder.confirmed


def test_frame_fitting_no_layout(captures: Path) -> None:
    frame = patched(
        real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex"), 6, b"\xff" * 100
    )
    with pytest.raises(ProtocolDetectionError):
        FrameDecoder().decode(frame)
    settings = patched(
        real(captures, "JK-B5A24S_sw8.0.3M_JK04.settings.hex"), 106, b"\xff" * 8
    )
    with pytest.raises(ProtocolDetectionError):
        FrameDecoder().decode(settings)


def test_unknown_frame_type_is_a_frame_error(captures: Path) -> None:
    frame = patched(real(captures, "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"), 4, b"\x07")
    with pytest.raises(FrameError, match="unknown frame type"):
        FrameDecoder(Protocol.JK04).decode(frame)


def test_redaction_removes_passcodes_and_keeps_the_frame_decodable(
    captures: Path,
) -> None:
    frame = real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.device_info.hex")
    redacted = redact_passcodes(frame.raw)
    assert b"1234" not in redacted
    info = decode_device_info(Frame.from_bytes(redacted))
    assert info.passcode == ""
    assert info.vendor_id == "JK-B2A24S20P"
    assert info.serial_number == "2041803028"
    cell_info = real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex")
    assert redact_passcodes(cell_info.raw) == cell_info.raw


def test_protocol_package_does_not_import_home_assistant() -> None:
    for path in PROTOCOL_PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(name.split(".")[0] == "homeassistant" for name in names), (
                path
            )


def test_protocol_package_works_on_its_own(captures: Path) -> None:
    """Loaded as a stand-alone package with Home Assistant unimportable."""
    frame_file = captures / "frames" / "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"
    script = f"""
import importlib.util, sys
sys.modules["homeassistant"] = None
spec = importlib.util.spec_from_file_location(
    "jkproto", {str(PROTOCOL_PACKAGE / "__init__.py")!r},
    submodule_search_locations=[{str(PROTOCOL_PACKAGE)!r}])
module = importlib.util.module_from_spec(spec)
sys.modules["jkproto"] = module
spec.loader.exec_module(module)
raw = bytes.fromhex(open({str(frame_file)!r}).read().strip())
frame = module.Frame.from_bytes(raw)
cells = module.check_cell_info(frame, module.Protocol.JK04).cell_info()
print(cells.cell_count)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "16"


# -- a snapshot never contradicts itself; a balancer without cells is shown ----

CELL_BLOCK = ("cell_voltages", "connected_cells_mask")
# The cell block with everything the device derives from it.
CELL_BLOCK_AND_FIGURES = (
    *CELL_BLOCK,
    "average_cell_voltage",
    "delta_cell_voltage",
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "cell_resistances",
)


def without_cells(frame: Frame, protocol: Protocol, names: tuple[str, ...]) -> Frame:
    """The frame as the device sends it with its balance leads unplugged."""
    layout = CELL_INFO_LAYOUTS[protocol]
    raw = bytearray(frame.raw)
    for name in names:
        if (item := layout.fields.get(name)) is not None:
            raw[item.offset : item.offset + item.length] = bytes(item.length)
    raw[-1] = checksum(raw[:-1])
    return Frame(bytes(raw))


def real_cell_info_frames(captures: Path) -> list[tuple[str, Frame, Protocol]]:
    """Every distinct cell-info frame of the captures, with its true layout."""
    found: dict[bytes, tuple[str, Frame, Protocol]] = {}
    for path in capture_files(captures):
        frames = [item for _, item in load_frames(path).frames]
        protocol = detect_protocol(frames)
        assert protocol is not None
        for item in frames:
            if item.frame_type == FrameType.CELL_INFO:
                found.setdefault(item.raw, (path.name, item, protocol))
    return list(found.values())


def test_no_frame_of_any_capture_passes_in_a_wrong_layout(captures: Path) -> None:
    """As recorded, and with the cell block zeroed two ways (leads unplugged)."""
    frames = real_cell_info_frames(captures)
    assert len(frames) > 1000
    for name, frame, right in frames:
        for zeroed in ((), CELL_BLOCK, CELL_BLOCK_AND_FIGURES):
            variant = without_cells(frame, right, zeroed) if zeroed else frame
            measured = check_cell_info(variant, right).cell_info()
            assert bool(measured.cell_voltages) is not bool(zeroed), name
            for wrong in set(BLUETOOTH_PROTOCOLS) - {right}:
                with pytest.raises(ImplausibleFrameError):
                    check_cell_info(variant, wrong).cell_info()


def test_what_users_see_is_derived_from_the_cells_of_the_same_frame(
    captures: Path,
) -> None:
    for name, frame, protocol in real_cell_info_frames(captures):
        cells = check_cell_info(frame, protocol).cell_info()
        voltages = cells.cell_voltages
        assert cells.min_cell_voltage == min(voltages), name
        assert cells.max_cell_voltage == max(voltages), name
        assert voltages.index(cells.min_cell_voltage) + 1 == cells.min_voltage_cell
        assert voltages.index(cells.max_cell_voltage) + 1 == cells.max_voltage_cell
        # Rounded to the cells' resolution (1 mV, or float32's digits on JK04).
        resolution = 1e-6 if protocol is Protocol.JK04 else 1e-3
        half = resolution / 2 + 1e-12
        assert cells.delta_cell_voltage == pytest.approx(
            cells.max_cell_voltage - cells.min_cell_voltage, abs=half
        )
        assert cells.average_cell_voltage == pytest.approx(fmean(voltages), abs=half)


def test_the_issue_frame_no_longer_names_a_cell_that_is_not_the_highest(
    captures: Path,
) -> None:
    """JK-B2A24S20P: the device says cell 1 (3.284 V), cell 23 reads 3.285 V."""
    cells = check_cell_info(
        real(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex"),
        Protocol.JK02_24S,
    ).cell_info()
    assert cells.max_voltage_cell == 23
    assert cells.delta_cell_voltage == 0.006
    assert cells.device_figures.max_voltage_cell == 1
    assert cells.device_figures.delta_cell_voltage == 0.005


def test_a_balancer_with_its_leads_unplugged_is_shown(captures: Path) -> None:
    """A JK02_32S BMS measuring no cell: everything else it sends is published."""
    frame = real(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex")
    unplugged = without_cells(frame, Protocol.JK02_32S, CELL_BLOCK)
    # Bit 10 of the (big-endian) error mask: cell count mismatch.
    unplugged = patched(unplugged, 166, bytes((0x04, 0x00)))
    cells = check_cell_info(unplugged, Protocol.JK02_32S).cell_info()
    assert cells.cell_voltages == ()
    assert cells.cell_resistances == ()
    assert cells.min_cell_voltage is None
    assert cells.max_voltage_cell is None
    assert cells.delta_cell_voltage is None
    assert cells.average_cell_voltage is None
    assert (cells.temperature_sensor_1, cells.temperature_sensor_2) == (11.9, 12.7)
    assert cells.power_tube_temperature == 12.8
    assert (cells.remaining_capacity, cells.estimated_capacity) == (312.898, 314.0)
    assert cells.errors == ("cell_count_mismatch",)
    assert cells.to_dict()["min_voltage_cell"] is None
    # Detected from the device info, but a frame without cells decides nothing.
    decoder = FrameDecoder()
    decoder.decode(real(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.device_info.hex"))
    assert decoder.decode(unplugged) == cells
    assert decoder.protocol is Protocol.JK02_32S
    assert not decoder.confirmed
    decoder.decode(frame)
    assert decoder.confirmed


def test_a_frame_without_cells_must_still_say_something(captures: Path) -> None:
    frame = without_cells(
        real(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex"),
        Protocol.JK02_32S,
        CELL_BLOCK,
    )
    stopped_clock = patched(frame, 194, bytes(4))
    with pytest.raises(ImplausibleFrameError, match="runtime"):
        check_cell_info(stopped_clock, Protocol.JK02_32S).cell_info()
    # 100 % charged but 10 of 314 Ah left: not what a BMS sends.
    with pytest.raises(ImplausibleFrameError, match="state of charge"):
        check_cell_info(
            patched(frame, 174, struct.pack("<I", 10_000)), Protocol.JK02_32S
        ).cell_info()
