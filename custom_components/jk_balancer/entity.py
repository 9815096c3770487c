"""Base entity of the JK Active Balancer integration."""

from __future__ import annotations

from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER
from .coordinator import JKBalancerCoordinator


class JKBalancerEntity(CoordinatorEntity[JKBalancerCoordinator]):
    """An entity of one balancer, described by an entity description."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: JKBalancerCoordinator,
        description: EntityDescription,
        key: str | None = None,
    ) -> None:
        """Set up the entity; ``key`` (default: the description's) makes its id."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.address}-{key or description.key}"
        info = coordinator.data.device_info
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.address)},
            connections={(CONNECTION_BLUETOOTH, coordinator.address)},
            name=coordinator.config_entry.title,
            manufacturer=MANUFACTURER,
            model=info.vendor_id,
            hw_version=info.hardware_version,
            sw_version=info.software_version,
            serial_number=info.serial_number or None,
        )
