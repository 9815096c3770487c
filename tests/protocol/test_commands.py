"""Command encoding, setting ranges and write confirmation."""

from __future__ import annotations

import math

import pytest

from custom_components.jk_balancer.protocol import (
    FrameError,
    Protocol,
    Request,
    SettingOutOfRangeError,
    encode_request,
    setting_limits,
)
from custom_components.jk_balancer.protocol.ble.commands import (
    encode_command,
    write_command,
)
from custom_components.jk_balancer.protocol.errors import (
    SettingNotSupportedError,
    UnknownSettingError,
)
from custom_components.jk_balancer.protocol.model import (
    CellInfo,
    DeviceFigures,
    DeviceInfo,
    Settings,
)
from custom_components.jk_balancer.protocol.settings import SETTING_SPECS, get_spec
from custom_components.jk_balancer.protocol.writes import (
    held_value,
    is_confirmed,
    prepare_write,
)
from jk_emulator.device_codec import parse_command
from jk_tools.live import check_plausible


def device(vendor: str = "JK-B2A16S") -> DeviceInfo:
    return DeviceInfo(vendor, "1", "1", "", "", "", 0, 0, passcode="1234")


def cells(total: float, protocol: Protocol = Protocol.JK02_32S) -> CellInfo:
    return CellInfo(
        protocol=protocol,
        cell_voltages=(total / 4,) * 4,
        cell_resistances=(0.1,) * 4,
        total_voltage=total,
        average_cell_voltage=total / 4,
        delta_cell_voltage=0.0,
        min_cell_voltage=total / 4,
        max_cell_voltage=total / 4,
        min_voltage_cell=1,
        max_voltage_cell=1,
        balancing=False,
        balancing_current=0.0,
        total_runtime=0,
        wire_resistance_warnings=(),
        device_figures=DeviceFigures(total / 4, 0.0, 1, 1),
    )


def settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "cell_count": 4,
        "balancer_enabled": True,
        "balance_trigger_voltage": 0.005,
        "balance_start_voltage": 3.0,
        "max_balance_current": 2.0,
        "power_off_voltage": 2.5,
        "voltage_calibration": 3.0,
        "battery_capacity": None,
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]


def test_read_requests_match_the_apps() -> None:
    # From the captures: the app's 0x97 and 0x96 with zero padding.
    assert (
        encode_request(Request.DEVICE_INFO).hex()
        == "aa5590eb970000000000000000000000000000" + "11"
    )
    assert (
        encode_request(Request.SETTINGS).hex()
        == "aa5590eb960000000000000000000000000000" + "10"
    )


@pytest.mark.parametrize(
    ("key", "value", "protocol", "wire"),
    [
        # Values and bytes as documented for JK02 devices.
        ("balance_trigger_voltage", 0.003, Protocol.JK02_24S, "060403000000"),
        ("cell_count", 16, Protocol.JK02_24S, "1c0410000000"),
        ("battery_capacity", 310, Protocol.JK02_24S, "2004f0ba0400"),
        ("max_balance_current", 0.3, Protocol.JK02_32S, "13042c010000"),
        ("balance_start_voltage", 4.1, Protocol.JK02_32S, "220404100000"),
        ("balance_start_voltage", 3.0, Protocol.JK02_24S, "2604b80b0000"),
        ("power_off_voltage", 3.4, Protocol.JK02_32S, "0b04480d0000"),
        ("balancer_enabled", False, Protocol.JK02_32S, "1f0400000000"),
        # JK04 takes float32 (app: max current 2.0 A, balancer off).
        ("max_balance_current", 2.0, Protocol.JK04, "680400000040"),
        ("balancer_enabled", False, Protocol.JK04, "6c0100"),
        ("cell_count", 15, Protocol.JK04, "1c020f00"),
        ("balance_trigger_voltage", 0.008, Protocol.JK04, "64046f12033c"),
    ],
)
def test_setting_commands(
    key: str, value: float, protocol: Protocol, wire: str
) -> None:
    command = write_command(
        prepare_write(key, value, protocol, device_info=device("JK-B2A24S"))
    )
    assert len(command) == 20
    assert command.hex().startswith("aa5590eb" + wire)
    assert command[4 + len(wire) // 2 : 19] == bytes(19 - 4 - len(wire) // 2)
    assert command[19] == sum(command[:19]) & 0xFF


def test_calibration_commands() -> None:
    # JK02_32S takes the measured pack voltage in mV.
    write = prepare_write(
        "voltage_calibration", 15.0, Protocol.JK02_32S, cell_info=cells(15.2)
    )
    assert write_command(write).hex().startswith("aa5590eb6404983a0000")
    # JK04 takes its ADC reference, scaled by measured / reported pack voltage.
    write = prepare_write(
        "voltage_calibration",
        13.6,
        Protocol.JK04,
        settings=settings(voltage_calibration=3.0),
        cell_info=cells(13.4, Protocol.JK04),
    )
    register = SETTING_SPECS["voltage_calibration"].registers[Protocol.JK04]
    assert register.decode(write_command(write)[6:10]) == pytest.approx(
        3.0 * 13.6 / 13.4, rel=1e-6
    )


def test_calibration_needs_a_measurement_and_stays_near_it() -> None:
    with pytest.raises(SettingNotSupportedError):
        prepare_write("voltage_calibration", 13.4, Protocol.JK04)
    with pytest.raises(SettingNotSupportedError):
        prepare_write(
            "voltage_calibration",
            13.4,
            Protocol.JK04,
            cell_info=cells(13.4, Protocol.JK04),
        )
    # A typo (5.36 for 53.6) is far from what the device measures.
    with pytest.raises(SettingOutOfRangeError) as caught:
        prepare_write(
            "voltage_calibration", 5.36, Protocol.JK02_24S, cell_info=cells(53.6)
        )
    assert caught.value.placeholders["min"] == "48.24"
    assert caught.value.placeholders["max"] == "58.96"


def test_out_of_range_values_raise_with_the_range() -> None:
    with pytest.raises(SettingOutOfRangeError) as caught:
        prepare_write("balance_trigger_voltage", 2.0, Protocol.JK02_24S)
    error = caught.value
    # Placeholders are for people: in the unit they see (the trigger in mV).
    assert error.placeholders == {
        "setting": "balance_trigger_voltage",
        "value": "2000",
        "min": "3",
        "max": "1000",
        "unit": "mV",
    }
    assert str(error) == (
        "balance_trigger_voltage 2 V is outside 0.003..1 V; nothing was sent"
    )
    with pytest.raises(SettingOutOfRangeError):
        prepare_write("cell_count", 15.5, Protocol.JK04)
    with pytest.raises(SettingOutOfRangeError):
        prepare_write("cell_count", 1, Protocol.JK04)


def test_limits_follow_the_model() -> None:
    balance = get_spec("max_balance_current")
    assert setting_limits(balance, Protocol.JK04, device("JK-B5A24S")).maximum == 5.0
    assert (
        setting_limits(balance, Protocol.JK02_24S, device("JK-BD6A17S6P")).maximum
        == 0.6
    )
    assert setting_limits(balance, Protocol.JK04, device("BMS")).maximum == 5.0
    with pytest.raises(SettingOutOfRangeError):
        prepare_write(
            "max_balance_current",
            1.0,
            Protocol.JK02_24S,
            device_info=device("JK-BD6A17S6P"),
        )
    count = get_spec("cell_count")
    assert setting_limits(count, Protocol.JK04, device("JK-B2A4S")).maximum == 4
    assert setting_limits(count, Protocol.JK02_32S).maximum == 32


def test_values_snap_to_the_settings_resolution() -> None:
    write = prepare_write("balance_trigger_voltage", 0.0050004, Protocol.JK02_24S)
    assert write.value == 0.005
    assert write_command(write)[6:10] == (5).to_bytes(4, "little")


def test_unknown_and_unsupported_settings() -> None:
    with pytest.raises(UnknownSettingError):
        get_spec("charge_current")
    with pytest.raises(SettingNotSupportedError):
        prepare_write("battery_capacity", 100, Protocol.JK04)
    assert not get_spec("battery_capacity").supported(Protocol.JK04)


def test_confirmation_compares_the_held_value() -> None:
    write = prepare_write("balance_trigger_voltage", 0.01, Protocol.JK02_24S)
    spec = write.spec
    assert is_confirmed(
        write, held_value(spec, settings(balance_trigger_voltage=0.01), None)
    )
    assert not is_confirmed(
        write, held_value(spec, settings(balance_trigger_voltage=0.005), None)
    )
    assert not is_confirmed(write, None)
    calibration = prepare_write(
        "voltage_calibration", 53.0, Protocol.JK02_24S, cell_info=cells(52.0)
    )
    assert held_value(calibration.spec, settings(), None) is None
    assert is_confirmed(
        calibration, held_value(calibration.spec, settings(), cells(53.2))
    )
    assert not is_confirmed(
        calibration, held_value(calibration.spec, settings(), cells(52.0))
    )


def test_parse_command_validates_like_a_device() -> None:
    command = encode_command(0x1C, b"\x10\x00")
    parsed = parse_command(command)
    assert (parsed.command, parsed.value) == (0x1C, b"\x10\x00")
    with pytest.raises(FrameError):
        parse_command(command[:19])
    with pytest.raises(FrameError):
        parse_command(command[:-1] + bytes([command[-1] ^ 1]))
    with pytest.raises(FrameError):
        parse_command(b"\x00" + command[1:])
    bad_length = bytearray(command)
    bad_length[5] = 14
    bad_length[-1] = sum(bad_length[:-1]) & 0xFF
    with pytest.raises(FrameError):
        parse_command(bytes(bad_length))
    with pytest.raises(ValueError, match="out of range"):
        encode_command(0x100)
    with pytest.raises(ValueError, match="out of range"):
        encode_command(0x01, bytes(14))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, -1e308])
@pytest.mark.parametrize("key", sorted(SETTING_SPECS))
def test_non_finite_and_absurd_values_are_refused(key: str, value: float) -> None:
    """Refused with the range, before any arithmetic that could fail on them."""
    protocol = Protocol.JK02_32S if key == "battery_capacity" else Protocol.JK04
    with pytest.raises(SettingOutOfRangeError) as caught:
        prepare_write(
            key,
            value,
            protocol,
            device_info=device(),
            settings=settings(),
            cell_info=cells(13.4, protocol),
        )
    assert "nothing was sent" in str(caught.value)
    assert caught.value.placeholders["value"] in {"nan", "inf", "-inf", "1e+308"} or (
        caught.value.placeholders["value"].endswith("e+308")
    )
    with pytest.raises(SettingOutOfRangeError):
        check_plausible(SETTING_SPECS[key], value)
