"""The protocol layer against real traffic from the repository's ``captures/``.

Expected values below were read off the frames' bytes by hand (and agree with
the community documentation of each layout); they are not produced by the code
under test.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import pytest

from custom_components.jk_balancer.protocol import (
    CellInfo,
    DeviceInfo,
    FrameAssembler,
    FrameDecoder,
    FrameType,
    Protocol,
    Settings,
    check_cell_info,
    decode_device_info,
)
from custom_components.jk_balancer.protocol.ble.commands import (
    encode_command,
    write_command,
)
from custom_components.jk_balancer.protocol.ble.decode import decode_settings
from custom_components.jk_balancer.protocol.settings import Confirmation
from custom_components.jk_balancer.protocol.writes import prepare_write
from jk_emulator.device_codec import parse_command, spec_for_register
from jk_tools.captures import (
    ATT_NOTIFICATION,
    ATT_WRITE_COMMAND,
    capture_files,
    detect_protocol,
    load_frames,
    read_att,
)
from tests.conftest import protocol_from_name

# Layouts of the btsnoop logs, from the table in captures/README.md.
BTSNOOP_PROTOCOLS = {
    "btsnoop_hci_jk-b2a16s_hw30_sw330.log": Protocol.JK04,
    "btsnoop_hci_jk-b2a16s_hw30_sw330_cmds.log": Protocol.JK04,
    "btsnoop_hci_jk-b5a24s_hw8x_sw803m.log": Protocol.JK04,
    "btsnoop_hci_jk-b1a20s15p_hw10xw_sw1007.log": Protocol.JK02_24S,
    "btsnoop_hci_jk-bd6a24s10p_hw8x_sw806g.log": Protocol.JK02_24S,
    "btsnoop_hci_jk-bd6a17s6p_hw72_sw710h.log": Protocol.JK02_24S,
}


def frame(captures: Path, name: str):
    loaded = load_frames(captures / "frames" / name)
    assert not loaded.problems
    return loaded.frames[0][1]


@pytest.mark.parametrize("path", capture_files(), ids=lambda path: path.name)
def test_every_capture_reassembles_and_decodes(captures: Path, path: Path) -> None:
    loaded = load_frames(path)
    frames = [item for _, item in loaded.frames]
    assert frames
    protocol = detect_protocol(frames)
    assert protocol is BTSNOOP_PROTOCOLS.get(path.name, protocol_from_name(path.name))
    decoder = FrameDecoder(protocol)
    for _, item in loaded.frames:
        decoded = decoder.decode(item)
        assert {
            FrameType.DEVICE_INFO: DeviceInfo,
            FrameType.SETTINGS: Settings,
            FrameType.CELL_INFO: CellInfo,
        }[FrameType(item.frame_type)] is type(decoded)


def test_only_the_damage_in_the_recordings_is_reported(captures: Path) -> None:
    """One pdu line is cut short; two logs lost a notification mid-frame."""
    problems = [
        problem for path in capture_files() for problem in load_frames(path).problems
    ]
    assert sorted(problems) == [
        "JK-B5A24S-8.0.3M-BLE-JK04.txt:1: frame is 298 bytes, expected 300",
        "btsnoop_hci_jk-b1a20s15p_hw10xw_sw1007.log: dropped 0 frame(s) with a bad "
        "checksum and 1 truncated frame(s)",
        "btsnoop_hci_jk-b2a16s_hw30_sw330_cmds.log: dropped 0 frame(s) with a bad "
        "checksum and 1 truncated frame(s)",
    ]


def test_jk04_cell_info_b2a16s(captures: Path) -> None:
    cells = check_cell_info(
        frame(captures, "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"), Protocol.JK04
    ).cell_info()
    assert cells.cell_count == 16
    assert cells.cell_voltages[0] == pytest.approx(3.35266, abs=1e-5)
    assert cells.cell_voltages[1] == pytest.approx(3.35855, abs=1e-5)
    assert cells.cell_resistances[0] == pytest.approx(0.15929, abs=1e-5)
    assert cells.max_voltage_cell == 2
    assert cells.min_voltage_cell == 1
    # The figures shown come from the cells; the device's own bytes lag them.
    assert cells.average_cell_voltage == pytest.approx(fmean(cells.cell_voltages))
    assert cells.delta_cell_voltage == pytest.approx(3.35855 - 3.35266, abs=1e-5)
    assert cells.device_figures.average_cell_voltage == pytest.approx(3.35579, abs=1e-5)
    assert cells.device_figures.delta_cell_voltage == pytest.approx(0.00589, abs=1e-5)
    assert cells.device_figures.max_voltage_cell is None  # JK04 sends no numbers
    assert cells.total_voltage == pytest.approx(sum(cells.cell_voltages))
    assert cells.balancing is True
    assert cells.balancing_current == pytest.approx(1.171875)
    assert cells.total_runtime == 1873811
    assert cells.current is None  # JK04 has no BMS values
    assert cells.to_dict()["current"] is None


def test_jk04_b5a24s_settings_and_cells(captures: Path) -> None:
    settings = decode_settings(
        frame(captures, "JK-B5A24S_sw8.0.3M_JK04.settings.hex"), Protocol.JK04
    )
    assert settings.cell_count == 16
    assert settings.power_off_voltage == pytest.approx(3.2)
    assert settings.balance_trigger_voltage == pytest.approx(0.008)
    assert settings.max_balance_current == pytest.approx(4.5)
    assert settings.voltage_calibration == pytest.approx(3.0331, abs=1e-4)
    assert settings.balance_start_voltage == pytest.approx(4.25)
    assert settings.balancer_enabled is True
    assert settings.battery_capacity is None
    cells = check_cell_info(
        frame(captures, "JK-B5A24S_sw8.0.3M_JK04.cell_info.hex"), Protocol.JK04
    ).cell_info()
    assert cells.total_runtime == 591338
    assert cells.balancing is True
    assert cells.balancing_current == pytest.approx(-2.6, abs=0.01)
    assert cells.max_voltage_cell == 8
    assert cells.min_voltage_cell == 1


def test_jk02_24s_cell_info(captures: Path) -> None:
    cells = check_cell_info(
        frame(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex"),
        Protocol.JK02_24S,
    ).cell_info()
    assert cells.cell_count == 24
    assert cells.cell_voltages[:3] == (3.284, 3.28, 3.279)
    assert cells.cell_voltages[22] == 3.285
    assert cells.cell_resistances[:3] == (0.1, 0.108, 0.104)
    # Derived from the cells of this frame: cell 23 holds the highest voltage
    # and cell 3 is the first at the lowest, 6 mV apart.
    assert (cells.min_cell_voltage, cells.max_cell_voltage) == (3.279, 3.285)
    assert (cells.max_voltage_cell, cells.min_voltage_cell) == (23, 3)
    # In whole millivolts, the cells' resolution: no float noise.
    assert cells.delta_cell_voltage == 0.006
    assert cells.average_cell_voltage == round(fmean(cells.cell_voltages), 3) == 3.281
    # The device's own bytes, a sample behind: cell 1 highest, 5 mV.
    assert cells.device_figures == (3.281, 0.005, 4, 1)
    assert cells.total_voltage == 78.735
    assert cells.current == 0.0
    assert cells.temperature_sensor_1 == 20.7
    assert cells.temperature_sensor_2 == 20.7
    assert cells.power_tube_temperature == 23.4
    assert cells.state_of_charge == 85
    assert cells.remaining_capacity == 42.804
    assert cells.estimated_capacity == 50.0
    assert cells.cycle_count == 0
    assert cells.state_of_health == 100
    assert cells.total_runtime == 269340
    assert (cells.charging, cells.discharging) == (True, False)
    assert cells.errors == ()
    assert cells.wire_resistance_warnings == ()


def test_jk02_24s_negative_temperatures(captures: Path) -> None:
    cells = check_cell_info(
        frame(captures, "JK-B2A24S20P_sw10.07_JK02_24S.cell_info_neg_temps.hex"),
        Protocol.JK02_24S,
    ).cell_info()
    assert cells.cell_count == 13
    assert (cells.temperature_sensor_1, cells.temperature_sensor_2) == (-3.1, -2.9)
    assert cells.estimated_capacity == 132.0
    assert cells.cycle_count == 56
    assert cells.state_of_charge == 47


def test_jk02_32s_cell_info(captures: Path) -> None:
    cells = check_cell_info(
        frame(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex"),
        Protocol.JK02_32S,
    ).cell_info()
    assert cells.cell_count == 16
    assert cells.cell_voltages[0] == 3.381
    assert (
        cells.device_figures.max_voltage_cell,
        cells.device_figures.min_voltage_cell,
    ) == (1, 10)
    assert cells.total_voltage == 54.028
    assert cells.current == -0.727
    assert cells.power == pytest.approx(54.028 * -0.727, abs=1e-3)
    assert cells.power_tube_temperature == 12.8
    assert (cells.temperature_sensor_1, cells.temperature_sensor_2) == (11.9, 12.7)
    assert cells.state_of_charge == 100
    assert cells.remaining_capacity == 312.898
    assert cells.estimated_capacity == 314.0
    assert cells.cycle_count == 5
    assert cells.total_runtime == 3609276
    charging = check_cell_info(
        frame(captures, "JK_PB2A16S15P_sw15.38_JK02_32S.cell_info.hex"),
        Protocol.JK02_32S,
    ).cell_info()
    assert charging.current == 31.881
    assert charging.state_of_charge == 25


def test_device_info(captures: Path) -> None:
    info = decode_device_info(
        frame(captures, "JK-B2A24S20P_sw10.07_JK02_24S.device_info.hex")
    )
    assert info.vendor_id == "JK-B2A24S20P"
    assert (info.hardware_version, info.software_version) == ("10.XG", "10.07")
    assert info.device_name == "JK-B2A24S20P"
    assert info.serial_number == "2041803028"
    assert info.manufacturing_date == "220511"
    assert info.uptime == 269100
    assert info.power_on_count == 1
    assert info.passcode == "1234"
    assert info.is_bms
    assert info.rated_balance_current == 2.0
    assert info.model_cells == 24
    # The passcode stays out of repr (logs) and out of output unless asked.
    assert "1234" not in repr(info)
    assert "passcode" not in info.to_dict()
    assert info.to_dict(show_passcode=True)["passcode"] == "1234"
    balancer = decode_device_info(
        frame(captures, "JK-B2A16S_sw3.3.0_JK04.device_info.hex")
    )
    assert (balancer.vendor_id, balancer.device_name) == ("JK-B2A16S", "BMS")
    assert not balancer.is_bms
    long_serial = decode_device_info(
        frame(captures, "JK-PB2A16S20P_sw19.27_JK02_32S.device_info.hex")
    )
    assert long_serial.serial_number == "506177F49000674"


@pytest.mark.parametrize(
    ("name", "read_back"),
    [
        # The log ends before the device answers the last cell-count writes.
        (
            "btsnoop_hci_jk-b2a16s_hw30_sw330_cmds.log",
            {
                "balancer_enabled",
                "max_balance_current",
                "power_off_voltage",
                "voltage_calibration",
            },
        ),
        (
            "btsnoop_hci_jk-b5a24s_hw8x_sw803m.log",
            {
                "cell_count",
                "balance_trigger_voltage",
                "max_balance_current",
                "power_off_voltage",
                "voltage_calibration",
            },
        ),
    ],
)
def test_app_writes_are_reproduced_and_read_back(
    captures: Path, name: str, read_back: set[str]
) -> None:
    """Our encoder builds the app's commands; the next settings frame shows them."""
    protocol = Protocol.JK04
    assembler = FrameAssembler()
    decoder = FrameDecoder(protocol)
    pending: dict[str, float] = {}
    checked: set[str] = set()
    writes = 0
    for packet in read_att(captures / "btsnoop" / name):
        if not packet.from_device and packet.opcode == ATT_WRITE_COMMAND:
            command = parse_command(packet.value)
            if command.command in (0x96, 0x97):
                assert encode_command(command.command, padding=packet.value[6:19]) == (
                    packet.value
                )
                continue
            spec = spec_for_register(protocol, command.command, len(command.value))
            assert spec is not None
            register = spec.registers[protocol]
            value = register.decode(command.value)
            rebuilt = encode_command(
                register.address,
                register.encode(value),
                padding=packet.value[6 + len(command.value) : 19],
            )
            assert rebuilt == packet.value
            if spec.confirmation is Confirmation.READ_BACK:
                ours = prepare_write(
                    spec.key, value, protocol, device_info=decoder.device_info
                )
                end = 6 + len(command.value)
                assert write_command(ours)[:end] == packet.value[:end]
            pending[spec.key] = value
            writes += 1
        elif packet.from_device and packet.opcode == ATT_NOTIFICATION:
            for item in assembler.feed(packet.value):
                decoded = decoder.decode(item)
                if isinstance(decoded, Settings):
                    for key, value in pending.items():
                        assert float(getattr(decoded, key)) == pytest.approx(
                            value, abs=1e-5
                        )
                        checked.add(key)
                    pending.clear()
    assert writes >= 8
    assert checked == read_back
