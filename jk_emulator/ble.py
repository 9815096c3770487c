"""The virtual balancer over Bluetooth: it speaks the BLE protocol byte for byte.

It answers the 20-byte commands a client writes with 300-byte frames sent as
20-byte notifications, at the real devices' pace (device info about 0.1 s after
0x97, settings about 0.08 s after 0x96, cell info every 0.5 s once both were
asked for), scaled by ``time_scale``. Its frames are built from the protocol
layer's layout tables, so the emulator encodes exactly what the decoder
decodes.

Faults can be injected: a link dropped in the middle of a frame, corrupted
checksums, silence, bursts of garbage, a reboot, the device vanishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    CELL_INFO_LAYOUTS,
    COMMAND_HEADER,
    DEVICE_INFO,
    SERVICE_UUID,
    SETTINGS_LAYOUTS,
    WIRE_RESISTANCE_LIMIT,
    DeviceInfo,
    FrameError,
    Request,
)

from .balancer import Measurement, VirtualBalancer
from .device_codec import encode_frame, parse_command

_LOGGER = logging.getLogger(__name__)

# Response times measured in the captures, in seconds.
DEVICE_INFO_DELAY: Final = 0.1
SETTINGS_DELAY: Final = 0.08
STREAM_START_DELAY: Final = 0.6
STREAM_INTERVAL: Final = 0.5
NOTIFICATION_SIZE: Final = 20
# The record some firmware appends to every frame (making it 320 bytes).
TRAILER: Final = COMMAND_HEADER + bytes((0xC8, 0x01, 0x01)) + bytes(12) + b"\x44"
# Bluetooth SIG id the JK BLE modules advertise with, followed by 88 A0 + MAC.
ADVERTISED_MANUFACTURER_ID: Final = 0x0B65


class LinkRefused(Exception):
    """The device cannot take a connection now (off, rebooting or busy)."""


@dataclass(eq=False, slots=True)
class Link:
    """One client connection to the device."""

    notify: Callable[[bytes], None]
    on_drop: Callable[[], None]
    requested: set[int] = field(default_factory=set)
    timers: set[asyncio.TimerHandle] = field(default_factory=set)
    open: bool = True


class BluetoothBalancer(VirtualBalancer):
    """A virtual balancer reached over Bluetooth (through a virtual radio)."""

    def __init__(self, *args: Any, time_scale: float = 1.0, **kwargs: Any) -> None:
        """Create the device (see :class:`VirtualBalancer`).

        ``time_scale`` below 1 shortens the protocol's response times for tests.
        """
        super().__init__(*args, **kwargs)
        self.time_scale = time_scale
        self.link: Link | None = None
        # Every command the device received.
        self.received: list[bytes] = []
        self._counter = 0
        self._corrupt_rate = 0.0
        self._silent_until = 0.0
        self._drop_next_frame = False

    def advertisement(self) -> dict[str, Any]:
        """Return what the device advertises (name, manufacturer data, service)."""
        mac = bytes.fromhex(self.address.replace(":", ""))
        return {
            "local_name": self.name,
            "manufacturer_data": {ADVERTISED_MANUFACTURER_ID: b"\x88\xa0" + mac},
            "service_uuids": [SERVICE_UUID],
            "rssi": -60 - self.rng.randint(0, 15),
        }

    # -- links ---------------------------------------------------------------

    def connect(
        self, notify: Callable[[bytes], None], on_drop: Callable[[], None]
    ) -> Link:
        """Accept a client connection (the BLE backend calls this)."""
        if not self.available:
            raise LinkRefused(f"{self.name} is not reachable")
        if self.link is not None:
            raise LinkRefused(f"{self.name} already has a connection")
        self.link = Link(notify, on_drop)
        return self.link

    def disconnect(self, link: Link) -> None:
        """The client closed the connection."""
        self._close(link)

    def _close(self, link: Link) -> None:
        link.open = False
        for timer in link.timers:
            timer.cancel()
        link.timers.clear()
        if self.link is link:
            self.link = None

    def _drop(self, link: Link) -> None:
        """Drop the link from the device's side (the client sees a disconnect)."""
        if not link.open:
            return
        self._close(link)
        link.on_drop()

    def _lose_links(self) -> None:
        if self.link is not None:
            self._drop(self.link)

    def reboot(self, downtime: float = 2.0) -> None:
        """Restart: the link drops, the frame counter starts again."""
        super().reboot(downtime)
        self._counter = 0

    # -- commands ------------------------------------------------------------

    def receive(self, link: Link, data: bytes) -> None:
        """Handle a write from the client, as the device firmware does."""
        if not link.open or self._silent():
            return
        self.received.append(bytes(data))
        try:
            command = parse_command(bytes(data))
        except FrameError as err:
            _LOGGER.debug("%s: ignoring malformed command: %s", self.name, err)
            return
        if command.command == Request.DEVICE_INFO:
            self._answer(link, DEVICE_INFO_DELAY, self._device_info_frame)
        elif command.command == Request.SETTINGS:
            self._answer(link, SETTINGS_DELAY, self._settings_frame)
        else:
            self.write_register(command.command, command.value)
            return
        first = command.command not in link.requested
        link.requested.add(command.command)
        if first and len(link.requested) == 2:
            self._schedule(link, STREAM_START_DELAY, self._stream)

    def _answer(self, link: Link, delay: float, build: Callable[[], bytes]) -> None:
        self._schedule(link, delay, lambda: self._send(link, build()))

    def _stream(self) -> None:
        link = self.link
        if link is None or not link.open:
            return
        self._send(link, self._cell_info_frame())
        self._schedule(link, STREAM_INTERVAL, self._stream)

    def _schedule(self, link: Link, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay``; closing the link cancels it."""

        def fire() -> None:
            link.timers.discard(timer)
            action()

        loop = asyncio.get_running_loop()
        timer = loop.call_later(delay * self.time_scale, fire)
        link.timers.add(timer)

    # -- frames --------------------------------------------------------------

    def _next_counter(self) -> int:
        self._counter = (self._counter + 1) & 0xFF
        return self._counter

    def _device_info_frame(self) -> bytes:
        return device_info_frame(self.device_info(), self._next_counter())

    def _settings_frame(self) -> bytes:
        return encode_frame(
            SETTINGS_LAYOUTS[self.protocol],
            self.settings.to_dict(),
            self._next_counter(),
        )

    def _cell_info_frame(self) -> bytes:
        values = cell_info_values(self.measure(), self.runtime)
        if self.protocol.is_jk02:
            values |= self._bms_values(values["cell_voltages"])
        layout = CELL_INFO_LAYOUTS[self.protocol]
        return encode_frame(layout, values, self._next_counter())

    def _bms_values(self, voltages: list[float]) -> dict[str, Any]:
        """What a JK BMS adds: pack current, charge, temperatures, error bits."""
        battery, count = self.battery, self.settings.cell_count
        remaining = min(cell.charge for cell in battery.cells)
        warnings = sum(
            1 << index
            for index, cell in enumerate(battery.cells[:count])
            if cell.wire_resistance > WIRE_RESISTANCE_LIMIT
        )
        errors = (1 << 10) if len(voltages) != len(battery.cells) else 0  # cell count
        errors |= (1 << 8) if warnings else 0  # wire resistance
        jitter = self.jitter
        return {
            "total_voltage": sum(voltages),
            "current": round(battery.pack_current, 3),
            "temperature_sensor_1": 24.0 + self.rng.uniform(-1, 1) * jitter,
            "temperature_sensor_2": 24.5 + self.rng.uniform(-1, 1) * jitter,
            "power_tube_temperature": 27.0 + abs(battery.pack_current) / 4,
            "errors_mask": errors,
            "wire_resistance_warning_mask": warnings,
            "state_of_charge": round(100 * remaining / battery.capacity),
            "remaining_capacity": round(remaining, 3),
            "estimated_capacity": self.settings.battery_capacity,
            "cycle_count": self.cycle_count,
            "state_of_health": 100,
            "charging": 1,
            "discharging": 1,
        }

    def _send(self, link: Link, frame: bytes) -> None:
        if not link.open or self._silent():
            return
        data = bytearray(frame)
        if self._corrupt_rate and self.rng.random() < self._corrupt_rate:
            data[-1] ^= 0xFF
        if self.profile.trailer:
            data += TRAILER
        chunks = [
            bytes(data[start : start + NOTIFICATION_SIZE])
            for start in range(0, len(data), NOTIFICATION_SIZE)
        ]
        if self._drop_next_frame:
            self._drop_next_frame = False
            for chunk in chunks[: len(chunks) // 2]:
                link.notify(chunk)
            self._drop(link)
            return
        for chunk in chunks:
            link.notify(chunk)

    # -- faults --------------------------------------------------------------

    def drop_link(self, *, mid_frame: bool = True) -> None:
        """Lose the link: in the middle of the next frame, or right now."""
        if mid_frame:
            self._drop_next_frame = True
        elif self.link is not None:
            self._drop(self.link)

    def corrupt_frames(self, rate: float) -> None:
        """Send a wrong checksum in this share (0..1) of frames."""
        self._corrupt_rate = rate

    def go_silent(self, seconds: float) -> None:
        """Ignore commands and stop streaming for ``seconds`` (link stays up)."""
        self._silent_until = self._clock() + seconds

    def _silent(self) -> bool:
        return self._clock() < self._silent_until

    def send_garbage(self, size: int = 64) -> None:
        """Write a burst of random bytes into the notification stream."""
        if self.link is None:
            return
        data = bytes(self.rng.getrandbits(8) for _ in range(size))
        for start in range(0, size, NOTIFICATION_SIZE):
            self.link.notify(data[start : start + NOTIFICATION_SIZE])


def device_info_frame(info: DeviceInfo, counter: int) -> bytes:
    """Frame 0x03, the answer to the device-info request."""
    values = {
        "vendor_id": info.vendor_id,
        "hardware_version": info.hardware_version,
        "software_version": info.software_version,
        "uptime": info.uptime,
        "power_on_count": info.power_on_count,
        "device_name": info.device_name,
        "passcode": info.passcode,
        "manufacturing_date": info.manufacturing_date,
        "serial_number": info.serial_number,
    }
    return encode_frame(DEVICE_INFO, values, counter)


def cell_info_values(measurement: Measurement, runtime: int) -> dict[str, Any]:
    """The cell-info frame's values of a measurement, the device's figures too."""
    voltages, resistances = measurement.cell_voltages, measurement.cell_resistances
    present = [v for v in voltages if v > 0] or [0.0]
    highest, lowest = max(present), min(present)
    return {
        "cell_voltages": voltages,
        "cell_resistances": resistances,
        "connected_cells_mask": (1 << len(voltages)) - 1,
        "average_cell_voltage": sum(present) / len(present),
        "delta_cell_voltage": highest - lowest,
        "max_voltage_cell_index": voltages.index(highest) if voltages else 0,
        "min_voltage_cell_index": voltages.index(lowest) if voltages else 0,
        "balancing_action": 2 if measurement.balancing else 0,
        "balancing_current": measurement.balancing_current,
        "total_runtime": runtime,
    }
