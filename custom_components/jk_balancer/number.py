"""Numbers: the balancer's settings, with the device's own ranges."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import JKBalancerConfigEntry
from .entity import JKBalancerEntity
from .protocol import JKError, Limits, ValueKind, get_spec, setting_limits
from .protocol.commands import held_value

# Writes go one at a time: each waits for the device's read-back.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class JKNumberDescription(NumberEntityDescription):
    """A number entity; ``key`` names the setting in the protocol layer."""

    entity_category: EntityCategory | None = EntityCategory.CONFIG
    mode: NumberMode = NumberMode.BOX


NUMBERS: tuple[JKNumberDescription, ...] = (
    JKNumberDescription(
        key="balance_trigger_voltage",
        translation_key="balance_trigger_voltage",
        device_class=NumberDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
    ),
    JKNumberDescription(
        key="balance_start_voltage",
        translation_key="balance_start_voltage",
        device_class=NumberDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
    ),
    JKNumberDescription(
        key="max_balance_current",
        translation_key="max_balance_current",
        device_class=NumberDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
    ),
    JKNumberDescription(key="cell_count", translation_key="cell_count"),
    JKNumberDescription(
        key="power_off_voltage",
        translation_key="power_off_voltage",
        device_class=NumberDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
    ),
    JKNumberDescription(
        key="battery_capacity",
        translation_key="battery_capacity",
        native_unit_of_measurement="Ah",
    ),
    # Shows the pack voltage the device measures; enter the one a meter shows.
    JKNumberDescription(
        key="voltage_calibration",
        translation_key="voltage_calibration",
        device_class=NumberDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        entity_registry_enabled_default=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every setting the device's protocol can write."""
    coordinator = entry.runtime_data
    protocol = coordinator.data.protocol
    async_add_entities(
        JKSettingNumber(coordinator, description)
        for description in NUMBERS
        if get_spec(description.key).supported(protocol)
    )


class JKSettingNumber(JKBalancerEntity, NumberEntity):
    """A setting; its value is what the device confirmed."""

    entity_description: JKNumberDescription

    def _limits(self) -> Limits | None:
        snapshot = self.coordinator.data
        try:
            return setting_limits(
                get_spec(self.entity_description.key),
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
        return limits.minimum if limits else 0.0

    @property
    def native_max_value(self) -> float:
        """Highest value the device accepts."""
        limits = self._limits()
        return limits.maximum if limits else 0.0

    @property
    def native_step(self) -> float:
        """Resolution of the setting."""
        return get_spec(self.entity_description.key).step

    @property
    def native_value(self) -> float | None:
        """Return the value the device holds (whole numbers for counts)."""
        spec = get_spec(self.entity_description.key)
        snapshot = self.coordinator.data
        value = held_value(spec, snapshot.settings, snapshot.cell_info)
        if value is not None and spec.kind is ValueKind.INTEGER:
            return int(value)
        return value

    async def async_set_native_value(self, value: float) -> None:
        """Write the value; it shows once the device confirms it."""
        await self.coordinator.async_write_setting(self.entity_description.key, value)
