"""Numbers: the balancer's settings, with the device's own ranges.

Each number is a setting of the protocol layer: key, unit, range and step come
from its ``SettingSpec``; only how Home Assistant presents it is said here.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import BalancerCoordinator
from .entity import BalancerEntity
from .entry import JKConfigEntry
from .protocol import (
    SETTING_SPECS,
    JKError,
    Limits,
    SettingSpec,
    ValueKind,
    held_value,
    setting_limits,
)

# Writes go one at a time: each waits for the device's read-back.
PARALLEL_UPDATES = 1

DEVICE_CLASSES = {
    "V": NumberDeviceClass.VOLTAGE,
    "mV": NumberDeviceClass.VOLTAGE,
    "A": NumberDeviceClass.CURRENT,
}
# Shown once the user asks for them: a calibration is a rare, deliberate act.
HIDDEN_BY_DEFAULT = frozenset({"voltage_calibration"})


@dataclass(frozen=True, kw_only=True)
class JKNumberDescription(NumberEntityDescription):
    """A number entity for one setting."""

    spec: SettingSpec
    entity_category: EntityCategory | None = EntityCategory.CONFIG
    mode: NumberMode = NumberMode.BOX


NUMBERS: tuple[JKNumberDescription, ...] = tuple(
    JKNumberDescription(
        key=spec.key,
        translation_key=spec.key,
        spec=spec,
        device_class=DEVICE_CLASSES.get(spec.shown_unit or ""),
        native_unit_of_measurement=spec.shown_unit,
        entity_registry_enabled_default=spec.key not in HIDDEN_BY_DEFAULT,
    )
    for spec in SETTING_SPECS.values()
    if spec.kind is not ValueKind.SWITCH
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every setting the device's protocol can write."""
    if not isinstance(coordinator := entry.runtime_data, BalancerCoordinator):
        return  # a pack: settings and states stay with each balancer
    protocol = coordinator.data.protocol
    async_add_entities(
        JKSettingNumber(coordinator, description)
        for description in NUMBERS
        if description.spec.supported(protocol)
    )


class JKSettingNumber(BalancerEntity, NumberEntity):
    """A setting; its value is what the device confirmed."""

    entity_description: JKNumberDescription

    def _limits(self) -> Limits | None:
        snapshot = self.coordinator.data
        try:
            return setting_limits(
                self.entity_description.spec,
                snapshot.protocol,
                snapshot.device_info,
                snapshot.cell_info,
            )
        except JKError:
            return None

    @property
    def native_min_value(self) -> float:
        """Lowest value the device accepts."""
        limits = self._limits()
        return self.entity_description.spec.to_display(limits.minimum) if limits else 0

    @property
    def native_max_value(self) -> float:
        """Highest value the device accepts."""
        limits = self._limits()
        return self.entity_description.spec.to_display(limits.maximum) if limits else 0

    @property
    def native_step(self) -> float:
        """Resolution of the setting."""
        spec = self.entity_description.spec
        return spec.to_display(spec.step)

    @property
    def native_value(self) -> float | None:
        """Return the value the device holds (whole numbers for counts)."""
        spec = self.entity_description.spec
        snapshot = self.coordinator.data
        value = held_value(spec, snapshot.settings, snapshot.cell_info)
        if value is None:
            return None
        if spec.kind is ValueKind.INTEGER:
            return int(value)
        return spec.to_display(value)

    async def async_set_native_value(self, value: float) -> None:
        """Write the value; it shows once the device confirms it."""
        spec = self.entity_description.spec
        await self.coordinator.async_write_setting(spec.key, spec.from_display(value))
