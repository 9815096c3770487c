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

from .config_entry import JKConfigEntry
from .coordinator import BalancerCoordinator
from .entity import BalancerEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class JKBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor and how to read it from the coordinator."""

    is_on_fn: Callable[[BalancerCoordinator], bool | None]
    attributes_fn: Callable[[BalancerCoordinator], Mapping[str, Any]] | None = None
    exists_fn: Callable[[BalancerCoordinator], bool] = lambda _coordinator: True


def _bms(coordinator: BalancerCoordinator) -> bool:
    return coordinator.data.measures_pack_current


def _imbalance_attributes(coordinator: BalancerCoordinator) -> Mapping[str, Any]:
    """The threshold, and the cell an automation would name."""
    care, cells = coordinator.care, coordinator.data.cell_info
    delta = cells.delta_cell_voltage
    drift = care.drift
    return {
        "threshold": round(care.threshold(coordinator.data) * 1000, 1),
        "delta": None if delta is None else round(delta * 1000, 1),
        "drifting_cell": care.drifting_cell(coordinator.data),
        "deviation": None if drift is None else round(drift.deviation * 1000, 1),
    }


BINARY_SENSORS: tuple[JKBinarySensorDescription, ...] = (
    # "Balancing status" says it too (and why not): kept for automations.
    JKBinarySensorDescription(
        key="balancing",
        translation_key="balancing",
        device_class=BinarySensorDeviceClass.RUNNING,
        entity_registry_enabled_default=False,
        is_on_fn=lambda c: c.data.cell_info.balancing,
    ),
    JKBinarySensorDescription(
        key="cells_out_of_balance",
        translation_key="cells_out_of_balance",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda c: c.care.watch.out_of_balance,
        attributes_fn=_imbalance_attributes,
    ),
    JKBinarySensorDescription(
        key="wire_resistance_warning",
        translation_key="wire_resistance_warning",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda c: c.data.cell_info.wire_resistance_too_high,
        attributes_fn=lambda c: {
            "cells": list(c.data.cell_info.wire_resistance_warnings)
        },
    ),
    JKBinarySensorDescription(
        key="cell_count_mismatch",
        translation_key="cell_count_mismatch",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda c: c.data.cell_count_mismatch,
    ),
    JKBinarySensorDescription(
        key="device_errors",
        translation_key="device_errors",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda c: bool(c.data.cell_info.errors),
        attributes_fn=lambda c: {"errors": list(c.data.cell_info.errors)},
        exists_fn=lambda c: not c.data.protocol.is_bluetooth or c.data.protocol.is_jk02,
    ),
    # A JK BMS switches charging and discharging with its MOSFETs.
    JKBinarySensorDescription(
        key="charge_mosfet",
        translation_key="charge_mosfet",
        is_on_fn=lambda c: c.data.cell_info.charging,
        exists_fn=_bms,
    ),
    JKBinarySensorDescription(
        key="discharge_mosfet",
        translation_key="discharge_mosfet",
        is_on_fn=lambda c: c.data.cell_info.discharging,
        exists_fn=_bms,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors the device supports."""
    if not isinstance(coordinator := entry.runtime_data, BalancerCoordinator):
        return  # a pack: settings and states stay with each balancer
    async_add_entities(
        JKBinarySensor(coordinator, description)
        for description in BINARY_SENSORS
        if description.exists_fn(coordinator)
    )


class JKBinarySensor(BalancerEntity, BinarySensorEntity):
    """A binary sensor read from the newest snapshot."""

    entity_description: JKBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """Return the state from the newest snapshot."""
        return self.entity_description.is_on_fn(self.coordinator)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return which cells or errors are concerned."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator)
