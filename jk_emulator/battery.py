"""A battery as an active balancer sees it: cells in series and their physics.

Each cell holds a charge; its voltage follows the chemistry's open-circuit curve.
A cell may leak (it drifts away from the others) and each balance wire has a
resistance. The balancer logic follows the vendor manuals: with the balancer on,
balancing starts when the pack's cell difference exceeds the trigger and the
highest cell is above the start voltage, moves charge from the highest to the
lowest cell at the set current, and stops once the difference is below the
trigger. A wire whose resistance is too high, or a cell count that does not match
the wiring, blocks balancing.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
import math
import random
from typing import Final

from custom_components.jk_balancer.protocol import (
    WIRE_RESISTANCE_LIMIT,
    Chemistry,
    Settings,
)

# State of charge -> open-circuit voltage, piecewise linear, from empty to full.
OCV_CURVES: Final[dict[Chemistry, tuple[tuple[float, float], ...]]] = {
    Chemistry.LFP: (
        (0.00, Chemistry.LFP.voltages.empty),
        (0.05, 3.00),
        (0.10, 3.20),
        (0.30, 3.26),
        (0.70, 3.30),
        (0.90, 3.33),
        (0.97, 3.40),
        (1.00, Chemistry.LFP.full_voltage),
    ),
    Chemistry.NCM: (
        (0.00, Chemistry.NCM.voltages.empty),
        (0.10, 3.45),
        (0.50, 3.70),
        (0.90, 4.05),
        (1.00, Chemistry.NCM.full_voltage),
    ),
    Chemistry.LTO: (
        (0.00, Chemistry.LTO.voltages.empty),
        (0.10, 2.20),
        (0.50, 2.35),
        (0.90, 2.50),
        (1.00, Chemistry.LTO.full_voltage),
    ),
}
# Share of the charge taken from the highest cell that reaches the lowest.
TRANSFER_EFFICIENCY: Final = 0.9
# Measurement jitter of the balancer's ADC, in V.
NOISE: Final = 0.0005
# Share of its capacity at which a BMS counts a cell as full.
FULL: Final = 0.995


def open_circuit_voltage(chemistry: Chemistry, state_of_charge: float) -> float:
    """Voltage of a resting cell at the given state of charge (0..1)."""
    curve = OCV_CURVES[chemistry]
    soc = min(max(state_of_charge, 0.0), 1.0)
    index = min(bisect_right([point[0] for point in curve], soc), len(curve) - 1)
    (soc_low, v_low), (soc_high, v_high) = curve[index - 1], curve[index]
    return v_low + (v_high - v_low) * (soc - soc_low) / (soc_high - soc_low)


@dataclass(slots=True)
class Cell:
    """One cell and its balance wire."""

    charge: float  # Ah
    wire_resistance: float = 0.08  # Ohm
    leak_current: float = 0.0  # A drawn by a slow self-discharge
    # The leak rests while the cell is this far (V) below the pack average: a
    # weak cell the balancer holds at an offset rather than one running empty.
    leak_limit: float = math.inf


@dataclass(slots=True)
class Battery:
    """Cells in series plus the balancer working on them."""

    chemistry: Chemistry
    capacity: float  # Ah per cell
    cells: list[Cell]
    rng: random.Random = field(default_factory=random.Random)
    noise: float = NOISE
    # Each cell's internal resistance (Ohm): while current flows its terminal
    # sits this much times the current above (charging) or below its
    # open-circuit voltage, as a runner cell at the end of a charge does.
    internal_resistance: float = 0.0
    # Pack current (A, positive = charging): a daily sine, like solar and load.
    load_amplitude: float = 0.0
    load_period: float = 86_400.0
    elapsed: float = 0.0
    balancing: bool = False
    balance_current: float = 0.0  # signed, as the device reports it
    # What really went into and out of the pack so far (Wh): the truth an
    # energy meter reading the frames is checked against.
    energy_in: float = 0.0
    energy_out: float = 0.0
    _highest: int = 0
    _lowest: int = 0

    @property
    def pack_current(self) -> float:
        """Current through the whole pack now, in A (positive = charging).

        Like a BMS, it stops charging once a cell is full and discharging once a
        cell is empty, so no cell sits at a limit with current still flowing.
        """
        if not self.load_amplitude:
            return 0.0
        current = self.load_amplitude * math.sin(
            2 * math.pi * self.elapsed / self.load_period
        )
        charges = [cell.charge for cell in self.cells]
        if current > 0 and max(charges) >= self.capacity * FULL:
            return 0.0
        if current < 0 and min(charges) <= self.capacity * (1 - FULL):
            return 0.0
        return current

    def true_voltages(self) -> list[float]:
        """Open-circuit voltage of every wired cell (no measurement error)."""
        return [
            open_circuit_voltage(self.chemistry, cell.charge / self.capacity)
            for cell in self.cells
        ]

    def measured_voltages(self) -> list[float]:
        """What the balancer's ADC reads: the terminal voltage plus jitter."""
        rise = self.pack_current * self.internal_resistance
        terminal = [v + rise for v in self.true_voltages()]
        if not self.noise:
            return terminal
        return [v + self.rng.uniform(-self.noise, self.noise) for v in terminal]

    def blocked_by_wires(self, cell_count: int) -> bool:
        """Return True when a wire's resistance is too high to balance."""
        return any(
            cell.wire_resistance > WIRE_RESISTANCE_LIMIT
            for cell in self.cells[:cell_count]
        )

    def advance(self, seconds: float, settings: Settings) -> None:
        """Let ``seconds`` of simulated time pass."""
        if seconds <= 0:
            return
        # Step in slices so balancing stops close to the trigger even when a
        # long interval passes at once.
        remaining = seconds
        while remaining > 0:
            step = min(remaining, 10.0)
            self._step(step, settings)
            remaining -= step

    def _step(self, seconds: float, settings: Settings) -> None:
        self.elapsed += seconds
        hours = seconds / 3600
        current = self.pack_current
        energy = sum(self.true_voltages()) * current * hours
        if energy > 0:
            self.energy_in += energy
        else:
            self.energy_out -= energy
        voltages = self.true_voltages()
        average = sum(voltages) / len(voltages) if voltages else 0.0
        for cell, voltage in zip(self.cells, voltages, strict=True):
            leaking = average - voltage < cell.leak_limit
            cell.charge += (current - (cell.leak_current if leaking else 0.0)) * hours
        self._update_balancing(settings)
        if self.balancing:
            moved = settings.max_balance_current * hours
            self.cells[self._highest].charge -= moved
            self.cells[self._lowest].charge += moved * TRANSFER_EFFICIENCY
        for cell in self.cells:
            cell.charge = min(max(cell.charge, 0.0), self.capacity)

    def _update_balancing(self, settings: Settings) -> None:
        count = settings.cell_count
        voltages = self.true_voltages()[:count]
        allowed = (
            settings.balancer_enabled
            and count == len(self.cells)
            and not self.blocked_by_wires(count)
        )
        if not allowed or not voltages:
            self.balancing = False
        else:
            highest, lowest = max(voltages), min(voltages)
            delta = highest - lowest
            if self.balancing:
                self.balancing = delta >= settings.balance_trigger_voltage
            else:
                # A start voltage the device does not report does not gate.
                start = settings.balance_start_voltage or 0.0
                self.balancing = delta > settings.balance_trigger_voltage and (
                    highest > start
                )
            self._highest = voltages.index(highest)
            self._lowest = voltages.index(lowest)
        # The device reports the current of the cell being discharged (negative).
        self.balance_current = -settings.max_balance_current if self.balancing else 0.0
