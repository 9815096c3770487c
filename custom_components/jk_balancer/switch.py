"""Switch: the balancer on or off."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import JKBalancerConfigEntry
from .entity import JKBalancerEntity

# Writes go one at a time: each waits for the device's read-back.
PARALLEL_UPDATES = 1

BALANCER = SwitchEntityDescription(
    key="balancer_enabled", translation_key="balancer_enabled"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the balancer switch."""
    async_add_entities([JKBalancerSwitch(entry.runtime_data, BALANCER)])


class JKBalancerSwitch(JKBalancerEntity, SwitchEntity):
    """Turns balancing on or off; the state is what the device confirms."""

    @property
    def is_on(self) -> bool:
        """Return the setting the device holds."""
        return self.coordinator.data.settings.balancer_enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch balancing on."""
        await self.coordinator.async_write_setting("balancer_enabled", True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch balancing off."""
        await self.coordinator.async_write_setting("balancer_enabled", False)
