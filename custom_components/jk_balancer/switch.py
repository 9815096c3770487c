"""Switch: the balancer on or off (its setting of the protocol layer)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BalancerCoordinator
from .entity import BalancerEntity
from .entry import JKConfigEntry
from .protocol import SETTING_SPECS, ValueKind

# Writes go one at a time: each waits for the device's read-back.
PARALLEL_UPDATES = 1

SWITCHES: tuple[SwitchEntityDescription, ...] = tuple(
    SwitchEntityDescription(key=spec.key, translation_key=spec.key)
    for spec in SETTING_SPECS.values()
    if spec.kind is ValueKind.SWITCH
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the balancer switch."""
    if not isinstance(coordinator := entry.runtime_data, BalancerCoordinator):
        return  # a pack: settings and states stay with each balancer
    async_add_entities(JKSettingSwitch(coordinator, switch) for switch in SWITCHES)


class JKSettingSwitch(BalancerEntity, SwitchEntity):
    """Turns a setting on or off; the state is what the device confirms."""

    @property
    def is_on(self) -> bool:
        """Return the setting the device holds."""
        return bool(
            getattr(self.coordinator.data.settings, self.entity_description.key)
        )

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch the setting on."""
        await self.coordinator.async_write_setting(self.entity_description.key, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch the setting off."""
        await self.coordinator.async_write_setting(self.entity_description.key, False)
