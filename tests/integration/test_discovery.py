"""Which advertisements Home Assistant offers as JK balancers.

The real ones come from ``captures/advertisements_jikong.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bluetooth_data_tools import monotonic_time_coarse
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
import pytest

from custom_components.jk_balancer.const import DOMAIN
from tests.integration.conftest import Proxy, start_user_flow

# Some V19 units advertise only this malformed service UUID.
MALFORMED_V19_UUID = "0000fee7ffe0-0000-1000-8000-00805f9b34fb"


def real_advertisements(captures: Path) -> list[dict[str, Any]]:
    entries = json.loads((captures / "advertisements_jikong.json").read_text())
    return [entry["advertisement"] for entry in entries]


def advertise(
    proxy: Proxy,
    address: str,
    advertisement: dict[str, Any],
    service_uuids: list[str] | None = None,
) -> None:
    """Hand one advertisement to Home Assistant through the proxy."""
    proxy.scanner._async_on_advertisement(
        address,
        advertisement.get("rssi", -70),
        advertisement["local_name"],
        advertisement.get("service_uuids", [])
        if service_uuids is None
        else service_uuids,
        {},
        {
            int(company): bytes.fromhex(data)
            for company, data in advertisement["manufacturer_data"].items()
        },
        None,
        {},
        monotonic_time_coarse(),
    )


def discovered(hass: HomeAssistant) -> set[str]:
    return {
        flow["context"]["unique_id"]
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] != SOURCE_USER
    }


@pytest.mark.parametrize("malformed_uuid", [False, True])
async def test_every_real_jk_advertisement_is_discovered(
    hass: HomeAssistant, proxy: Proxy, captures: Path, malformed_uuid: bool
) -> None:
    advertisements = real_advertisements(captures)
    assert len(advertisements) >= 5
    addresses = [f"C8:47:80:AA:00:{n:02X}" for n in range(len(advertisements))]
    for address, advertisement in zip(addresses, advertisements, strict=True):
        advertise(
            proxy,
            address,
            advertisement,
            [MALFORMED_V19_UUID] if malformed_uuid else None,
        )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert discovered(hass) == set(addresses)


@pytest.mark.parametrize(
    "manufacturer_data",
    [
        {"2917": "0102030405060708"},  # the same company id, other data
        {"2917": "88"},  # too short to hold the marker
        {"76": "88a0c847800fd5c5"},  # the marker under another company
    ],
)
async def test_other_devices_are_not_discovered(
    hass: HomeAssistant, proxy: Proxy, manufacturer_data: dict[str, str]
) -> None:
    advertise(
        proxy,
        "AA:BB:CC:00:00:01",
        {
            "local_name": "Thermometer",
            "manufacturer_data": manufacturer_data,
            "service_uuids": ["0000ffe0-0000-1000-8000-00805f9b34fb"],
        },
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert discovered(hass) == set()
    result = await start_user_flow(hass, "bluetooth_device")
    # The user step offers what discovery offers, nothing else.
    assert result["reason"] == "no_devices_found"
