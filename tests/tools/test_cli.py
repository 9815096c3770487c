"""The jk-balancer command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import struct
from types import SimpleNamespace
from typing import Any

from bleak.exc import BleakError
import pytest

from jk_tools import cli, decode_files, live
from jk_tools.captures import load_frames


async def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = await cli.run(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_decode_frame_files(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(str(path) for path in (captures / "frames").glob("*.hex"))
    status, out, err = await run(capsys, "decode", *files)
    assert status == 0
    assert err == ""
    records = json_lines(out)
    assert len(records) == len(files)
    by_type = {record["frame_type"] for record in records}
    assert by_type == {"cell_info", "device_info", "settings"}
    settings = next(r for r in records if r["frame_type"] == "settings")
    assert settings == {
        "frame_type": "settings",
        "protocol": "JK04",
        "cell_count": 16,
        "balancer_enabled": True,
        "balance_trigger_voltage": 0.008,
        "balance_start_voltage": 4.25,
        "max_balance_current": 4.5,
        "power_off_voltage": 3.2,
        "voltage_calibration": 3.033129,
        "battery_capacity": None,
    }
    cells = next(
        r for r in records if r["protocol"] == "JK02_32S" and "cell_voltages" in r
    )
    for key in (
        "cell_voltages",
        "cell_resistances",
        "total_voltage",
        "average_cell_voltage",
        "delta_cell_voltage",
        "min_cell_voltage",
        "max_cell_voltage",
        "min_voltage_cell",
        "max_voltage_cell",
        "balancing",
        "balancing_current",
        "total_runtime",
        "state_of_charge",
        "state_of_health",
        "remaining_capacity",
        "estimated_capacity",
        "cycle_count",
        "temperature_sensor_1",
        "temperature_sensor_2",
        "power_tube_temperature",
        "charging",
        "discharging",
        "errors",
    ):
        assert key in cells
    infos = [r for r in records if r["frame_type"] == "device_info"]
    assert all("passcode" not in record for record in infos)
    assert {record["protocol"] for record in infos} == {"JK04", "JK02_24S", "JK02_32S"}


async def test_decode_shows_the_passcode_only_when_asked(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(captures / "frames" / "JK-B2A16S_sw3.3.0_JK04.device_info.hex")
    _, out, _ = await run(capsys, "decode", "--show-passcode", path)
    assert json_lines(out)[0]["passcode"] == "1234"


async def test_decode_btsnoop_reports_damage_on_stderr(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = captures / "btsnoop" / "btsnoop_hci_jk-b1a20s15p_hw10xw_sw1007.log"
    status, out, err = await run(capsys, "decode", str(path))
    assert status == 0
    records = json_lines(out)
    assert [r["frame_type"] for r in records].count("cell_info") == 30
    assert {r["protocol"] for r in records} == {"JK02_24S"}
    assert "1 truncated frame" in err


async def test_decode_with_a_forced_wrong_protocol(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = captures / "frames" / "JK-B2A24S20P_sw10.07_JK02_24S.cell_info.hex"
    status, out, err = await run(capsys, "decode", "--protocol", "JK04", str(path))
    assert status == 1
    assert out == ""
    assert "wrong protocol layout or corrupt frame" in err
    assert err.endswith("no frame found\n")


async def test_decode_missing_and_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.hex"
    bad.write_text("55 AA EB 90 02 00 zz\n\n0x55 0xaa 0xeb\n55.AA.EB.9\n")
    status, out, err = await run(
        capsys, "decode", str(tmp_path / "missing.hex"), str(bad)
    )
    assert status == 1
    assert out == ""
    assert "missing.hex" in err
    assert "bad.hex:1: not hex: 'z'" in err
    assert "bad.hex:3: frame is 3 bytes" in err
    assert "bad.hex:4: odd number of hex digits" in err


async def test_emulators_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await run(capsys, "emulators")
    assert status == 0
    records = json_lines(out)
    assert {"name", "protocol", "cells"} <= set(records[0])
    assert {r["protocol"] for r in records} == {
        "JK04",
        "JK02_24S",
        "JK02_32S",
        "DZ_RS485",
    }
    assert any(r["cells"] == 4 for r in records)


async def test_set_prints_the_value_the_device_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = await run(
        capsys, "set", "--emulator", "jk-b2a16s", "balance_trigger_voltage", "0.005"
    )
    assert (status, out, err) == (0, "0.005\n", "")
    status, out, _ = await run(
        capsys, "set", "--emulator", "jk-b2a24s20p", "balancer_enabled", "off", "--json"
    )
    assert status == 0
    assert json.loads(out) == {"setting": "balancer_enabled", "value": False}
    status, out, _ = await run(
        capsys, "set", "--emulator", "jk-b2a4s", "balancer_enabled", "on"
    )
    assert (status, out) == (0, "on\n")


async def test_set_voltage_calibration(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await run(
        capsys, "read", "--emulator", "jk-pb2a16s20p", "--json", "--seed", "1"
    )
    total = json.loads(out)["cell_info"]["total_voltage"]
    target = round(total * 1.01, 2)
    status, out, err = await run(
        capsys, "set", "--emulator", "jk-pb2a16s20p", "voltage_calibration", str(target)
    )
    assert status == 0, err
    assert float(out) == pytest.approx(target, rel=0.005)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("balance_trigger_voltage", "5"), "outside 0.001..1 V; nothing was sent"),
        (("battery_capacity", "100"), "cannot be written on JK04"),
        (("balancer_enabled", "maybe"), "not a valid value"),
        (("cell_count", "ten"), "not a valid value"),
    ],
)
async def test_rejected_values_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], args: tuple[str, str], message: str
) -> None:
    status, out, err = await run(capsys, "set", "--emulator", "jk-b2a16s", *args)
    assert status == 2
    assert out == ""
    assert message in err


async def test_wrong_password_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = await run(
        capsys, "read", "--emulator", "jk-b2a16s", "--password", "0000"
    )
    assert status == 3
    assert out == ""
    assert "Wrong password" in err
    assert "1234" not in err


async def test_read_prints_everything(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await run(capsys, "read", "--emulator", "jk-b2a4s")
    assert status == 0
    assert "JK-B2A4S (hw 1.0, sw 1.0.0, JK04)" in out
    assert out.count(" V  wire ") == 4
    assert "balance_trigger_voltage" in out
    status, out, _ = await run(capsys, "read", "--emulator", "jk-b2a24s20p", "--json")
    record = json.loads(out)
    assert record["protocol"] == "JK02_24S"
    assert len(record["cell_info"]["cell_voltages"]) == 24
    assert "passcode" not in record["device_info"]


async def test_read_replays_a_real_device_from_a_capture(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = captures / "btsnoop" / "btsnoop_hci_jk-b2a16s_hw30_sw330.log"
    status, out, err = await run(capsys, "read", "--recording", str(log), "--json")
    assert status == 0, err
    record = json.loads(out)
    assert record["device_info"]["vendor_id"] == "JK-B2A16S"
    assert record["settings"]["balance_start_voltage"] == 4.25
    assert len(record["cell_info"]["cell_voltages"]) == 16

    incomplete = captures / "frames" / "JK-B2A16S_sw3.3.0_JK04.cell_info.hex"
    status, out, err = await run(capsys, "read", "--recording", str(incomplete))
    assert (status, out) == (1, "")
    assert "needs device-info, settings and cell-info frames" in err


async def test_monitor_shows_cells_converging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = await run(
        capsys, "monitor", "--emulator", "jk-b2a16s", "--count", "5"
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("time")
    rows = lines[1:]
    assert len(rows) == 5
    deltas = [float(row.split()[2]) for row in rows]
    assert deltas[-1] < deltas[0]
    assert rows[0].split()[3] == "balancing"
    assert len(rows[0].split()) == 5 + 16


async def test_monitor_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = await run(
        capsys, "monitor", "--emulator", "jk-pb2a16s20p", "--count", "2", "--json"
    )
    assert status == 0
    records = json_lines(out)
    assert len(records) == 2
    assert len(records[0]["cell_voltages"]) == 16


async def test_monitor_ends_when_the_link_is_lost(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = live.BluetoothBalancer

    def flaky(*args: Any, **kwargs: Any) -> Any:
        device = original(*args, **kwargs)
        device.drop_link(mid_frame=True)
        return device

    monkeypatch.setattr(live, "BluetoothBalancer", flaky)
    status, _, err = await run(capsys, "read", "--emulator", "jk-b2a16s")
    assert status == 1
    assert "disconnected" in err or "connection lost" in err


async def test_scan_without_bluetooth(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**_kwargs: Any) -> Any:
        raise BleakError("No Bluetooth adapters found.")

    monkeypatch.setattr(cli.BleakScanner, "discover", broken)
    status, _out, err = await run(capsys, "scan", "--timeout", "0.1")
    assert status == 1
    assert "Bluetooth scan failed: No Bluetooth adapters found." in err


async def test_scan_lists_jk_devices_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def found(address: str, name: str, manufacturer: dict[int, bytes]) -> Any:
        device = SimpleNamespace(address=address, name=name)
        advertisement = SimpleNamespace(
            local_name=name, manufacturer_data=manufacturer, service_uuids=[], rssi=-70
        )
        return address, (device, advertisement)

    async def discover(**_kwargs: Any) -> Any:
        return dict(
            [
                found("C8:47:80:0F:D5:C5", "BatteryOben-00", {0x0B65: b"\x88\xa0"}),
                found("20:25:03:32:09:75", "JK-BD4A8S-4P", {0x4B4A: b"\x00\x01"}),
                found("AA:BB:CC:DD:EE:FF", "Thermometer", {0x0499: b"\x01"}),
            ]
        )

    monkeypatch.setattr(cli.BleakScanner, "discover", discover)
    status, out, _ = await run(capsys, "scan", "--json")
    assert status == 0
    assert [r["name"] for r in json_lines(out)] == ["BatteryOben-00", "JK-BD4A8S-4P"]
    status, out, _ = await run(capsys, "scan")
    assert "C8:47:80:0F:D5:C5   -70 dBm  BatteryOben-00" in out


async def test_address_that_is_not_found(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    monkeypatch.setattr(cli.BleakScanner, "find_device_by_address", nothing)
    status, _, err = await run(capsys, "read", "C8:47:80:00:00:09", "--timeout", "0.1")
    assert status == 1
    assert "C8:47:80:00:00:09 was not found" in err


async def test_address_without_bluetooth(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise BleakError("No Bluetooth adapters found.")

    monkeypatch.setattr(cli.BleakScanner, "find_device_by_address", broken)
    status, _, err = await run(capsys, "monitor", "C8:47:80:00:00:09")
    assert status == 1
    assert "Bluetooth is not available" in err


def test_main_runs_a_command_in_its_own_event_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = cli.main(["emulators"])
    assert status == 0
    listed = json_lines(capsys.readouterr().out)
    assert len(listed) == len(cli.PROFILES) + len(cli.BUS_PROFILES)
    # asyncio.run() leaves no current loop; the test harness expects one.
    asyncio.set_event_loop(asyncio.new_event_loop())


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-1e308"])
@pytest.mark.parametrize("setting", ["balance_trigger_voltage", "cell_count"])
async def test_set_refuses_non_finite_and_absurd_values_before_connecting(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
) -> None:
    def no_connection(_args: Any) -> Any:
        raise AssertionError("connected for a value no device takes")

    monkeypatch.setattr(live, "connected", no_connection)
    # "--": a value starting with "-" is not an option.
    status, out, err = await run(
        capsys, "set", "--emulator", "jk-b2a16s", "--", setting, value
    )
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.endswith("nothing was sent\n")
    assert "Traceback" not in err


def btsnoop_with(tmp_path: Path, captures: Path, damage: str) -> Path:
    """A real log, damaged: one record's length, or the end cut off."""
    data = bytearray(
        (captures / "btsnoop" / "btsnoop_hci_jk-b2a16s_hw30_sw330.log").read_bytes()
    )
    offset = 16
    for _ in range(400):  # the 401st record
        offset += 24 + struct.unpack_from(">I", data, offset + 4)[0]
    if damage == "length":
        struct.pack_into(">I", data, offset + 4, 0xFFFFFFF0)
    else:
        data = data[: offset + 30]
    path = tmp_path / f"{damage}.log"
    path.write_bytes(data)
    return path


async def test_decode_names_a_damaged_btsnoop_record(
    tmp_path: Path, captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await run(
        capsys, "decode", str(btsnoop_with(tmp_path, captures, "length"))
    )
    assert status == 0  # the frames before the damage were read
    assert json_lines(out)
    assert "length.log: record 401 at byte" in err
    assert "damaged header (length 4294967280" in err


async def test_decode_names_a_truncated_btsnoop_log(
    tmp_path: Path, captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await run(
        capsys, "decode", str(btsnoop_with(tmp_path, captures, "end"))
    )
    assert status == 0
    assert json_lines(out)
    assert "end.log: record 401 at byte" in err
    assert "truncated" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no frame found"),
        (b"btsnoop\0\0\0", "truncated: the btsnoop header is cut short"),
        (bytes(range(256)) * 64, "not a hex frame file or btsnoop log"),
        (b"# JK balancer notes\n" + b"nothing to see here\n" * 40, "not a hex"),
    ],
    ids=["empty", "btsnoop header only", "binary junk", "prose"],
)
async def test_decode_a_file_without_frames_fails_and_says_why(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    path = tmp_path / "capture.hex"
    path.write_bytes(content)
    status, out, err = await run(capsys, "decode", str(path))
    assert status == 1
    assert out == ""
    assert message in err
    assert "codec" not in err
    assert err.endswith("capture.hex: no frame found\n")


async def test_decode_prints_frames_as_it_reads_them(
    captures: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first frames are out before the rest of the file is read."""
    recorded = captures / "pdus" / "JK-B2A8S20P-11.17-BLE-JK02_32S.txt"
    frames = load_frames(recorded).frames
    printed_while_reading: list[int] = []

    def streamed(_path: Path) -> Any:
        for number, item in enumerate(frames):
            if number == len(frames) // 2:
                printed_while_reading.append(len(capsys.readouterr().out.splitlines()))
            yield item

    monkeypatch.setattr(decode_files, "read_frames", streamed)
    status, out, _ = await run(capsys, "decode", str(recorded))
    assert status == 0
    assert printed_while_reading[0] > 0
    assert printed_while_reading[0] + len(json_lines(out)) == len(frames)


async def test_read_tells_why_it_is_or_is_not_balancing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = await run(capsys, "read", "--emulator", "jk-b2a16s", "--json")
    assert status == 0
    assert json.loads(out)["balancing_status"] == "balancing"
    status, out, _ = await run(capsys, "read", "--emulator", "jk-b2a16s")
    assert "Balancing status: balancing" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("power_off_voltage", "3.5"), "where LFP cells still hold much of"),
        (("power_off_voltage", "0.15"), "outside 1.2..4.25"),
        (("max_balance_current", "0.15"), "lies between the steps of 0.1"),
        (("balance_start_voltage", "3.8"), "LFP cells never go above 3.6 V"),
        (("cell_count", "12"), "16 cells are connected"),
    ],
)
async def test_set_refuses_what_would_harm(
    capsys: pytest.CaptureFixture[str], args: tuple[str, str], message: str
) -> None:
    status, out, err = await run(capsys, "set", "--emulator", "jk-b2a16s", *args)
    assert status == 2
    assert out == ""
    assert message in err
    assert err.rstrip().endswith("nothing was sent")


async def test_set_after_the_user_says_what_the_pack_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = await run(
        capsys,
        "set",
        "--emulator",
        "jk-b2a16s",
        "--chemistry",
        "ncm",
        "balance_start_voltage",
        "3.8",
    )
    assert (status, out) == (0, "3.8\n")
    status, out, _ = await run(
        capsys, "set", "--emulator", "jk-b2a16s", "--fewer-cells", "cell_count", "12"
    )
    assert (status, out) == (0, "12\n")
