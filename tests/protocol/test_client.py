"""The async client against the virtual balancer, including faults."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from unittest.mock import Mock

import bleak_retry_connector
import pytest

from custom_components.jk_balancer.protocol import (
    BluetoothClient,
    DeviceConnectionError,
    LayoutMismatchError,
    Protocol,
    SettingOutOfRangeError,
    Snapshot,
    UnsupportedDeviceError,
    WriteNotConfirmedError,
)
from custom_components.jk_balancer.protocol.errors import (
    DeviceTimeoutError,
    NotConnectedError,
)
from jk_emulator import (
    PROFILES,
    BluetoothBalancer,
    VirtualRadio,
    ble as ble_module,
    radio as radio_module,
)
from tests.conftest import wait_for

Make = Callable[..., BluetoothBalancer]
Connect = Callable[..., BluetoothClient]


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_handshake_gives_a_complete_snapshot(
    make_device: Make, connect: Connect, profile: str
) -> None:
    device = make_device(profile)
    client = connect(device)
    snapshot = await client.read()
    assert client.is_connected
    assert snapshot.protocol is PROFILES[profile].protocol
    assert snapshot.device_info.vendor_id == PROFILES[profile].vendor_id
    assert snapshot.settings.cell_count == PROFILES[profile].cells
    assert snapshot.cell_info.cell_count == PROFILES[profile].cells
    # The app's handshake: device info first, then settings.
    assert [command[4] for command in device.received[:2]] == [0x97, 0x96]
    assert client.cell_info_age is not None


async def test_password_is_checked_against_the_device(
    make_device: Make, connect: Connect
) -> None:
    device = make_device(passcode="8642")
    client = connect(device)
    with pytest.raises(NotConnectedError):
        client.verify_password("8642")
    await client.read()
    assert client.verify_password("8642")
    assert not client.verify_password("1234")
    assert not client.verify_password("")


async def test_stream_reaches_listeners_until_removed(
    make_device: Make, connect: Connect
) -> None:
    client = connect(make_device())
    await client.read()
    received: list[Snapshot] = []
    remove = client.add_listener(received.append)
    await wait_for(lambda: len(received) >= 3)
    remove()
    count = len(received)
    await asyncio.sleep(0.05)
    assert len(received) == count


async def test_a_failing_listener_does_not_stop_the_stream(
    make_device: Make, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(make_device())
    await client.read()
    logger = Mock()
    # The test harness fails on any logged exception; here the log is the point.
    monkeypatch.setattr(
        "custom_components.jk_balancer.protocol.ble.receiver._LOGGER", logger
    )

    def broken(_snapshot: Snapshot) -> None:
        raise RuntimeError("listener bug")

    received: list[Snapshot] = []
    client.add_listener(broken)
    client.add_listener(received.append)
    await wait_for(lambda: len(received) >= 2)
    assert logger.exception.call_count >= 2


async def test_write_is_confirmed_by_read_back(
    make_device: Make, connect: Connect
) -> None:
    device = make_device("jk-b2a24s20p")
    client = connect(device)
    await client.read()
    settings = await client.write_setting("balance_trigger_voltage", 0.012)
    assert settings.balance_trigger_voltage == 0.012
    assert device.settings.balance_trigger_voltage == pytest.approx(0.012)
    assert client.snapshot is not None
    assert client.snapshot.settings.balance_trigger_voltage == 0.012
    settings = await client.write_setting("balancer_enabled", False)
    assert settings.balancer_enabled is False
    assert device.settings.balancer_enabled is False
    settings = await client.write_setting("battery_capacity", 280)
    assert settings.battery_capacity == 280


@pytest.mark.parametrize("profile", ["jk-b2a16s", "jk-b2a24s20p", "jk-pb2a16s20p"])
async def test_every_setting_can_be_written(
    make_device: Make, connect: Connect, profile: str
) -> None:
    device = make_device(profile)
    client = connect(device)
    snapshot = await client.read()
    new_values = {
        "balancer_enabled": False,
        "balance_trigger_voltage": 0.01,
        "balance_start_voltage": 3.2,
        "max_balance_current": 1.5,
        "cell_count": PROFILES[profile].cells - 1,
        "power_off_voltage": 2.8,
        "battery_capacity": 200,
    }
    for key, value in new_values.items():
        if key == "battery_capacity" and not snapshot.protocol.is_jk02:
            continue
        # One cell fewer than are connected: only as after rewiring, confirmed.
        settings = await client.write_setting(
            key, value, fewer_cells_confirmed=key == "cell_count"
        )
        assert float(getattr(settings, key)) == pytest.approx(float(value))
    assert [key for key, _ in device.writes] == [
        key
        for key in new_values
        if key != "battery_capacity" or snapshot.protocol.is_jk02
    ]


@pytest.mark.parametrize("profile", ["jk-b2a4s", "jk-b2a24s20p", "jk-pb2a16s20p"])
async def test_voltage_calibration_is_confirmed_by_the_pack_voltage(
    make_device: Make, connect: Connect, profile: str
) -> None:
    client = connect(make_device(profile))
    snapshot = await client.read()
    target = round(snapshot.cell_info.total_voltage * 1.02, 2)
    await client.write_setting("voltage_calibration", target)
    assert client.snapshot is not None
    assert client.snapshot.cell_info.total_voltage == pytest.approx(target, rel=0.005)


async def test_out_of_range_value_sends_nothing(
    make_device: Make, connect: Connect
) -> None:
    device = make_device()
    client = connect(device)
    await client.read()
    before = list(device.received)
    with pytest.raises(SettingOutOfRangeError):
        await client.write_setting("max_balance_current", 3.0)  # JK-B2A16S: 2 A
    assert device.received == before
    assert device.settings.max_balance_current == 2.0


async def test_a_write_the_device_does_not_take_is_an_error(
    make_device: Make, connect: Connect
) -> None:
    device = make_device()
    device.refuse_writes()
    client = connect(device)
    await client.read()
    with pytest.raises(WriteNotConfirmedError) as caught:
        await client.write_setting("balance_trigger_voltage", 0.02)
    assert caught.value.placeholders == {
        "name": "JK-B2A16S",
        "setting": "balance_trigger_voltage",
        "value": "20",
        "held": "5",
        "unit": "mV",
    }
    # The client shows the device's true value afterwards.
    assert client.snapshot is not None
    assert client.snapshot.settings.balance_trigger_voltage == 0.005


async def test_write_needs_a_connection(make_device: Make, connect: Connect) -> None:
    client = connect(make_device())
    with pytest.raises(NotConnectedError):
        await client.write_setting("balancer_enabled", False)


async def test_link_lost_mid_frame_during_a_write(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    device = make_device()
    client = connect(device)
    await client.read()
    lost = asyncio.Event()
    client.add_disconnect_listener(lost.set)
    device.drop_link(mid_frame=True)
    with pytest.raises(NotConnectedError):
        await client.write_setting("balance_trigger_voltage", 0.01)
    assert lost.is_set()
    assert not client.is_connected
    assert not radio.connections
    # A partial frame from the lost link never completes into a new one.
    snapshot = await client.read()
    assert snapshot.settings.balance_trigger_voltage in (0.005, 0.01)
    assert client.stats.bad_checksum == 0


async def test_link_lost_during_the_handshake_leaves_nothing_behind(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    device = make_device()
    device.drop_link(mid_frame=True)
    client = connect(device)
    tasks_before = asyncio.all_tasks()
    with pytest.raises(NotConnectedError):
        await client.read()
    assert not radio.connections
    assert device.link is None
    assert asyncio.all_tasks() == tasks_before
    await client.read()
    assert client.is_connected


async def test_silent_device_times_out_and_is_disconnected(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    device = make_device()
    device.go_silent(60)
    client = connect(device)
    with pytest.raises(DeviceTimeoutError, match="device_info"):
        await client.read()
    assert not radio.connections


async def test_corrupt_frames_are_dropped_and_counted(
    make_device: Make, connect: Connect
) -> None:
    device = make_device()
    client = connect(device)
    await client.read()
    device.corrupt_frames(1.0)
    received: list[Snapshot] = []
    client.add_listener(received.append)
    await wait_for(lambda: client.stats.bad_checksum >= 3)
    assert received == []
    device.corrupt_frames(0.0)
    await wait_for(lambda: len(received) >= 1)


async def test_garbage_in_the_stream_is_ignored(
    make_device: Make, connect: Connect
) -> None:
    device = make_device()
    client = connect(device)
    await client.read()
    device.send_garbage(200)
    received: list[Snapshot] = []
    client.add_listener(received.append)
    await wait_for(lambda: len(received) >= 2)
    assert client.stats.discarded_bytes > 0


async def test_reboot_drops_the_link_and_retries_bridge_it(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    device = make_device()
    client = connect(device)
    first = await client.read()
    lost = asyncio.Event()
    client.add_disconnect_listener(lost.set)
    device.reboot(downtime=0.05)
    assert lost.is_set()
    assert not device.available
    attempts = radio.connection_attempts
    second = await client.read()
    assert radio.connection_attempts > attempts + 1  # refused while rebooting
    assert second.device_info.power_on_count == first.device_info.power_on_count + 1


async def test_device_switched_off_while_connected(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    device = make_device()
    client = connect(device)
    await client.read()
    device.set_powered(False)
    assert not client.is_connected
    assert not radio.connections
    with pytest.raises(NotConnectedError):
        await client.request_settings()


async def test_connection_failure_is_a_device_connection_error(
    make_device: Make, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*_args: object, **_kwargs: object) -> None:
        raise bleak_retry_connector.BleakNotFoundError("device not found")

    monkeypatch.setattr(bleak_retry_connector, "establish_connection", unreachable)
    client = connect(make_device())
    with pytest.raises(DeviceConnectionError, match="JK-B2A16S: not found"):
        await client.read()


@pytest.mark.parametrize(
    ("profile", "chosen", "fits"),
    [
        ("jk-b2a16s", Protocol.JK02_24S, Protocol.JK04),
        ("jk-pb2a16s20p", Protocol.JK02_24S, Protocol.JK02_32S),
        ("jk-b2a24s20p", Protocol.JK02_32S, Protocol.JK02_24S),
    ],
)
async def test_a_chosen_layout_the_frames_do_not_fit_names_the_one_they_fit(
    make_device: Make,
    connect: Connect,
    profile: str,
    chosen: Protocol,
    fits: Protocol,
) -> None:
    """Nothing decoded with the wrong layout passes; the right one is named."""
    client = connect(make_device(profile), protocol=chosen)
    with pytest.raises(LayoutMismatchError) as caught:
        await client.read()
    assert caught.value.placeholders["layout"] == chosen.value
    assert caught.value.placeholders["fits"] == fits.value
    assert client.snapshot is None
    assert not client.is_connected
    assert client.rejected_frames > 0


async def test_device_without_the_jk_service(
    make_device: Make, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = radio_module.BleakGATTServiceCollection
    monkeypatch.setattr(radio_module, "_build_services", lambda _two: empty())
    client = connect(make_device())
    with pytest.raises(UnsupportedDeviceError, match="FFE0"):
        await client.read()
    assert not client.is_connected


async def test_stream_started_by_a_second_settings_request(
    make_device: Make, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some firmware streams only after a repeated 0x96."""
    device = make_device()
    original = BluetoothBalancer.receive
    settings_requests = 0

    def receive(self: BluetoothBalancer, link: ble_module.Link, data: bytes) -> None:
        nonlocal settings_requests
        if data[4] == 0x96:
            settings_requests += 1
            if settings_requests == 1:
                link.requested.discard(0x96)
                self._answer(link, ble_module.SETTINGS_DELAY, self._settings_frame)
                return
        original(self, link, data)

    monkeypatch.setattr(BluetoothBalancer, "receive", receive)
    client = connect(device, stream_timeout=0.1)
    snapshot = await client.read()
    assert settings_requests == 2
    assert snapshot.cell_info.cell_count == 16


async def test_connect_twice_reuses_the_link(
    make_device: Make, connect: Connect
) -> None:
    device = make_device()
    client = connect(device)
    first = await client.read()
    second = await client.read()
    assert second.device_info == first.device_info
    assert [command[4] for command in device.received].count(0x97) == 1


async def test_set_ble_device_is_used_for_the_next_connection(
    make_device: Make, connect: Connect, radio: VirtualRadio
) -> None:
    client = connect(make_device())
    other = make_device("jk-b2a4s")
    client.set_ble_device(radio.ble_device(other.address))
    snapshot = await client.read()
    assert snapshot.device_info.vendor_id == "JK-B2A4S"
    assert client.address == other.address
    assert client.name == "JK-B2A4S"
