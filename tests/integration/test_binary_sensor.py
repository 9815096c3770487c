"""Binary sensors: balancing and the problems, as users see them."""

from __future__ import annotations

from homeassistant.const import (
    Platform,
)
from homeassistant.core import HomeAssistant
import pytest
from syrupy.assertion import SnapshotAssertion

from tests.integration.conftest import (
    Proxy,
    platform_entities,
)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("profile", ["jk-b2a4s", "jk-b2a24s20p"])
async def test_snapshot(
    hass: HomeAssistant, proxy: Proxy, snapshot: SnapshotAssertion, profile: str
) -> None:
    """Every binary sensor of a JK04 balancer and a JK BMS, as users see it."""
    assert (
        await platform_entities(hass, proxy, Platform.BINARY_SENSOR, profile)
        == snapshot
    )
