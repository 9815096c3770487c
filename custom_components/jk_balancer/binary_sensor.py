"""Binary sensors: balancing, and the problems from the manuals' fault table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import JKBalancerConfigEntry
from .entity import JKBalancerEntity
from .protocol import Snapshot

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class JKBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor and how to read it from a snapshot."""

    is_on_fn: Callable[[Snapshot], bool]
    attributes_fn: Callable[[Snapshot], Mapping[str, Any]] | None = None
    exists_fn: Callable[[Snapshot], bool] = lambda _snapshot: True


BINARY_SENSORS: tuple[JKBinarySensorDescription, ...] = (
    JKBinarySensorDescription(
        key="balancing",
        translation_key="balancing",
        device_class=BinarySensorDeviceClass.RUNNING,
        is_on_fn=lambda snapshot: snapshot.cell_info.balancing,
    ),
    JKBinarySensorDescription(
        key="wire_resistance_warning",
        translation_key="wire_resistance_warning",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda snapshot: bool(snapshot.cell_info.wire_resistance_warnings),
        attributes_fn=lambda snapshot: {
            "cells": list(snapshot.cell_info.wire_resistance_warnings)
        },
    ),
    JKBinarySensorDescription(
        key="cell_count_mismatch",
        translation_key="cell_count_mismatch",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda snapshot: snapshot.cell_count_mismatch,
    ),
    JKBinarySensorDescription(
        key="device_errors",
        translation_key="device_errors",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda snapshot: bool(snapshot.cell_info.errors),
        attributes_fn=lambda snapshot: {"errors": list(snapshot.cell_info.errors)},
        exists_fn=lambda snapshot: snapshot.protocol.is_jk02,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKBalancerConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors the device supports."""
    coordinator = entry.runtime_data
    async_add_entities(
        JKBinarySensor(coordinator, description)
        for description in BINARY_SENSORS
        if description.exists_fn(coordinator.data)
    )


class JKBinarySensor(JKBalancerEntity, BinarySensorEntity):
    """A binary sensor read from the newest snapshot."""

    entity_description: JKBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Return the state from the newest snapshot."""
        return self.entity_description.is_on_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return which cells or errors are concerned."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)
