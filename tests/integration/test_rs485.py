"""Two DZ-series balancers on one virtual RS485 bus, through Home Assistant."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    DOMAIN,
    bus_unique_id,
)
from custom_components.jk_balancer.protocol import WIRE_RESISTANCE_LIMIT
from custom_components.jk_balancer.rs485 import DATA_PORTS
from jk_emulator import VirtualBus
from tests.integration.conftest import (
    entity_id,
    next_update,
    open_fds,
    setup_bus,
    start_fix,
    writes,
)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_two_balancers_share_one_port_with_their_own_entities(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    fds_before = open_fds(virtual_bus.path)
    entries = await setup_bus(hass, virtual_bus)
    assert [entry.state for entry in entries] == [ConfigEntryState.LOADED] * 2
    # One port, opened once, used by both.
    assert list(hass.data[DATA_PORTS]) == [virtual_bus.path]
    assert open_fds(virtual_bus.path) == fds_before + 1

    for address, unit in virtual_bus.units.items():
        cells = unit.settings.cell_count
        last = hass.states.get(
            entity_id(hass, "sensor", address, f"cell_voltage_{cells}")
        )
        assert last is not None
        assert 2.5 < float(last.state) < 3.65
        trigger = hass.states.get(
            entity_id(hass, "number", address, "balance_trigger_voltage")
        )
        assert trigger is not None
        assert float(trigger.state) == pytest.approx(
            unit.settings.balance_trigger_voltage * 1000
        )
        status = hass.states.get(entity_id(hass, "sensor", address, "balancing_status"))
        assert status is not None
        assert status.state in {"balancing", "within_trigger"}
        assert hass.states.get(
            entity_id(hass, "sensor", address, "temperature_sensor_1")
        )
        # The device page says where the balancer is found.
        port = hass.states.get(entity_id(hass, "sensor", address, "serial_port"))
        assert port is not None
        assert port.state == virtual_bus.path
        bus_address = hass.states.get(entity_id(hass, "sensor", address, "bus_address"))
        assert bus_address is not None
        assert bus_address.state == str(address)

    # What the RS485 reply does not carry is not pretended.
    registry = er.async_get(hass)
    unique_ids = {entry.unique_id for entry in registry.entities.values()}
    port = virtual_bus.path
    for missing in (
        "cell_resistance_1",
        "rssi",
        "total_runtime",
        "balance_start_voltage",
        "power_off_voltage",
    ):
        assert f"{bus_unique_id(port, 1)}-{missing}" not in unique_ids

    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entries[0].entry_id)
    assert [(d.name, d.model, d.sw_version) for d in devices] == [
        ("JK balancer 1", "JK-DZ (RS485)", None)
    ]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_a_write_to_one_address_is_confirmed_and_leaves_the_other_alone(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    first, second = virtual_bus.units[1], virtual_bus.units[2]
    untouched = second.settings
    number = entity_id(hass, "number", 1, "balance_trigger_voltage")

    await hass.services.async_call(
        "number", "set_value", {"entity_id": number, "value": 8}, blocking=True
    )

    assert first.settings.balance_trigger_voltage == pytest.approx(0.008)
    assert second.settings == untouched
    assert writes(virtual_bus) == [(1, 0xF2)]
    state = hass.states.get(number)
    assert state is not None
    assert float(state.state) == 8
    other = hass.states.get(entity_id(hass, "number", 2, "balance_trigger_voltage"))
    assert other is not None
    assert float(other.state) == pytest.approx(untouched.balance_trigger_voltage * 1000)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_a_value_out_of_range_is_refused_before_anything_is_sent(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    current = entity_id(hass, "number", 2, "max_balance_current")
    for value in (5.0, float("nan")):
        with pytest.raises(ServiceValidationError):
            await hass.services.async_call(
                "number",
                "set_value",
                {"entity_id": current, "value": value},
                blocking=True,
            )
    assert writes(virtual_bus) == []


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_switching_one_balancer_off_is_confirmed(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    switch = entity_id(hass, "switch", 2, "balancer_enabled")
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": switch}, blocking=True
    )
    assert not virtual_bus.units[2].settings.balancer_enabled
    assert virtual_bus.units[1].settings.balancer_enabled
    state = hass.states.get(switch)
    assert state is not None
    assert state.state == STATE_OFF
    status = hass.states.get(entity_id(hass, "sensor", 2, "balancing_status"))
    assert status is not None
    assert status.state == "off"


async def test_entities_recover_after_the_bus_goes_silent(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    total = entity_id(hass, "sensor", 1, "total_voltage")
    other = entity_id(hass, "sensor", 2, "total_voltage")

    virtual_bus.go_silent(3600)
    await next_update(hass)
    for entity in (total, other):
        state = hass.states.get(entity)
        assert state is not None
        assert state.state == STATE_UNAVAILABLE

    virtual_bus.speak_again()
    await next_update(hass)
    for entity in (total, other):
        state = hass.states.get(entity)
        assert state is not None
        assert float(state.state) > 40


async def test_one_silent_balancer_does_not_take_the_other_down(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    virtual_bus.go_silent(3600, address=2)
    await next_update(hass)
    first = hass.states.get(entity_id(hass, "sensor", 1, "total_voltage"))
    second = hass.states.get(entity_id(hass, "sensor", 2, "total_voltage"))
    assert first is not None
    assert second is not None
    assert float(first.state) > 40
    assert second.state == STATE_UNAVAILABLE


async def test_nothing_is_left_open_after_unload(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    fds_before = open_fds(virtual_bus.path)
    entries = await setup_bus(hass, virtual_bus)
    await hass.config_entries.async_unload(entries[0].entry_id)
    # The other balancer still uses the port.
    assert open_fds(virtual_bus.path) == fds_before + 1
    await hass.config_entries.async_unload(entries[1].entry_id)
    await hass.async_block_till_done()
    assert hass.data[DATA_PORTS] == {}
    assert open_fds(virtual_bus.path) == fds_before
    # And it opens again.
    assert await hass.config_entries.async_setup(entries[0].entry_id)
    assert entries[0].state is ConfigEntryState.LOADED


async def test_a_port_that_cannot_be_opened_retries_setup(
    hass: HomeAssistant, tmp_path: Path
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="JK balancer 1",
        unique_id=bus_unique_id(str(tmp_path / "ttyUSB9"), 1),
        data={
            CONF_TRANSPORT: "rs485",
            CONF_SERIAL_PORT: str(tmp_path / "ttyUSB9"),
            CONF_BUS_ADDRESS: 1,
        },
        minor_version=2,
    )
    # Set up first, so the messages' translations are loaded as at start-up.
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason == (
        f"Cannot use {tmp_path / 'ttyUSB9'} for JK balancer 1: "
        "No such file or directory"
    )
    # The bus of a port that never opened is not kept.
    assert hass.data[DATA_PORTS] == {}


async def test_wire_resistance_alarm_is_a_problem_and_a_repair(
    hass: HomeAssistant, virtual_bus: VirtualBus
) -> None:
    await setup_bus(hass, virtual_bus)
    virtual_bus.units[1].battery.cells[4].wire_resistance = WIRE_RESISTANCE_LIMIT * 3
    await next_update(hass)
    problem = hass.states.get(
        entity_id(hass, "binary_sensor", 1, "wire_resistance_warning")
    )
    assert problem is not None
    assert problem.state == STATE_ON
    status = hass.states.get(entity_id(hass, "sensor", 1, "balancing_status"))
    assert status is not None
    assert status.state == "wire_resistance_too_high"
    issues = [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    ]
    assert [issue.translation_key for issue in issues] == ["wire_resistance_some_cell"]


async def test_diagnostics_show_the_port_the_address_and_the_last_reply(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, virtual_bus: VirtualBus
) -> None:
    entries = await setup_bus(hass, virtual_bus)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entries[1])
    connection = diagnostics["connection"]
    assert connection["port"] == virtual_bus.path
    assert connection["address"] == 2
    assert connection["last_reply"].startswith("eb 90 02 ff")
    assert diagnostics["protocol"] == "DZ_RS485"
    assert diagnostics["cell_info"]["cell_voltages"]


async def test_a_fix_for_a_silent_unit_sends_nothing_and_shows_nothing_stale(
    hass: HomeAssistant, virtual_bus: VirtualBus, hass_client: ClientSessionGenerator
) -> None:
    """The cell-count repair, submitted after the unit went silent."""
    assert await async_setup_component(hass, "repairs", {})
    virtual_bus.units[1].change_settings(cell_count=17)  # 16 cells wired
    entries = await setup_bus(hass, virtual_bus)
    issue_id = f"cell_count_mismatch_{entries[0].entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    client = await hass_client()
    flow = await start_fix(client, DOMAIN, issue_id)
    assert flow["step_id"] == "confirm"
    virtual_bus.go_silent(3600, address=1)
    await next_update(hass)
    total = entity_id(hass, "sensor", 1, "total_voltage")
    state = hass.states.get(total)
    assert state is not None
    assert state.state == STATE_UNAVAILABLE

    response = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "write_failed"
    assert "did not answer" in result["description_placeholders"]["error"]
    assert writes(virtual_bus) == []
    state = hass.states.get(total)
    assert state is not None
    assert state.state == STATE_UNAVAILABLE
