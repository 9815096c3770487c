"""The virtual balancer: a JK device in software, whichever port it is reached on.

It holds a battery (the cells and their physics, :mod:`.battery`), the
device's settings and identity, takes settings writes as the firmware does
(checked against the protocol layer's setting definitions, the way the real
device checks its ranges) and measures the cells for the next frame or reply.
How it talks is added by :mod:`.ble` (Bluetooth) and :mod:`.rs485_bus`.

Faults every device can have: power lost, a reboot, the balance leads
unplugged, writes refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
import logging
import math
import random
import time
from typing import Any, Final

from custom_components.jk_balancer.protocol import (
    SETTING_SPECS,
    WIRE_RESISTANCE_LIMIT,
    Confirmation,
    DeviceInfo,
    JKError,
    Protocol,
    Settings,
    SettingSpec,
    setting_limits,
)

from .battery import NOISE, Battery, Cell
from .device_codec import DEFAULT_PASSCODE, spec_for_register
from .profiles import Profile

_LOGGER = logging.getLogger(__name__)

# The factory ADC reference voltage of a JK04 balancer.
ADC_REFERENCE: Final = SETTING_SPECS["voltage_calibration"].default


@dataclass(slots=True)
class Measurement:
    """What the device measured for the frame it sent last (for tests)."""

    cell_voltages: list[float]
    cell_resistances: list[float]
    balancing: bool
    balancing_current: float
    pack_current: float


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
        speed: float = 1.0,
        seed: int | None = None,
        noise: bool = True,
        spread: float | None = None,
        state_of_charge: float | None = None,
        drifting_cell: int | None = None,
        drift_current: float = 0.5,
        drift_limit: float = math.inf,
        high_resistance_cell: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a device; ``speed`` is simulated seconds per real second.

        ``cells`` wired to the balancer default to the profile's, and so does
        the ``spread`` of their ``state_of_charge``. Without ``noise``
        measurements carry no jitter (reproducible values). ``drifting_cell``
        (numbered from 1) leaks ``drift_current`` until it is ``drift_limit``
        (V) below the average; ``high_resistance_cell``
        gets a balance wire too resistive to balance.
        """
        self.profile = profile
        self.address = address.upper()
        self.name = name or profile.vendor_id
        self.passcode = passcode
        self.speed = speed
        self.rng = random.Random(seed)
        self._clock = clock
        self._last_sync = clock()
        wired = cells or profile.cells
        # Evenly spread, shuffled: the initial difference is the same for any seed.
        steps = max(wired - 1, 1)
        spread = profile.spread if spread is None else spread
        if state_of_charge is None:
            state_of_charge = profile.state_of_charge
        offsets = [spread * (i / steps - 0.5) for i in range(wired)]
        self.rng.shuffle(offsets)
        battery_cells = [
            Cell(
                charge=profile.capacity * (state_of_charge + offset),
                wire_resistance=round(self.rng.uniform(0.06, 0.16), 3),
                leak_current=drift_current if index + 1 == drifting_cell else 0.0,
                leak_limit=drift_limit,
            )
            for index, offset in enumerate(offsets)
        ]
        if high_resistance_cell is not None:
            battery_cells[high_resistance_cell - 1].wire_resistance = (
                3 * WIRE_RESISTANCE_LIMIT
            )
        self.battery = Battery(
            profile.chemistry,
            profile.capacity,
            battery_cells,
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
        self.last_measurement: Measurement | None = None
        # The settings writes the device took.
        self.writes: list[tuple[str, float]] = []
        self._started = clock()
        self._refuse_writes = False
        self._offline_until = 0.0

    # -- identity ------------------------------------------------------------

    @property
    def protocol(self) -> Protocol:
        """The frame layout this device speaks."""
        return self.profile.protocol

    @property
    def available(self) -> bool:
        """Return True while the device is powered and not rebooting."""
        return self.powered and self._clock() >= self._offline_until

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

    @property
    def runtime(self) -> int:
        """Seconds the device has run, as it reports them."""
        return int(self.runtime_base + self._real_elapsed())

    # -- settings ------------------------------------------------------------

    def write_register(self, address: int, value: bytes) -> None:
        """Take a write to a register, as the firmware does (or refuse it)."""
        spec = spec_for_register(self.protocol, address, len(value))
        if spec is None:
            _LOGGER.debug("%s: unknown register %#04x", self.name, address)
            return
        number = spec.registers[self.protocol].decode(value)
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
            true_total = sum(self.battery.true_voltages()[: self.settings.cell_count])
            self.calibration = number / true_total

    def change_settings(self, **changes: Any) -> None:
        """Change settings on the device itself, as the vendor app would."""
        self.settings = replace(self.settings, **changes)

    # -- measuring -----------------------------------------------------------

    def measure(self) -> Measurement:
        """Measure the cells now, as the next frame or reply reports them."""
        self._sync()
        count = self.settings.cell_count
        measured = [v * self.calibration for v in self.battery.measured_voltages()]
        # Taps above the wired cells read nothing; unplugged leads, no cell.
        voltages = (measured + [0.0] * count)[:count] if self.leads_plugged else []
        if self.protocol is not Protocol.JK04:
            voltages = [round(v, 3) for v in voltages]
        resistances = [cell.wire_resistance for cell in self.battery.cells][:count]
        resistances += [0.0] * (count - len(resistances))
        self.last_measurement = Measurement(
            voltages,
            resistances,
            self.battery.balancing,
            self.battery.balance_current,
            self.battery.pack_current,
        )
        return self.last_measurement

    # -- simulated time ------------------------------------------------------

    def _real_elapsed(self) -> float:
        return self._clock() - self._started

    def _sync(self) -> None:
        now = self._clock()
        elapsed, self._last_sync = now - self._last_sync, now
        self.advance(elapsed * self.speed)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass for the battery and the balancer."""
        self.runtime_base += seconds
        enabled = (
            self.settings.balancer_enabled and self.available and self.leads_plugged
        )
        self.battery.advance(seconds, replace(self.settings, balancer_enabled=enabled))

    # -- faults --------------------------------------------------------------

    def reboot(self, downtime: float = 2.0) -> None:
        """Restart: the device is gone for ``downtime`` s, its links with it."""
        self._lose_links()
        self._offline_until = self._clock() + downtime
        self.power_on_count += 1
        self.uptime_base = -self._real_elapsed() - downtime

    def set_powered(self, powered: bool) -> None:
        """Switch the device off (it vanishes) or on again."""
        self.powered = powered
        if not powered:
            self._lose_links()

    def _lose_links(self) -> None:
        """The device went down: a transport drops what it had open."""

    def unplug_balance_leads(self, unplugged: bool = True) -> None:
        """Pull the balance connector: the device measures no cell."""
        self.leads_plugged = not unplugged

    def refuse_writes(self, refuse: bool = True) -> None:
        """Ignore every settings write (the read-back keeps the old value)."""
        self._refuse_writes = refuse
