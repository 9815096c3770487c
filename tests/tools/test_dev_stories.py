"""The development instance's balancers: each story shows within five minutes
of real time, and none runs away (they stay so for half an hour)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.jk_balancer.protocol import Chemistry
from jk_emulator import PROFILES
from jk_emulator.balancer import VirtualBalancer

CONFIG = Path(__file__).resolve().parents[2] / "dev" / "config" / "configuration.yaml"
LOW_CELL = Chemistry.LFP.voltages.low
OUT_OF_BALANCE = 0.020  # V: 3 x the 5 mV trigger, at least 20 mV


def dev_balancers(seed: int) -> dict[str, tuple[VirtualBalancer, list[float]]]:
    """The configured Bluetooth balancers on a clock of their own."""
    conf: dict[str, Any] = load_yaml_dict(str(CONFIG))["jk_dev_proxy"]
    clock = [0.0]
    found = {}
    for number, options in enumerate(conf["devices"], 1):
        settings = {
            key: options[key]
            for key in (
                "spread",
                "state_of_charge",
                "drifting_cell",
                "drift_current",
                "drift_limit",
                "high_resistance_cell",
            )
            if key in options
        }
        device = VirtualBalancer(
            PROFILES[options["profile"]],
            address=f"C8:47:80:0D:E0:{number:02X}",
            name=options["name"],
            speed=conf["speed"],
            noise=False,
            seed=seed,
            clock=lambda: clock[0],
            **settings,
        )
        found[options["name"]] = (device, clock)
    return found


def after(device: VirtualBalancer, clock: list[float], minutes: float) -> list[float]:
    """The true cell voltages ``minutes`` of real time later."""
    for _ in range(int(minutes * 6)):
        clock[0] += 10.0
        device.measure()
    return device.battery.true_voltages()


def spread(cells: list[float]) -> float:
    return max(cells) - min(cells)


# The instance shuffles its cells afresh each run: any shuffle tells the story.
@pytest.mark.parametrize("seed", range(5))
def test_each_story_shows_within_five_minutes_and_none_runs_away(seed: int) -> None:
    balancers = dev_balancers(seed)
    garage, garage_clock = balancers["Garage 12V"]
    start = spread(garage.battery.true_voltages())
    assert start > 0.05  # tens of mV apart to start with ...
    trigger = garage.settings.balance_trigger_voltage
    assert spread(after(garage, garage_clock, 5)) <= trigger + 0.002  # ... then not

    house, house_clock = balancers["House bank"]
    five = after(house, house_clock, 5)
    assert OUT_OF_BALANCE < spread(five) < 0.06
    assert five.index(min(five)) == 6  # cell 7
    assert OUT_OF_BALANCE < spread(after(house, house_clock, 25)) < 0.06

    rack, _ = balancers["Rack 24S"]
    assert rack.battery.blocked_by_wires(rack.settings.cell_count)

    cabin, cabin_clock = balancers["Cabin 12V"]
    assert min(cabin.battery.true_voltages()) > LOW_CELL  # heading there ...
    assert min(after(cabin, cabin_clock, 5)) < LOW_CELL  # ... and there
    thirty = after(cabin, cabin_clock, 25)
    power_off = cabin.settings.power_off_voltage
    assert power_off is not None
    assert min(thirty) > power_off + 0.1
    assert spread(thirty) < Chemistry.LFP.voltages.severe_spread
