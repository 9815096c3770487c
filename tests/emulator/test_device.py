"""The virtual balancer: its frames, its balancing behaviour and its checks."""

from __future__ import annotations

from collections.abc import Callable
import struct

import pytest

from custom_components.jk_balancer.protocol import (
    BLUETOOTH_PROTOCOLS,
    WIRE_RESISTANCE_LIMIT,
    BluetoothClient,
    Protocol,
    Snapshot,
)
from custom_components.jk_balancer.protocol.ble.commands import (
    encode_command,
)
from jk_emulator import BUS_PROFILES, PROFILES, BluetoothBalancer
from jk_emulator.battery import OCV_CURVES, open_circuit_voltage
from jk_emulator.ble import ADVERTISED_MANUFACTURER_ID, TRAILER
from tests.conftest import wait_for

Make = Callable[..., BluetoothBalancer]
Connect = Callable[..., BluetoothClient]


def true_delta(device: BluetoothBalancer) -> float:
    voltages = device.battery.true_voltages()[: device.settings.cell_count]
    return max(voltages) - min(voltages)


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_frames_decode_to_the_state_the_emulator_holds(
    make_device: Make, connect: Connect, profile: str
) -> None:
    device = make_device(profile, speed=600)
    client = connect(device)
    await client.read()
    snapshots: list[Snapshot] = []
    client.add_listener(snapshots.append)
    await wait_for(lambda: len(snapshots) >= 2)
    snapshot = snapshots[-1]
    measured = device.last_measurement
    assert measured is not None
    # JK02 carries mV, JK04 float32: both well within half a millivolt.
    assert snapshot.cell_info.cell_voltages == pytest.approx(
        measured.cell_voltages, abs=5e-4
    )
    assert snapshot.cell_info.cell_resistances == pytest.approx(
        measured.cell_resistances, abs=5e-4
    )
    assert snapshot.cell_info.balancing is measured.balancing
    assert snapshot.cell_info.balancing_current == pytest.approx(
        measured.balancing_current
    )
    settings = snapshot.settings
    assert settings.cell_count == device.settings.cell_count
    assert settings.balancer_enabled is device.settings.balancer_enabled
    assert settings.balance_trigger_voltage == pytest.approx(
        device.settings.balance_trigger_voltage
    )
    assert settings.balance_start_voltage == pytest.approx(
        device.settings.balance_start_voltage
    )
    assert settings.max_balance_current == pytest.approx(
        device.settings.max_balance_current
    )
    assert settings.power_off_voltage == pytest.approx(
        device.settings.power_off_voltage
    )
    if device.protocol.is_jk02:
        assert snapshot.cell_info.current == pytest.approx(
            measured.pack_current, abs=1e-3
        )
        assert settings.battery_capacity == pytest.approx(
            device.settings.battery_capacity
        )
    else:
        assert settings.voltage_calibration == pytest.approx(
            device.settings.voltage_calibration
        )
    info = snapshot.device_info
    assert (info.vendor_id, info.software_version) == (
        device.profile.vendor_id,
        device.profile.software_version,
    )
    assert info.passcode == device.passcode


def test_balancing_moves_charge_until_below_the_trigger(make_device: Make) -> None:
    device = make_device("jk-b2a16s")
    start = true_delta(device)
    assert start > device.settings.balance_trigger_voltage
    device.advance(600)
    assert device.battery.balancing
    assert 0 < true_delta(device) < start
    device.advance(48 * 3600)
    assert not device.battery.balancing
    assert true_delta(device) < device.settings.balance_trigger_voltage
    # The manuals: after balancing the cells are within 5 mV.
    assert true_delta(device) < 0.005


def test_nothing_balances_with_the_balancer_off(make_device: Make) -> None:
    device = make_device("jk-b2a16s")
    device.change_settings(balancer_enabled=False)
    start = true_delta(device)
    device.advance(3600)
    assert not device.battery.balancing
    assert true_delta(device) == pytest.approx(start, abs=1e-6)


def test_nothing_balances_below_the_start_voltage(make_device: Make) -> None:
    device = make_device("jk-b2a16s")
    device.change_settings(balance_start_voltage=3.6)
    start = true_delta(device)
    device.advance(3600)
    assert not device.battery.balancing
    assert true_delta(device) == pytest.approx(start, abs=1e-6)


@pytest.mark.parametrize("profile", ["jk-b2a16s", "jk-b2a24s20p"])
async def test_a_high_wire_resistance_blocks_balancing_and_is_reported(
    make_device: Make, connect: Connect, profile: str
) -> None:
    device = make_device(profile, high_resistance_cell=3)
    start = true_delta(device)
    device.advance(3600)
    assert not device.battery.balancing
    assert true_delta(device) == pytest.approx(start, abs=1e-6)
    snapshot = await connect(device).read()
    assert snapshot.cell_info.wire_resistance_warnings == (3,)
    assert snapshot.cell_info.cell_resistances[2] > WIRE_RESISTANCE_LIMIT
    if device.protocol.is_jk02:
        assert "wire_resistance" in snapshot.cell_info.errors


def test_a_drifting_cell_falls_behind(make_device: Make) -> None:
    device = make_device("jk-b2a16s", drifting_cell=5, drift_current=1.0)
    device.change_settings(balancer_enabled=False)
    before = device.battery.true_voltages()
    device.advance(10 * 3600)
    after = device.battery.true_voltages()
    drops = [b - a for b, a in zip(before, after, strict=True)]
    assert drops[4] > 0.01
    assert max(drops[:4] + drops[5:]) < 1e-9


@pytest.mark.parametrize("profile", ["jk-b5a24s", "jk-b2a24s20p"])
async def test_cell_count_above_the_wiring(
    make_device: Make, connect: Connect, profile: str
) -> None:
    wired = 16
    device = make_device(profile, cells=wired)
    client = connect(device)
    assert (await client.read()).cell_info.cell_count == wired
    await client.write_setting("cell_count", wired + 1)
    # The extra tap reads nothing, and balancing refuses to run.
    device.advance(600)
    assert not device.battery.balancing
    snapshots: list[Snapshot] = []
    client.add_listener(snapshots.append)
    await wait_for(lambda: bool(snapshots))
    assert snapshots[0].settings.cell_count == wired + 1
    assert snapshots[0].cell_info.cell_count == wired
    if device.protocol.is_jk02:
        assert "cell_count_mismatch" in snapshots[0].cell_info.errors


async def test_device_checks_writes_against_its_ranges(
    make_device: Make, connect: Connect
) -> None:
    device = make_device("jk-b2a16s")
    client = connect(device)
    await client.read()
    register = 0x68  # max balance current, float32
    link = device.link
    assert link is not None
    device.receive(link, encode_command(register, struct.pack("<f", 9.0)))  # > 2 A
    device.receive(link, encode_command(0x7F, b"\x01"))  # unknown register
    device.receive(link, b"\x00" * 20)  # not a command
    assert device.writes == []
    assert device.settings.max_balance_current == 2.0
    device.receive(link, encode_command(register, struct.pack("<f", 1.5)))
    assert device.writes == [("max_balance_current", 1.5)]


async def test_trailer_makes_320_byte_frames(
    make_device: Make, connect: Connect
) -> None:
    device = make_device("jk-bd6a17s6p")
    chunks: list[bytes] = []
    client = connect(device)
    await client.read()
    link = device.link
    assert link is not None
    original = link.notify
    link.notify = lambda chunk: (chunks.append(chunk), original(chunk))[1]
    device.receive(link, encode_command(0x96))
    await wait_for(lambda: len(chunks) >= 16)
    assert chunks[15] == TRAILER
    assert sum(len(chunk) for chunk in chunks[:16]) == 320


def test_advertisement_carries_the_jk_manufacturer_data(make_device: Make) -> None:
    device = make_device("jk-b2a4s", name="Battery-01")
    advertisement = device.advertisement()
    assert advertisement["local_name"] == "Battery-01"
    data = advertisement["manufacturer_data"][ADVERTISED_MANUFACTURER_ID]
    assert data[:2] == b"\x88\xa0"
    assert data[2:].hex(":").upper() == device.address
    assert advertisement["service_uuids"] == ["0000ffe0-0000-1000-8000-00805f9b34fb"]


def test_reboot_resets_uptime_and_counts_power_ons(make_device: Make) -> None:
    clock = [1000.0]
    device = make_device(clock=lambda: clock[0])
    clock[0] += 3600
    before = device.device_info()
    device.reboot(downtime=5)
    assert not device.available
    clock[0] += 10
    after = device.device_info()
    assert device.available
    assert after.power_on_count == before.power_on_count + 1
    assert after.uptime == 5
    assert before.uptime > 3600


def test_protocol_of_each_profile() -> None:
    protocols = {profile.protocol for profile in PROFILES.values()}
    assert protocols == set(BLUETOOTH_PROTOCOLS)
    assert {profile.protocol for profile in BUS_PROFILES.values()} == {
        Protocol.DZ_RS485
    }
    assert PROFILES["jk-b2a4s"].cells == 4


@pytest.mark.parametrize("chemistry", list(OCV_CURVES))
def test_open_circuit_voltage_rises_with_charge(chemistry: str) -> None:
    voltages = [open_circuit_voltage(chemistry, soc / 100) for soc in range(101)]
    assert voltages == sorted(voltages)
    assert open_circuit_voltage(chemistry, -1) == voltages[0]
    assert open_circuit_voltage(chemistry, 2) == voltages[-1]


async def test_a_long_stream_holds_only_its_next_timer(
    make_device: Make, connect: Connect
) -> None:
    """Fired timers are forgotten: a day-long soak must not grow the device."""
    device = make_device()
    client = connect(device)
    await client.read()
    snapshots: list[Snapshot] = []
    client.add_listener(snapshots.append)
    await wait_for(lambda: len(snapshots) >= 20)
    assert device.link is not None
    assert len(device.link.timers) == 1
