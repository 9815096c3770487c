"""RS485: the real DZ-series capture, damaged replies, a shared bus, writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
import os
from pathlib import Path

import pytest

from custom_components.jk_balancer.protocol import (
    BalancingStatus,
    FrameError,
    LinkClosedError,
    PortError,
    Protocol,
    Rs485Client,
    Rs485Port,
    SettingOutOfRangeError,
    UnsafeSettingError,
    WriteNotConfirmedError,
    balancing_status,
    decode_rs485_reply,
    encode_rs485_request,
)
from custom_components.jk_balancer.protocol.checksum import checksum
from custom_components.jk_balancer.protocol.errors import (
    DeviceTimeoutError,
    ImplausibleFrameError,
    SettingNotSupportedError,
)
from custom_components.jk_balancer.protocol.rs485.codec import REPLY
from jk_emulator import VirtualBus
from jk_emulator.device_codec import encode_rs485_reply, parse_rs485_request
from jk_emulator.rs485_bus import reply_values
from jk_tools.captures import read_rs485
from tests.conftest import bus_unit, wait_for

CAPTURE = "rs485/JK-B1A24S_dz-series_rs485_17cells.txt"


def recorded(captures: Path) -> tuple[list[bytes], list[bytes]]:
    """The capture's requests and replies."""
    lines = list(read_rs485(captures / CAPTURE))
    requests = [line.data for line in lines if not line.is_reply]  # type: ignore[union-attr]
    replies = [line.data for line in lines if line.is_reply]  # type: ignore[union-attr]
    return requests, replies


def resealed(raw: bytes | bytearray) -> bytes:
    """A reply with its checksum made to hold again."""
    data = bytearray(raw)
    data[-1] = checksum(data[:-1])
    return bytes(data)


@pytest.fixture
async def bus(virtual_bus: VirtualBus) -> AsyncIterator[Rs485Port]:
    """The port of the virtual bus, closed afterwards."""
    port = Rs485Port(virtual_bus.path, reply_timeout=0.2)
    yield port
    await port.close()


def test_the_real_reply_reads_as_the_device_showed(captures: Path) -> None:
    requests, replies = recorded(captures)
    assert requests[0] == encode_rs485_request(1) == bytes.fromhex("55aa01ff0000ff")
    snapshot = decode_rs485_reply(replies[0], 1)
    cells, settings = snapshot.cell_info, snapshot.settings
    assert snapshot.protocol is Protocol.DZ_RS485
    assert cells.total_voltage == 56.49
    assert cells.cell_count == 17 == settings.cell_count
    assert cells.cell_voltages[0] == 3.321
    assert cells.average_cell_voltage == 3.323
    assert cells.delta_cell_voltage == 0.003
    assert cells.balancing_current == 0.0
    assert not cells.balancing
    assert cells.temperature_sensor_1 == 16.3
    assert cells.errors == ("cell_count_mismatch",)
    assert settings.balance_trigger_voltage == 0.011
    assert settings.max_balance_current == 2.0
    assert settings.balancer_enabled
    # What the reply does not carry is unknown, not zero.
    assert settings.balance_start_voltage is None
    assert settings.power_off_voltage is None
    assert cells.total_runtime is None
    # The device names cell 15 as the highest; by the cells it is cell 6 (the
    # first of three at 3.324 V): its figure lags, the cells are what is shown.
    assert cells.device_figures.max_voltage_cell == 15
    assert cells.max_voltage_cell == 6
    # The device itself says the cell count is wrong: a status, not a guess.
    assert balancing_status(snapshot) is BalancingStatus.CELL_COUNT_MISMATCH


def test_damaged_or_foreign_replies_are_refused(captures: Path) -> None:
    reply = recorded(captures)[1][0]
    with pytest.raises(FrameError, match="checksum"):
        decode_rs485_reply(reply[:-1] + bytes((reply[-1] ^ 1,)))
    with pytest.raises(FrameError, match="74"):
        decode_rs485_reply(reply[:60])
    with pytest.raises(FrameError, match="address 1, not 2"):
        decode_rs485_reply(reply, 2)
    # A Bluetooth frame is not a reply.
    with pytest.raises(FrameError):
        decode_rs485_reply(b"\x55\xaa\xeb\x90" + reply[4:])


@pytest.mark.parametrize(
    ("offset", "value", "field"),
    [
        # A detected cell at 0 V: the cell count and the cells disagree.
        (23, b"\x00\x00", "cell_voltages"),
        # An average 0.5 V off the cells.
        (6, (3823).to_bytes(2, "big"), "average_cell_voltage"),
        # A pack voltage far from the sum of its cells.
        (4, (8000).to_bytes(2, "big"), "total_voltage"),
        # More cells detected than a DZ balancer has taps.
        (8, b"\x19", "cells_detected"),
    ],
)
def test_impossible_values_are_refused_even_with_a_good_checksum(
    captures: Path, offset: int, value: bytes, field: str
) -> None:
    reply = bytearray(recorded(captures)[1][0])
    reply[offset : offset + len(value)] = value
    with pytest.raises(ImplausibleFrameError) as caught:
        decode_rs485_reply(resealed(reply))
    assert caught.value.placeholders["field"] == field


def test_a_reply_without_cells_is_a_fault_to_show(captures: Path) -> None:
    reply = bytearray(recorded(captures)[1][0])
    reply[8] = 0  # no cell detected: balance leads unplugged
    snapshot = decode_rs485_reply(resealed(reply))
    assert snapshot.cell_info.cell_voltages == ()
    assert snapshot.cell_info.min_cell_voltage is None
    assert balancing_status(snapshot) is BalancingStatus.NO_CELLS


def test_a_missing_temperature_probe_does_not_void_the_reply(captures: Path) -> None:
    reply = bytearray(recorded(captures)[1][0])
    reply[71:73] = (-2000).to_bytes(2, "big", signed=True)
    snapshot = decode_rs485_reply(resealed(reply))
    assert snapshot.cell_info.temperature_sensor_1 is None
    assert snapshot.cell_info.cell_count == 17


def test_the_virtual_balancer_encodes_what_the_decoder_reads() -> None:
    unit = bus_unit(3)
    values = reply_values(unit)
    snapshot = decode_rs485_reply(encode_rs485_reply(3, values), 3)
    assert list(snapshot.cell_info.cell_voltages) == values["cell_voltages"]
    assert snapshot.settings == unit.settings
    assert REPLY.length == 74


def test_requests_are_checked_like_the_device_does() -> None:
    request = encode_rs485_request(2, 0xF2, (8).to_bytes(2, "big"))
    assert parse_rs485_request(request) == (2, 0xF2, b"\x00\x08")
    with pytest.raises(FrameError):
        parse_rs485_request(request[:-1] + b"\x00")


async def test_two_balancers_share_the_bus(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    first, second = Rs485Client(bus, 1), Rs485Client(bus, 2)
    one, two = await first.read(), await second.read()
    assert one.cell_info.cell_voltages != two.cell_info.cell_voltages
    assert one.cell_info.cell_count == two.cell_info.cell_count == 16
    # Nobody answers at an address without a balancer.
    with pytest.raises(DeviceTimeoutError):
        await Rs485Client(bus, 9).read()


async def test_a_write_is_confirmed_and_leaves_the_neighbour_alone(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    first, second = Rs485Client(bus, 1), Rs485Client(bus, 2)
    await first.read()
    before = await second.read()
    settings = await first.write_setting("balance_trigger_voltage", 0.007)
    assert settings.balance_trigger_voltage == 0.007
    assert virtual_bus.units[1].settings.balance_trigger_voltage == 0.007
    assert (await second.read()).settings == before.settings
    await first.write_setting("balancer_enabled", False)
    assert not virtual_bus.units[1].settings.balancer_enabled
    assert virtual_bus.units[2].settings.balancer_enabled


async def test_refused_writes_send_nothing(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    client = Rs485Client(bus, 1)
    await client.read()
    sent = len(virtual_bus.received)
    with pytest.raises(SettingOutOfRangeError):
        await client.write_setting("max_balance_current", 2.5)
    with pytest.raises(SettingOutOfRangeError):
        await client.write_setting("balance_trigger_voltage", float("nan"))
    with pytest.raises(UnsafeSettingError):
        await client.write_setting("cell_count", 12)
    # Over RS485 there is no start or power-off voltage to write.
    with pytest.raises(SettingNotSupportedError):
        await client.write_setting("power_off_voltage", 2.5)
    assert len(virtual_bus.received) == sent


async def test_a_write_the_device_ignores_is_reported(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    virtual_bus.units[2].refuse_writes()
    client = Rs485Client(bus, 2)
    await client.read()
    with pytest.raises(WriteNotConfirmedError) as caught:
        await client.write_setting("max_balance_current", 1.0)
    assert caught.value.placeholders["held"] == "2"


async def test_silence_then_recovery(virtual_bus: VirtualBus, bus: Rs485Port) -> None:
    client = Rs485Client(bus, 1)
    await client.read()
    virtual_bus.go_silent(60)
    with pytest.raises(DeviceTimeoutError):
        await client.read()
    virtual_bus.speak_again()
    assert (await client.read()).cell_info.cell_count == 16


async def test_corrupted_replies_are_never_taken(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    virtual_bus.corrupt_replies(1.0)
    with pytest.raises(DeviceTimeoutError):
        await Rs485Client(bus, 1).read()
    assert bus.corrupt_replies >= 2  # the first attempt and the retry
    virtual_bus.corrupt_replies(0.0)
    await Rs485Client(bus, 1).read()


async def test_a_second_master_on_the_line_does_not_confuse_the_client(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    virtual_bus.second_master(0.02)
    client = Rs485Client(bus, 2)
    readings = [await client.read() for _ in range(20)]
    assert all(reading.cell_info.cell_count == 16 for reading in readings)
    assert virtual_bus.collisions > 0
    virtual_bus.second_master(None)


async def test_a_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    bus = Rs485Port(os.fspath(tmp_path / "ttyUSB9"))
    with pytest.raises(PortError) as caught:
        await Rs485Client(bus, 1).read()
    assert caught.value.translation_key == "port_unavailable"
    assert caught.value.placeholders["port"].endswith("ttyUSB9")


async def test_a_port_that_goes_away_is_opened_again_by_the_next_request(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    client = Rs485Client(bus, 1)
    await client.read()
    # As when the adapter drops out: the transport ends under the port.
    transport = bus._transport
    assert transport is not None
    transport.close()
    await wait_for(lambda: not bus.is_open)
    await client.read()
    assert bus.is_open


async def test_a_closed_port_opens_nothing_again(
    virtual_bus: VirtualBus, bus: Rs485Port
) -> None:
    client = Rs485Client(bus, 1)
    await client.read()
    await bus.close()
    with pytest.raises(LinkClosedError):
        await client.read()
    assert not bus.is_open
    sent = len(virtual_bus.received)
    with pytest.raises(LinkClosedError):
        await client.write_setting("balance_trigger_voltage", 0.007)
    assert len(virtual_bus.received) == sent
