"""Which chemistry a pack is, told by its cells over a whole charge and discharge.

The packs are the virtual balancer's: sixteen cells on a daily current that
charges them from nearly empty to full and back, each cell's terminal voltage
raised by its internal resistance while current flows. One cell starts ahead
(the runner at the top of the charge) and one leaks (it lags behind).
"""

from __future__ import annotations

from collections.abc import Iterator
import random

import pytest

from custom_components.jk_balancer.protocol import (
    SETTING_SPECS,
    Chemistry,
    ChemistryWatch,
    PackChemistry,
    Settings,
)
from jk_emulator.battery import Battery, Cell

CELLS = 16
CAPACITY = 100.0  # Ah
PERIOD = 8 * 3600.0  # s: one charge and one discharge
STEP = 30.0  # s between frames (an update interval)


def settings() -> Settings:
    defaults = {key: spec.default for key, spec in SETTING_SPECS.items()}
    return Settings(
        cell_count=CELLS,
        balancer_enabled=True,
        balance_trigger_voltage=defaults["balance_trigger_voltage"],
        balance_start_voltage=defaults["balance_start_voltage"],
        max_balance_current=defaults["max_balance_current"],
        power_off_voltage=None,
        voltage_calibration=None,
        battery_capacity=None,
    )


def cycle(chemistry: Chemistry) -> Iterator[tuple[float, list[float]]]:
    """The cells of every frame of a day's charge and discharge, timed."""
    cells = [Cell(charge=0.03 * CAPACITY) for _ in range(CELLS)]
    cells[3].charge += 0.05 * CAPACITY  # the runner
    cells[11].leak_current = 1.0  # the lagging cell
    battery = Battery(
        chemistry,
        CAPACITY,
        cells,
        random.Random(1),
        internal_resistance=0.002,
        load_amplitude=60.0,
        load_period=PERIOD,
    )
    held = settings()
    elapsed = 0.0
    while elapsed < PERIOD:
        battery.advance(STEP, held)
        elapsed += STEP
        yield elapsed, [round(v, 3) for v in battery.measured_voltages()]


@pytest.mark.parametrize("chemistry", list(Chemistry))
def test_a_healthy_pack_is_never_taken_for_another_chemistry(
    chemistry: Chemistry,
) -> None:
    watch = ChemistryWatch()
    true = chemistry.voltages
    highest_middle = 0.0
    for now, cells in cycle(chemistry):
        watch.update(cells, now)
        known = watch.pack_chemistry()
        assert chemistry in known.candidates, (now, cells)
        assert known.known in (None, chemistry)
        # Nothing it is not is warned about, and no guard is looser than its own.
        assert known.lowest(lambda v: v.low)[1] <= true.low
        assert known.lowest(lambda v: v.power_off_ceiling)[1] <= true.power_off_ceiling
        assert known.lowest(lambda v: v.severe_spread)[1] <= true.severe_spread
        # Warnings go by the candidates the cells fit now: its own is one.
        assert chemistry in known.plausible.candidates, (now, cells)
        assert watch.contradicted() is None
        highest_middle = max(highest_middle, watch.middle or 0.0)
        if chemistry is Chemistry.LFP:
            # The runner at the top of the charge goes beyond 3.65 V.
            assert max(cells) < 4.0
    ruled_in = watch.pack_chemistry()
    if chemistry is Chemistry.NCM:
        assert ruled_in.known is Chemistry.NCM
    else:
        assert ruled_in.ordered[0] is chemistry
    assert highest_middle > chemistry.voltages.full - 0.25  # it was charged


def test_the_lfp_runner_goes_beyond_what_the_old_rule_took_for_ncm() -> None:
    """Any cell above 3.65 V meant NCM; the runner of a healthy LFP pack is one."""
    highest = max(max(cells) for _, cells in cycle(Chemistry.LFP))
    assert highest > 3.65


def test_ruled_out_stays_ruled_out_and_is_stored_bounded() -> None:
    watch = ChemistryWatch()
    watch.update([4.0] * 4, 0.0)
    assert watch.pack_chemistry().known is Chemistry.NCM
    watch.update([3.3] * 4, 10.0)
    assert watch.pack_chemistry().known is Chemistry.NCM
    restored, problem = ChemistryWatch.restore(watch.to_data())
    assert problem is None
    assert restored.candidates == {Chemistry.NCM}
    for stored in (["lfp", "ncm", "lto"], ["xyz"], "lfp", [1], {"lfp": True}):
        fresh, problem = ChemistryWatch.restore(stored)
        assert problem is not None
        assert fresh.candidates == set(Chemistry)


def test_a_charger_set_too_high_rules_lfp_out_only_after_the_hold() -> None:
    watch = ChemistryWatch(hold=600.0)
    high = [
        3.78,
    ] * 4
    watch.update(high, 0.0)
    assert Chemistry.LFP in watch.candidates
    watch.update(high, 599.0)
    assert Chemistry.LFP in watch.candidates
    watch.update(high, 600.0)
    assert Chemistry.LFP not in watch.candidates


def test_cells_beyond_the_chosen_chemistry_contradict_it_until_well_back() -> None:
    watch = ChemistryWatch(hold=600.0)
    for now in (0.0, 300.0, 600.0):
        watch.update(
            [
                3.9,
            ]
            * 8,
            now,
        )
    assert watch.contradicted(Chemistry.LFP) is Chemistry.LFP
    assert watch.fitting() == [Chemistry.NCM]
    # Just below LFP's highest, the standing warning stays; well below, it goes.
    watch.update(
        [
            3.7,
        ]
        * 8,
        700.0,
    )
    assert watch.contradicted(Chemistry.LFP, warned=True) is Chemistry.LFP
    assert watch.contradicted(Chemistry.LFP, warned=False) is None
    watch.update(
        [
            3.5,
        ]
        * 8,
        800.0,
    )
    assert watch.contradicted(Chemistry.LFP, warned=True) is None


def test_one_frame_tells_what_it_can() -> None:
    assert PackChemistry(frozenset(Chemistry)).likely is Chemistry.LFP
    lto = PackChemistry(frozenset(Chemistry), middle=2.325)
    assert lto.likely is Chemistry.LTO
    assert lto.name == "LTO/LFP/NCM"
