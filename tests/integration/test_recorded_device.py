"""A real JK-B2A16S, replayed: the frames it sent reach Home Assistant intact.

The device behind the virtual proxy answers with the frames recorded from a
real JK-B2A16S (hardware 3.0, software 3.3.0) in the captures, passcode
included. The values expected here come from those frames; that the decoder
reads them right is proven against the captures in tests/protocol.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import SOURCE_BLUETOOTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, CONF_PASSWORD, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.jk_balancer.const import DOMAIN
from custom_components.jk_balancer.protocol import (
    CellInfo,
    Frame,
    FrameDecoder,
    Settings,
)
from custom_components.jk_balancer.protocol.settings import (
    get_spec,
)
from jk_emulator import RecordedBalancer
from jk_tools.captures import load_frames
from tests.conftest import FAST
from tests.integration.conftest import Proxy, device_of

RECORDING = "btsnoop/btsnoop_hci_jk-b2a16s_hw30_sw330.log"
ADDRESS = "C8:47:80:0F:D5:C5"


@pytest.fixture
def recorded_frames(captures: Path) -> list[Frame]:
    return [frame for _, frame in load_frames(captures / RECORDING).frames]


def entity_id(hass: HomeAssistant, platform: str, key: str) -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{ADDRESS}-{key}")
    assert found is not None, key
    return found


def state(hass: HomeAssistant, platform: str, key: str) -> str:
    current = hass.states.get(entity_id(hass, platform, key))
    assert current is not None, key
    return current.state


async def test_real_jk_b2a16s_through_discovery_password_and_entities(
    hass: HomeAssistant, proxy: Proxy, recorded_frames: list[Frame]
) -> None:
    device = proxy.put(
        RecordedBalancer(
            recorded_frames, address=ADDRESS, name="Garage-BMS", time_scale=FAST
        )
    )
    decoder = FrameDecoder()
    decoded = [decoder.decode(frame) for frame in recorded_frames]
    recorded_cells = {d.cell_voltages for d in decoded if isinstance(d, CellInfo)}
    settings = next(d for d in decoded if isinstance(d, Settings))
    assert decoder.device_info is not None
    real_password = decoder.device_info.passcode

    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_BLUETOOTH]
    assert flows[0]["context"]["title_placeholders"] == {"name": "Garage-BMS"}

    wrong = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_PASSWORD: real_password + "0"}
    )
    assert wrong["type"] is FlowResultType.FORM
    assert wrong["errors"] == {"base": "invalid_auth"}

    accepted = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_PASSWORD: real_password}
    )
    assert accepted["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert accepted["result"].state is ConfigEntryState.LOADED

    registered = device_of(hass, accepted["result"].entry_id)
    assert registered.identifiers == {(DOMAIN, ADDRESS)}
    assert (registered.model, registered.hw_version, registered.sw_version) == (
        "JK-B2A16S",
        "3.0",
        "3.3.0",
    )
    assert registered.serial_number is None  # this firmware reports none

    shown = tuple(
        float(state(hass, "sensor", f"cell_voltage_{cell}")) for cell in range(1, 17)
    )
    assert shown in recorded_cells
    assert hass.states.get("sensor.garage_bms_voltage_cell_17") is None

    assert state(hass, "switch", "balancer_enabled") == STATE_ON
    assert float(state(hass, "number", "cell_count")) == settings.cell_count == 16
    for key in (
        "balance_trigger_voltage",
        "balance_start_voltage",
        "max_balance_current",
        "power_off_voltage",
    ):
        shown = get_spec(key).to_display(getattr(settings, key))
        assert float(state(hass, "number", key)) == shown, key

    # The real identity's ranges apply to writes: a new trigger is confirmed.
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {
            ATTR_ENTITY_ID: entity_id(hass, "number", "balance_trigger_voltage"),
            ATTR_VALUE: 8,  # mV
        },
        blocking=True,
    )
    # JK04 registers hold 32-bit floats.
    assert device.writes == [("balance_trigger_voltage", pytest.approx(0.008))]
    assert float(state(hass, "number", "balance_trigger_voltage")) == 8
