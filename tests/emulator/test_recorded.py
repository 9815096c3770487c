"""The recorded balancer sends a real device's bytes, and only real devices' bytes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from custom_components.jk_balancer.protocol import (
    BluetoothClient,
    Frame,
    FrameType,
    Protocol,
)
from jk_emulator import BluetoothBalancer, RecordedBalancer, VirtualRadio
from jk_tools.captures import load_frames
from tests.conftest import FAST

Connect = Callable[..., BluetoothClient]


def recording(captures: Path, name: str) -> list[Frame]:
    return [frame for _, frame in load_frames(captures / name).frames]


async def test_a_client_receives_the_recorded_frames_byte_for_byte(
    captures: Path, radio: VirtualRadio, connect: Connect
) -> None:
    frames = recording(captures, "btsnoop/btsnoop_hci_jk-bd6a24s10p_hw8x_sw806g.log")
    device = radio.add(
        RecordedBalancer(frames, address="C8:47:80:00:01:01", time_scale=FAST)
    )
    client = connect(device)
    snapshot = await client.read()
    recorded = {
        frame_type: {frame.raw for frame in frames if frame.frame_type == frame_type}
        for frame_type in FrameType
    }
    for frame_type, raw in client.last_frames.items():
        assert raw in recorded[frame_type]
    assert snapshot.protocol is Protocol.JK02_24S
    assert snapshot.device_info.vendor_id == "JK-BD6A24S10P"
    assert device.name == snapshot.device_info.device_name
    assert client.verify_password(device.passcode)
    assert snapshot.settings.battery_capacity == device.settings.battery_capacity


async def test_a_write_it_takes_shows_in_the_settings_it_sends(
    captures: Path, radio: VirtualRadio, connect: Connect
) -> None:
    frames = recording(captures, "btsnoop/btsnoop_hci_jk-b2a16s_hw30_sw330.log")
    device: BluetoothBalancer = radio.add(
        RecordedBalancer(frames, address="C8:47:80:00:01:02", time_scale=FAST)
    )
    client = connect(device)
    before = await client.read()
    assert before.settings.power_off_voltage == 3.0
    after = await client.write_setting("power_off_voltage", 2.8)
    assert after.power_off_voltage == pytest.approx(2.8)
    assert after.balance_start_voltage == before.settings.balance_start_voltage


def test_a_recording_without_settings_is_refused(captures: Path) -> None:
    frames = recording(
        captures, "frames/JK-PB2A16S20P_sw19.27_JK02_32S.device_info.hex"
    ) + recording(captures, "frames/JK-PB2A16S20P_sw19.27_JK02_32S.cell_info.hex")
    with pytest.raises(ValueError, match="settings"):
        RecordedBalancer(frames, address="C8:47:80:00:01:03")


def test_frames_that_do_not_decode_are_left_out(captures: Path) -> None:
    frames = recording(captures, "btsnoop/btsnoop_hci_jk-b2a16s_hw30_sw330.log")
    broken = bytearray(frames[-1].raw)
    broken[4] = 0x07  # no such frame type
    device = RecordedBalancer(
        [*frames, Frame(bytes(broken))], address="C8:47:80:00:01:04"
    )
    assert device.protocol is Protocol.JK04
