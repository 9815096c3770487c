"""Base entity of the JK Active Balancer integration."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN, MANUFACTURER, entity_unique_id
from .coordinator import BalancerCoordinator


class BalancerEntity(CoordinatorEntity[BalancerCoordinator]):
    """An entity of one balancer, described by an entity description."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: BalancerCoordinator,
        description: EntityDescription,
        key: str | None = None,
    ) -> None:
        """Set up the entity; ``key`` (default: the description's) makes its id."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = entity_unique_id(
            coordinator.device_key, key or description.key
        )
        info = coordinator.data.device_info
        # A balancer on a bus says nothing of its versions or serial number.
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, coordinator.device_key)},
            connections=coordinator.connections,
            name=coordinator.config_entry.title,
            manufacturer=MANUFACTURER,
            model=info.vendor_id,
            hw_version=info.hardware_version or None,
            sw_version=info.software_version or None,
            serial_number=info.serial_number or None,
        )
