"""Looking after a pack: status, chemistry, safe writes, imbalance, drift."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custom_components.jk_balancer.protocol import (
    BalancingStatus,
    Chemistry,
    DriftTracker,
    ImbalanceWatch,
    PackChemistry,
    Protocol,
    Snapshot,
    UnsafeSettingError,
    balancing_status,
    default_imbalance_threshold,
    validate_write,
)
from custom_components.jk_balancer.protocol.errors import SettingBetweenStepsError
from custom_components.jk_balancer.protocol.model import (
    CellInfo,
    DeviceFigures,
    DeviceInfo,
    Settings,
    summarize,
)


def snapshot(cells: tuple[float, ...], **changes: object) -> Snapshot:
    """A JK04 balancer measuring ``cells``, with the settings changed."""
    summary = summarize(cells, 6)
    info = CellInfo(
        Protocol.JK04,
        cells,
        (0.1,) * len(cells),
        round(sum(cells), 6) if cells else None,
        *summary,
        balancing=bool(changes.pop("balancing", False)),
        balancing_current=0.0,
        total_runtime=100,
        wire_resistance_warnings=tuple(changes.pop("warnings", ())),  # type: ignore[arg-type]
        device_figures=DeviceFigures(0.0, 0.0, None, None),
    )
    settings = Settings(
        cell_count=len(cells) or 4,
        balancer_enabled=True,
        balance_trigger_voltage=0.005,
        balance_start_voltage=3.0,
        max_balance_current=2.0,
        power_off_voltage=2.5,
        voltage_calibration=3.0,
        battery_capacity=None,
    )
    device = DeviceInfo("JK-B2A16S", "3.0", "3.3.0", "", "", "", 0, 0, passcode="x")
    return Snapshot(Protocol.JK04, device, replace(settings, **changes), info)  # type: ignore[arg-type]


SPREAD = (3.300, 3.320, 3.310, 3.305)
EVEN = (3.300, 3.302, 3.301, 3.303)


@pytest.mark.parametrize(
    ("pack", "expected"),
    [
        (snapshot(()), BalancingStatus.NO_CELLS),
        (snapshot(SPREAD, balancer_enabled=False), BalancingStatus.OFF),
        (snapshot(SPREAD, balancing=True), BalancingStatus.BALANCING),
        (snapshot(SPREAD, cell_count=5), BalancingStatus.CELL_COUNT_MISMATCH),
        (snapshot(SPREAD, warnings=(2,)), BalancingStatus.WIRE_RESISTANCE_TOO_HIGH),
        (
            snapshot(SPREAD, balance_start_voltage=3.4),
            BalancingStatus.BELOW_START_VOLTAGE,
        ),
        (snapshot(EVEN), BalancingStatus.WITHIN_TRIGGER),
        # 6 mV against a 5 mV trigger: within the device's measuring noise.
        (snapshot((3.300, 3.306, 3.303, 3.301)), BalancingStatus.WITHIN_TRIGGER),
        # It could balance and does not yet: the device decides on its sample.
        (snapshot(SPREAD), None),
    ],
)
def test_balancing_status(pack: Snapshot, expected: BalancingStatus | None) -> None:
    assert balancing_status(pack) is expected


def test_the_status_has_exactly_the_seven_states() -> None:
    assert [status.value for status in BalancingStatus] == [
        "balancing",
        "off",
        "within_trigger",
        "below_start_voltage",
        "wire_resistance_too_high",
        "cell_count_mismatch",
        "no_cells",
    ]


@pytest.mark.parametrize(
    ("cells", "chemistry"),
    [
        ((3.31, 3.32), Chemistry.LFP),
        ((2.9, 3.0), Chemistry.LFP),  # an empty LFP pack, not LTO
        ((3.9, 4.1), Chemistry.NCM),
        ((2.30, 2.35), Chemistry.LTO),
        ((), Chemistry.LFP),
    ],
)
def test_chemistry_from_the_cells(
    cells: tuple[float, ...], chemistry: Chemistry
) -> None:
    assert PackChemistry.from_cells(snapshot(cells).cell_info).likely is chemistry


def test_a_power_off_voltage_within_a_loaded_packs_sag_is_refused() -> None:
    """A pack under load sags: 10 mV under the lowest resting cell is too close."""
    nearly_empty = snapshot((3.050, 3.080, 3.070, 3.060))
    assert validate_write(nearly_empty, "power_off_voltage", 2.95).value == 2.95
    for value in (2.96, 3.0):  # within 0.1 V, below LFP's ceiling of 3.0 V
        with pytest.raises(UnsafeSettingError) as caught:
            validate_write(nearly_empty, "power_off_voltage", value)
        assert caught.value.translation_key == "power_off_at_cells"
        assert caught.value.placeholders["lowest"] == "3.050"
        assert caught.value.placeholders["margin"] == "0.1"
        assert caught.value.placeholders["highest"] == "2.95"
        assert "nothing was sent" in str(caught.value)
    with pytest.raises(UnsafeSettingError) as caught:
        validate_write(snapshot(()), "power_off_voltage", 2.5)
    assert caught.value.translation_key == "power_off_without_cells"


def test_a_power_off_voltage_above_what_the_chemistry_needs_is_refused() -> None:
    pack = snapshot(SPREAD)  # LiFePO4 at rest, 3.30 V and more
    with pytest.raises(UnsafeSettingError) as caught:
        validate_write(pack, "power_off_voltage", 3.2)
    assert caught.value.translation_key == "power_off_above_inferred_chemistry"
    with pytest.raises(UnsafeSettingError) as caught:
        validate_write(pack, "power_off_voltage", 3.2, chemistry=Chemistry.LFP)
    assert caught.value.translation_key == "power_off_above_chemistry"
    assert caught.value.placeholders == {
        "value": "3.2",
        "chemistry": "LFP",
        "ceiling": "3",
        "usual": "2.5",
        "unit": "V",
    }
    assert validate_write(pack, "power_off_voltage", 3.0).value == 3.0
    # NCM cells at 3.3 V are nearly empty: 3.2 V is a usual power-off there.
    assert validate_write(
        pack, "power_off_voltage", 3.2, chemistry=Chemistry.NCM
    ).value == pytest.approx(3.2)


@pytest.mark.parametrize(
    ("key", "value", "below", "above"),
    [
        ("max_balance_current", 0.15, "0.1 A", "0.2 A"),
        ("cell_count", 15.5, "15", "16"),
        ("balance_trigger_voltage", 0.0055, "5 mV", "6 mV"),  # shown in mV
    ],
)
def test_a_value_between_steps_is_refused_with_the_steps_either_side(
    key: str, value: float, below: str, above: str
) -> None:
    pack = snapshot(SPREAD)
    with pytest.raises(SettingBetweenStepsError) as caught:
        validate_write(pack, key, value)
    assert caught.value.placeholders["below"] == below
    assert caught.value.placeholders["above"] == above
    # What a float's last digit adds is no value between steps.
    assert validate_write(pack, "max_balance_current", 0.1 + 0.2).value == 0.3


def test_a_start_voltage_the_chemistry_never_reaches_is_refused() -> None:
    pack = snapshot(SPREAD)
    assert validate_write(pack, "balance_start_voltage", 3.4).value == 3.4
    with pytest.raises(UnsafeSettingError) as caught:
        validate_write(pack, "balance_start_voltage", 3.8)
    assert caught.value.translation_key == "start_voltage_unreachable"
    assert caught.value.placeholders["chemistry"] == "LFP"
    assert caught.value.placeholders["full"] == "3.6"
    # An NCM pack reaches it.
    assert validate_write(
        pack, "balance_start_voltage", 3.8, chemistry=Chemistry.NCM
    ).value == pytest.approx(3.8)


def test_fewer_cells_than_are_connected_only_when_confirmed() -> None:
    pack = snapshot(SPREAD)
    with pytest.raises(UnsafeSettingError) as caught:
        validate_write(pack, "cell_count", 3)
    assert caught.value.translation_key == "cell_count_below_connected"
    assert caught.value.placeholders["connected"] == "4"
    assert validate_write(pack, "cell_count", 3, fewer_cells_confirmed=True).value == 3
    assert validate_write(pack, "cell_count", 6).value == 6


def test_the_imbalance_threshold_follows_the_trigger() -> None:
    assert default_imbalance_threshold(0.005) == 0.02  # at least 20 mV
    assert default_imbalance_threshold(0.010) == 0.03


def test_one_noisy_sample_does_not_raise_the_imbalance() -> None:
    watch = ImbalanceWatch(threshold=0.02, hold=60)
    assert not watch.update(0.030, now=0)
    assert not watch.update(0.010, now=30)  # back below: it was noise
    assert not watch.update(0.030, now=60)
    assert not watch.update(0.030, now=90)
    assert watch.update(0.030, now=120)  # above for the whole hold time
    assert watch.update(0.010, now=150)  # and it clears the same way
    assert watch.update(None, now=170)  # nothing measured: no change
    assert not watch.update(0.010, now=210)


def test_the_drifting_cell_is_found_over_the_window() -> None:
    tracker = DriftTracker(window=3600)
    for minute in range(60):
        weak = 3.30 - 0.001 * minute  # cell 3 falls behind
        tracker.add((3.30, 3.301, weak, 3.299), now=60.0 * minute)
    drift = tracker.drift(now=3600)
    assert drift is not None
    assert drift.cell == 3
    assert drift.deviation < -0.015
    # Stored and restored, as across a restart of Home Assistant.
    restored, problem = DriftTracker.restore(tracker.to_data(), window=3600)
    assert problem is None
    assert restored.drift(now=3600) == drift
    # A window later, the old samples are forgotten.
    assert restored.drift(now=3 * 3600) is None
    garbage, problem = DriftTracker.restore({"window": 3600, "buckets": "x"}, 3600)
    assert garbage.drift(now=0) is None
    assert problem == "no list of buckets"
