"""Battery energy of a JK BMS for the Energy dashboard, from every frame received.

The virtual BMS's current is a known profile: pulses of a constant current,
switched on and off by the test at times it notes. Its cells do not change
(the emulator's clock stands still), so the pack power of a pulse is known.
"""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.components.switch import SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
import pytest

from custom_components.jk_balancer.const import DOMAIN
from jk_emulator import BluetoothBalancer
from tests.integration.conftest import (
    CHARGED,
    DISCHARGED,
    Proxy,
    bms,
    flow,
    next_update,
    restart_with_stored,
    setup_entry,
)

PULSE = 150.0  # A: large enough that a second of it shows to the Wh
KWH = 3_600_000.0  # W s


async def pulse(hass: HomeAssistant, device: BluetoothBalancer, amps: float) -> float:
    """``amps`` for a second; return the energy it brings, in kWh."""
    loop = hass.loop
    power = flow(device, amps)
    started = loop.time()
    await asyncio.sleep(1.0)
    flow(device, 0.0)
    return abs(power) * (loop.time() - started) / KWH


def total(hass: HomeAssistant, entity_id: str) -> float:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return float(state.state)


async def test_a_charge_and_a_discharge_pulse_are_counted_within_1_percent(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = await bms(hass, proxy)
    charged = await pulse(hass, device, PULSE)
    discharged = await pulse(hass, device, -PULSE)
    await next_update(hass)
    assert total(hass, CHARGED) == pytest.approx(charged, rel=0.01)
    assert total(hass, DISCHARGED) == pytest.approx(discharged, rel=0.01)


async def test_no_energy_is_invented_while_the_link_is_down(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Current flows while the device is out of reach; only what was seen counts."""
    device = await bms(hass, proxy)
    power = flow(device, PULSE)
    device.set_powered(False)
    await asyncio.sleep(0.5)
    device.set_powered(True)
    await next_update(hass)
    seen_before = total(hass, CHARGED)
    flow(device, 0.0)
    await next_update(hass)
    # The half second without frames is not in it, nor is anything else.
    assert total(hass, CHARGED) - seen_before < power * 0.2 / KWH
    assert total(hass, CHARGED) < power * 0.5 / KWH


async def test_a_link_that_drops_and_comes_back_slowly_bridges_nothing(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Reconnecting through a proxy takes a while; that while is not counted."""
    device = await bms(hass, proxy)
    power = flow(device, PULSE)
    await asyncio.sleep(0.3)
    proxy.radio.connect_delay = 1.0
    device.drop_link()
    await asyncio.sleep(0.5)
    flow(device, 0.0)
    await next_update(hass)
    # About 0.3 s seen; bridging the drop would have added 0.25 s and more.
    assert power * 0.15 / KWH < total(hass, CHARGED) < power * 0.45 / KWH


async def test_no_energy_is_counted_for_a_lent_link(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = await bms(hass, proxy)
    lent = "switch.jk_pb2a16s20p_lent_to_jk_app"
    power = flow(device, PULSE)
    await asyncio.sleep(0.3)
    await hass.services.async_call(
        "switch", SERVICE_TURN_ON, {ATTR_ENTITY_ID: lent}, blocking=True
    )
    await asyncio.sleep(1.0)
    flow(device, 0.0)
    await hass.services.async_call(
        "switch", SERVICE_TURN_OFF, {ATTR_ENTITY_ID: lent}, blocking=True
    )
    await next_update(hass)
    # About 0.3 s seen before the lend; bridging it would have added 0.5 s.
    assert power * 0.15 / KWH < total(hass, CHARGED) < power * 0.45 / KWH


async def test_connecting_per_update_counts_between_the_samples(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = await bms(hass, proxy, connection_mode="per_update")
    power = flow(device, PULSE)
    await next_update(hass)
    started = hass.loop.time()
    await asyncio.sleep(1.0)
    await next_update(hass)
    ended = hass.loop.time()
    flow(device, 0.0)
    # Frames of the second update arrive between the two times taken around it.
    counted = total(hass, CHARGED)
    assert power * (ended - started) / KWH * 0.9 < counted
    assert counted < power * (ended - started) / KWH * 1.1


async def test_the_totals_go_on_after_a_reload_without_the_time_between(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    device = await bms(hass, proxy)
    charged = await pulse(hass, device, PULSE)
    await next_update(hass)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert await hass.config_entries.async_unload(entry.entry_id)
    power = flow(device, PULSE)  # flowing while Home Assistant is not looking
    await asyncio.sleep(1.0)
    flow(device, 0.0)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    charged += await pulse(hass, device, PULSE)
    await next_update(hass)
    assert total(hass, CHARGED) == pytest.approx(charged, rel=0.01)
    assert total(hass, CHARGED) < charged + power * 0.2 / KWH


@pytest.mark.parametrize(
    ("stored", "unit", "restored"),
    [
        (12.5, "kWh", 12.5),
        ("12.5", "kWh", 12.5),
        (12.5, "Wh", 0.0),
        (-3.0, "kWh", 0.0),
        ("nan", "kWh", 0.0),
        ("inf", "kWh", 0.0),
        ("lots", "kWh", 0.0),
        (True, "kWh", 0.0),
        # More than a JK BMS moves in its life: it would swallow every count.
        (1e15, "kWh", 0.0),
    ],
)
async def test_a_stored_total_is_used_only_when_it_is_one(
    hass: HomeAssistant,
    proxy: Proxy,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    stored: Any,
    unit: str,
    restored: float,
) -> None:
    device = await bms(hass, proxy)
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await restart_with_stored(
        hass,
        hass_storage,
        entry,
        CHARGED,
        native_value=stored,
        native_unit_of_measurement=unit,
    )
    assert total(hass, CHARGED) == restored
    assert total(hass, DISCHARGED) == 0.0
    assert ("cannot be used" in caplog.text) == (restored == 0.0)
    # It counts on from there.
    charged = await pulse(hass, device, PULSE)
    await next_update(hass)
    assert total(hass, CHARGED) == pytest.approx(restored + charged, rel=0.01)


async def test_a_balancer_without_a_current_sensor_has_no_energy(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    await setup_entry(hass, proxy.add("jk-b2a16s"))
    assert not [
        state.entity_id
        for state in hass.states.async_all("sensor")
        if state.attributes.get("device_class") == "energy"
    ]


async def test_frames_refused_in_a_row_are_not_bridged(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    """Half a second of corrupted frames: what they carried is not known."""
    device = await bms(hass, proxy)
    power = flow(device, PULSE)
    await asyncio.sleep(0.3)
    device.corrupt_frames(1.0)
    await asyncio.sleep(0.5)
    device.corrupt_frames(0.0)
    await asyncio.sleep(0.3)
    flow(device, 0.0)
    await next_update(hass)
    # About 0.6 s seen; bridging the refused frames would add 0.5 s.
    assert power * 0.4 / KWH < total(hass, CHARGED) < power * 0.8 / KWH
