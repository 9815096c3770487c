"""Switches: the balancer on or off (its setting), and its link lent to the JK app."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .config_entry import JKConfigEntry
from .coordinator import BalancerCoordinator
from .entity import BalancerEntity
from .lending import LinkLending
from .protocol import SETTING_SPECS, ValueKind

# Writes go one at a time: each waits for the device's read-back.
PARALLEL_UPDATES = 1

SWITCHES: tuple[SwitchEntityDescription, ...] = tuple(
    SwitchEntityDescription(key=spec.key, translation_key=spec.key)
    for spec in SETTING_SPECS.values()
    if spec.kind is ValueKind.SWITCH
)
LEND_LINK = SwitchEntityDescription(key="lend_link", translation_key="lend_link")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the balancer switch, and the lending of a Bluetooth link."""
    if not isinstance(coordinator := entry.runtime_data, BalancerCoordinator):
        return  # a pack: settings and states stay with each balancer
    async_add_entities(JKSettingSwitch(coordinator, switch) for switch in SWITCHES)
    # A bus is shared, not held: there is nothing to lend.
    if (lending := coordinator.lending) is not None:
        async_add_entities([JKLendSwitch(coordinator, lending)])


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


class JKLendSwitch(BalancerEntity, SwitchEntity):
    """On while the JK app has the link; it comes back by itself when time is up."""

    def __init__(self, coordinator: BalancerCoordinator, lending: LinkLending) -> None:
        """Lend through the coordinator's ``lending``."""
        super().__init__(coordinator, LEND_LINK)
        self._lending = lending

    @property
    def available(self) -> bool:
        """Also while the device cannot be reached: then it stops the retries."""
        return True

    @property
    def is_on(self) -> bool:
        """Return True while the link is lent."""
        return self._lending.until is not None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Lend the link for the lend duration (again from now if lent)."""
        await self._lending.async_lend()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Take the link back now."""
        self._lending.async_take_back()
