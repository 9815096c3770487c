"""Diagnostics never contain the password or the device's passcodes."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.jk_balancer.protocol import Frame, decode_device_info
from tests.integration.conftest import Proxy, setup_entry


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, proxy: Proxy, hass_client: ClientSessionGenerator
) -> None:
    device = proxy.add("jk-b2a24s20p", passcode="73915")
    entry = await setup_entry(hass, device, password="73915")
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "73915" not in json.dumps(diagnostics)
    assert diagnostics["entry"]["data"]["password"] == "**REDACTED**"
    assert diagnostics["protocol"] == "JK02_24S"
    assert diagnostics["device_info"]["vendor_id"] == "JK-B2A24S20P"
    assert diagnostics["settings"]["cell_count"] == 24
    assert len(diagnostics["cell_info"]["cell_voltages"]) == 24
    assert diagnostics["connection"]["connected"] is True
    assert diagnostics["connection"]["assembler"]["frames"] >= 3
    frames = diagnostics["connection"]["last_frames"]
    assert set(frames) == {"device_info", "settings", "cell_info"}
    # The raw device-info frame stays decodable, minus the passcodes.
    raw = bytes.fromhex(frames["device_info"])
    assert decode_device_info(Frame.from_bytes(raw)).passcode == ""
