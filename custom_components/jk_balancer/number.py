"""Numbers: the balancer's settings, with the device's own ranges, and the lend time.

Each setting is one of the protocol layer: key, unit, range and step come from
its ``SettingSpec``; only how Home Assistant presents it is said here. How long
the Bluetooth link is lent to the JK app is Home Assistant's own, kept across
restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
    RestoreNumber,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .config_entry import JKConfigEntry
from .const import DOMAIN
from .coordinator import BalancerCoordinator
from .entity import BalancerEntity
from .lending import MAX_LEND_MINUTES, MIN_LEND_MINUTES, LinkLending
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
LEND_MINUTES = NumberEntityDescription(
    key="lend_minutes",
    translation_key="lend_minutes",
    device_class=NumberDeviceClass.DURATION,
    native_unit_of_measurement=UnitOfTime.MINUTES,
    native_min_value=MIN_LEND_MINUTES,
    native_max_value=MAX_LEND_MINUTES,
    native_step=1,
    mode=NumberMode.BOX,
    entity_category=EntityCategory.CONFIG,
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
    if (lending := coordinator.lending) is not None:
        async_add_entities([JKLendMinutes(coordinator, lending)])


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


class JKLendMinutes(BalancerEntity, RestoreNumber):
    """For how long the link is lent to the JK app (the owner's choice)."""

    def __init__(self, coordinator: BalancerCoordinator, lending: LinkLending) -> None:
        """Set the time of the coordinator's ``lending``."""
        super().__init__(coordinator, LEND_MINUTES)
        self._lending = lending

    async def async_added_to_hass(self) -> None:
        """Take the time chosen before, if it is one that can be chosen."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_number_data()
        minutes = None if stored is None else stored.native_value
        # A stored value is input too: a number in range, or the default.
        if (
            isinstance(minutes, int | float)
            and not isinstance(minutes, bool)
            and MIN_LEND_MINUTES <= minutes <= MAX_LEND_MINUTES
        ):
            self._lending.minutes = round(minutes)

    @property
    def available(self) -> bool:
        """Home Assistant's own setting: there whether the device answers or not."""
        return True

    @property
    def native_value(self) -> float:
        """Minutes the next lend lasts."""
        return self._lending.minutes

    async def async_set_native_value(self, value: float) -> None:
        """Lend for ``value`` minutes from the next time on."""
        # NaN passes Home Assistant's range check (it compares false).
        if (
            not math.isfinite(value)
            or not MIN_LEND_MINUTES <= value <= MAX_LEND_MINUTES
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="lend_minutes_out_of_range",
                translation_placeholders={
                    "value": str(value),
                    "min": str(MIN_LEND_MINUTES),
                    "max": str(MAX_LEND_MINUTES),
                },
            )
        self._lending.minutes = round(value)
        self.async_write_ha_state()
