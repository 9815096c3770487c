"""Battery energy integrated from every measurement, never across a gap."""

from __future__ import annotations

import math

import pytest

from custom_components.jk_balancer.protocol import EnergyMeter

DAY = 86_400.0
OMEGA = 2 * math.pi / DAY
# A 16-cell LFP pack: 53 V, 1.5 V up while charging, a 40 A daily sine.
VOLTS, SWING, AMPS = 53.0, 1.5, 40.0
FRAME = 0.5  # s between cell-info frames on an open link


def power(t: float) -> float:
    """The profile's pack power in W: charging by day, discharging by night."""
    current = AMPS * math.sin(OMEGA * t)
    return (VOLTS + SWING * math.sin(OMEGA * t)) * current


def energy(start: float, end: float) -> float:
    """Exact integral of ``power`` from ``start`` to ``end``, in kWh."""

    def antiderivative(t: float) -> float:
        return -AMPS * VOLTS * math.cos(OMEGA * t) / OMEGA + AMPS * SWING * (
            t / 2 - math.sin(2 * OMEGA * t) / (4 * OMEGA)
        )

    return (antiderivative(end) - antiderivative(start)) / 3_600_000


def test_a_simulated_day_with_gaps_matches_the_profile_within_1_percent() -> None:
    """Link down for 20 min, lent for 15 min, Home Assistant stopped for 2 h."""
    link_down = (3 * 3600.0, 3 * 3600.0 + 1200)
    lent = (10 * 3600.0, 10 * 3600.0 + 900)
    stopped = (18 * 3600.0, 20 * 3600.0)
    meter = EnergyMeter(max_gap=60.0)
    frames = [i * FRAME for i in range(int(DAY / FRAME) + 1)]
    for t in frames:
        if link_down[0] < t < link_down[1]:
            continue
        if lent[0] < t < lent[1]:
            continue
        if t == lent[0]:
            meter.add(t, power(t))
            meter.interrupt()  # the link is handed over
            continue
        if stopped[0] < t < stopped[1]:
            continue
        if t == stopped[1]:
            # Started again: only the totals come back.
            meter = EnergyMeter(
                max_gap=60.0, charged=meter.charged, discharged=meter.discharged
            )
        meter.add(t, power(t))
    # Charging by day (0-12 h), discharging by night; the gaps count for nothing.
    charged = energy(0, link_down[0]) + energy(link_down[1], lent[0])
    charged += energy(lent[1], DAY / 2)
    discharged = -(energy(DAY / 2, stopped[0]) + energy(stopped[1], DAY))
    assert meter.charged == pytest.approx(charged, rel=0.01)
    assert meter.discharged == pytest.approx(discharged, rel=0.01)
    # Bridging any of the gaps would have been more than the 1 % allowed.
    assert energy(*link_down) > 0.01 * charged
    assert energy(*lent) > 0.01 * charged
    assert -energy(*stopped) > 0.01 * discharged


def test_a_sign_change_between_frames_is_split_at_the_crossing() -> None:
    """From +100 W to -300 W in 4 s: 50 W s in, 450 W s out."""
    meter = EnergyMeter(max_gap=60.0)
    meter.add(0.0, 100.0)
    meter.add(4.0, -300.0)
    assert meter.charged * 3_600_000 == pytest.approx(50.0)
    assert meter.discharged * 3_600_000 == pytest.approx(450.0)


def test_nothing_is_bridged_beyond_the_longest_gap() -> None:
    meter = EnergyMeter(max_gap=60.0)
    meter.add(0.0, 1000.0)
    meter.add(61.0, 1000.0)
    assert meter.charged == 0
    meter.add(121.0, 1000.0)
    assert meter.charged * 3_600_000 == pytest.approx(60_000.0)


def test_a_measurement_that_is_not_a_number_is_a_gap() -> None:
    meter = EnergyMeter(max_gap=60.0)
    meter.add(0.0, 500.0)
    meter.add(1.0, math.nan)
    meter.add(2.0, 500.0)
    meter.add(3.0, 500.0)
    assert meter.charged * 3_600_000 == pytest.approx(500.0)
    assert meter.discharged == 0
