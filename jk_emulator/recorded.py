"""A balancer that answers with the frames a real device sent.

Given the frames of a capture, it sends the recorded device-info frame (with
the real passcode), the recorded settings frame and the recorded cell-info
frames in order, looping, on the virtual balancer's timing. So whatever runs
against it (the client, Home Assistant, the `jk-balancer` command) sees the
real device's bytes. Settings writes are checked as the virtual balancer
checks them; once one is taken, the settings frame carries the written values
and is no longer the recorded one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import itertools
import time

from custom_components.jk_balancer.protocol import (
    DeviceInfo,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    Settings,
)

from .ble import BluetoothBalancer
from .profiles import Profile


class RecordedBalancer(BluetoothBalancer):
    """Replays a real device's device info, settings and cell-info frames."""

    def __init__(
        self,
        frames: Sequence[Frame],
        *,
        address: str,
        name: str | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Replay ``frames`` (they must hold each frame type at least once).

        ``name`` is what the device advertises; real balancers advertise the
        name set in the app, which the device-info frame need not carry.
        """
        decoder = FrameDecoder()
        recorded: dict[int, list[bytes]] = {}
        decoded: dict[int, object] = {}
        for frame in frames:
            try:
                decoded[frame.frame_type] = decoder.decode(frame)
            except FrameError:
                continue
            recorded.setdefault(frame.frame_type, []).append(frame.raw)
        info = decoded.get(FrameType.DEVICE_INFO)
        settings = decoded.get(FrameType.SETTINGS)
        if (
            not isinstance(info, DeviceInfo)
            or not isinstance(settings, Settings)
            or FrameType.CELL_INFO not in recorded
            or decoder.protocol is None
        ):
            raise ValueError(
                "a recording needs device-info, settings and cell-info frames"
            )
        profile = Profile(
            name=f"recorded-{info.vendor_id.lower()}",
            protocol=decoder.protocol,
            vendor_id=info.vendor_id,
            hardware_version=info.hardware_version,
            software_version=info.software_version,
            cells=settings.cell_count,
            description=f"{info.vendor_id} replayed from a capture",
        )
        super().__init__(
            profile,
            address=address,
            name=name or info.device_name,
            passcode=info.passcode,
            time_scale=time_scale,
            noise=False,
            clock=clock,
        )
        self.recorded_info = info
        self.settings = settings
        self._device_info_raw = recorded[FrameType.DEVICE_INFO][-1]
        self._settings_raw = recorded[FrameType.SETTINGS][-1]
        self._cell_info_raws = itertools.cycle(recorded[FrameType.CELL_INFO])

    def device_info(self) -> DeviceInfo:
        """The identity in the recording."""
        return self.recorded_info

    def _device_info_frame(self) -> bytes:
        return self._device_info_raw

    def _settings_frame(self) -> bytes:
        return super()._settings_frame() if self.writes else self._settings_raw

    def _cell_info_frame(self) -> bytes:
        return next(self._cell_info_raws)
