"""The virtual balancer: a JK device that speaks the BLE protocol byte for byte.

It answers the 20-byte commands a client writes with 300-byte frames sent as
20-byte notifications, at the real devices' pace (device info about 0.1 s after
0x97, settings about 0.08 s after 0x96, cell info every 0.5 s once both were
asked for), scaled by ``time_scale``. Its frames are built from the protocol
layer's layout tables, and settings writes are checked against the protocol
layer's setting definitions, the way the real device checks its ranges.

Faults can be injected: a link dropped in the middle of a frame, corrupted
checksums, silence, bursts of garbage, a reboot, the device vanishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
import logging
import random
import time
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    COMMAND_HEADER,
    DEFAULT_PASSCODE,
    SERVICE_UUID,
    SETTINGS_LAYOUTS,
    WIRE_RESISTANCE_LIMIT,
    Command,
    Confirmation,
    DeviceInfo,
    FrameError,
    JKError,
    Protocol,
    Request,
    Settings,
    SettingSpec,
    encode_frame,
    parse_command,
    setting_limits,
    spec_for_register,
)

from .ble_frames import cell_info_frame, device_info_frame
from .pack import NOISE, Cell, Pack
from .profiles import Profile

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
# The factory ADC reference voltage of a JK04 balancer.
ADC_REFERENCE: Final = 3.0


class LinkRefused(Exception):
    """The device cannot take a connection now (off, rebooting or busy)."""


@dataclass(slots=True)
class Measurement:
    """What the device measured for the frame it sent last (for tests)."""

    cell_voltages: list[float]
    cell_resistances: list[float]
    balancing: bool
    balancing_current: float
    pack_current: float


@dataclass(eq=False, slots=True)
class Link:
    """One client connection to the device."""

    notify: Callable[[bytes], None]
    on_drop: Callable[[], None]
    requested: set[int] = field(default_factory=set)
    timers: set[asyncio.TimerHandle] = field(default_factory=set)
    open: bool = True


class VirtualBalancer:
    """A JK balancer (or JK BMS) in software."""

    def __init__(
        self,
        profile: Profile,
        *,
        address: str,
        name: str | None = None,
        cells: int | None = None,
        passcode: str = DEFAULT_PASSCODE,
        time_scale: float = 1.0,
        speed: float = 1.0,
        seed: int | None = None,
        noise: bool = True,
        spread: float | None = None,
        drifting_cell: int | None = None,
        drift_current: float = 0.5,
        high_resistance_cell: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a device; ``speed`` is simulated seconds per real second.

        ``cells`` wired to the balancer default to the profile's, and so does
        the ``spread`` of their state of charge. ``time_scale``
        shortens (below 1) the protocol's response times for tests; without
        ``noise`` measurements carry no jitter (reproducible values).
        ``drifting_cell`` (numbered from 1) leaks ``drift_current``;
        ``high_resistance_cell`` gets a balance wire too resistive to balance.
        """
        self.profile = profile
        self.address = address.upper()
        self.name = name or profile.vendor_id
        self.passcode = passcode
        self.time_scale = time_scale
        self.speed = speed
        self.rng = random.Random(seed)
        self._clock = clock
        self._last_sync = clock()
        wired = cells or profile.cells
        # Evenly spread, shuffled: the initial difference is the same for any seed.
        steps = max(wired - 1, 1)
        spread = profile.spread if spread is None else spread
        offsets = [spread * (i / steps - 0.5) for i in range(wired)]
        self.rng.shuffle(offsets)
        pack_cells = [
            Cell(
                charge=profile.capacity * (profile.state_of_charge + offset),
                wire_resistance=round(self.rng.uniform(0.06, 0.16), 3),
                leak_current=drift_current if index + 1 == drifting_cell else 0.0,
            )
            for index, offset in enumerate(offsets)
        ]
        if high_resistance_cell is not None:
            pack_cells[high_resistance_cell - 1].wire_resistance = (
                3 * WIRE_RESISTANCE_LIMIT
            )
        self.pack = Pack(
            profile.chemistry,
            profile.capacity,
            pack_cells,
            self.rng,
            noise=NOISE if noise else 0.0,
            load_amplitude=profile.load_amplitude,
        )
        self.jitter = 0.2 if noise else 0.0
        jk04 = profile.protocol is Protocol.JK04
        bluetooth = profile.protocol.is_bluetooth
        self.settings = Settings(
            cell_count=wired,
            balancer_enabled=True,
            balance_trigger_voltage=profile.trigger_voltage,
            # The RS485 reply carries neither (the device has its own).
            balance_start_voltage=profile.start_voltage if bluetooth else None,
            max_balance_current=profile.balance_current,
            power_off_voltage=profile.power_off_voltage if bluetooth else None,
            # JK04 reports its ADC reference voltage; JK02 no calibration.
            voltage_calibration=ADC_REFERENCE if jk04 else None,
            battery_capacity=profile.capacity if profile.protocol.is_jk02 else None,
        )
        # Reported voltage = true voltage * calibration; on JK04 the ratio of
        # the ADC reference to the factory one.
        self.calibration = 1.0
        self.uptime_base: float = 3_600 * 24 * 7
        self.power_on_count = 5
        self.runtime_base = 86_400.0
        self.cycle_count = 3
        self.powered = True
        self.leads_plugged = True
        self.link: Link | None = None
        self.last_measurement: Measurement | None = None
        # Every command the device received, and the settings writes it took.
        self.received: list[bytes] = []
        self.writes: list[tuple[str, float]] = []
        self._counter = 0
        self._started = clock()
        # Faults.
        self._corrupt_rate = 0.0
        self._silent_until = 0.0
        self._drop_next_frame = False
        self._refuse_writes = False
        self._offline_until = 0.0

    # -- identity and advertising --------------------------------------------

    @property
    def protocol(self) -> Protocol:
        """The frame layout this device speaks."""
        return self.profile.protocol

    @property
    def available(self) -> bool:
        """Return True while the device is powered and advertising."""
        return self.powered and self._clock() >= self._offline_until

    def advertisement(self) -> dict[str, Any]:
        """Return what the device advertises (name, manufacturer data, service)."""
        mac = bytes.fromhex(self.address.replace(":", ""))
        return {
            "local_name": self.name,
            "manufacturer_data": {ADVERTISED_MANUFACTURER_ID: b"\x88\xa0" + mac},
            "service_uuids": [SERVICE_UUID],
            "rssi": -60 - self.rng.randint(0, 15),
        }

    def device_info(self) -> DeviceInfo:
        """Return the identity the device reports, as the decoder would see it."""
        return DeviceInfo(
            vendor_id=self.profile.vendor_id,
            hardware_version=self.profile.hardware_version,
            software_version=self.profile.software_version,
            device_name=self.name,
            serial_number=self.address.replace(":", "")[-10:],
            manufacturing_date="240101",
            uptime=int(self.uptime_base + self._real_elapsed()),
            power_on_count=self.power_on_count,
            passcode=self.passcode,
        )

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
            self.write_register(command)
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

    def write_register(self, command: Command) -> None:
        """Take a write to a register, as the firmware does (or refuse it)."""
        spec = spec_for_register(self.protocol, command)
        if spec is None:
            _LOGGER.debug("%s: unknown register %#04x", self.name, command.command)
            return
        number = spec.registers[self.protocol].decode(command.value)
        if self._refuse_writes or not self._accepts(spec, number):
            _LOGGER.debug("%s: refusing %s = %s", self.name, spec.key, number)
            return
        self._sync()
        self.writes.append((spec.key, number))
        if spec.confirmation is Confirmation.PACK_VOLTAGE:
            self._calibrate(number)
        else:
            written: dict[str, Any] = {spec.key: spec.coerce(number)}
            self.settings = replace(self.settings, **written)

    def _accepts(self, spec: SettingSpec, number: float) -> bool:
        if spec.confirmation is Confirmation.PACK_VOLTAGE:
            # The device takes any plausible reference or pack voltage.
            return number > 0
        try:
            limits = setting_limits(spec, self.protocol, self.device_info())
        except JKError:
            return False
        return limits.minimum - 1e-6 <= number <= limits.maximum + 1e-6

    def _calibrate(self, number: float) -> None:
        """JK04 takes an ADC reference, JK02 the pack voltage a meter shows."""
        if self.protocol is Protocol.JK04:
            self.settings = replace(self.settings, voltage_calibration=number)
            self.calibration = number / ADC_REFERENCE
        else:
            true_total = sum(self.pack.true_voltages()[: self.settings.cell_count])
            self.calibration = number / true_total

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

    def measure(self) -> Measurement:
        """Measure the cells now, as the next frame or reply reports them."""
        self._sync()
        count = self.settings.cell_count
        measured = [v * self.calibration for v in self.pack.measured_voltages()]
        # Taps above the wired cells read nothing; unplugged leads, no cell.
        voltages = (measured + [0.0] * count)[:count] if self.leads_plugged else []
        if self.protocol is not Protocol.JK04:
            voltages = [round(v, 3) for v in voltages]
        resistances = [cell.wire_resistance for cell in self.pack.cells][:count]
        resistances += [0.0] * (count - len(resistances))
        self.last_measurement = Measurement(
            voltages,
            resistances,
            self.pack.balancing,
            self.pack.balance_current,
            self.pack.pack_current,
        )
        return self.last_measurement

    def _cell_info_frame(self) -> bytes:
        runtime = int(self.runtime_base + self._real_elapsed())
        return cell_info_frame(self, self.measure(), runtime, self._next_counter())

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

    # -- simulated time ------------------------------------------------------

    def _real_elapsed(self) -> float:
        return self._clock() - self._started

    def _sync(self) -> None:
        now = self._clock()
        elapsed, self._last_sync = now - self._last_sync, now
        self.advance(elapsed * self.speed)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass for the pack and the balancer."""
        self.runtime_base += seconds
        enabled = (
            self.settings.balancer_enabled and self.available and self.leads_plugged
        )
        self.pack.advance(seconds, replace(self.settings, balancer_enabled=enabled))

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

    def reboot(self, downtime: float = 2.0) -> None:
        """Restart: the link drops and the device is gone for ``downtime`` s."""
        if self.link is not None:
            self._drop(self.link)
        self._offline_until = self._clock() + downtime
        self.power_on_count += 1
        self.uptime_base = -self._real_elapsed() - downtime
        self._counter = 0

    def set_powered(self, powered: bool) -> None:
        """Switch the device off (it vanishes) or on again."""
        self.powered = powered
        if not powered and self.link is not None:
            self._drop(self.link)

    def unplug_balance_leads(self, unplugged: bool = True) -> None:
        """Pull the balance connector: the device measures no cell."""
        self.leads_plugged = not unplugged

    def change_settings(self, **changes: Any) -> None:
        """Change settings on the device itself, as the vendor app would."""
        self.settings = replace(self.settings, **changes)

    def refuse_writes(self, refuse: bool = True) -> None:
        """Ignore every settings write (the read-back keeps the old value)."""
        self._refuse_writes = refuse
