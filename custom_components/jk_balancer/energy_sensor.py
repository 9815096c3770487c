"""Sensors of a JK BMS's energy in and out, for the Energy dashboard.

The coordinator's energy meter counts every frame; these show its totals and
carry them across restarts, as Home Assistant stored them at the last stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
import logging
import math
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy

from .entity import BalancerEntity
from .protocol import MAX_TOTAL_ENERGY

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class JKEnergyDescription(SensorEntityDescription):
    """A total of the pack's energy meter: ``charged`` or ``discharged``."""

    total: str
    device_class: SensorDeviceClass = SensorDeviceClass.ENERGY
    native_unit_of_measurement: str = UnitOfEnergy.KILO_WATT_HOUR
    state_class: SensorStateClass = SensorStateClass.TOTAL_INCREASING
    suggested_display_precision: int = 2


# What the Energy dashboard's battery storage takes as they are.
ENERGY_SENSORS: tuple[JKEnergyDescription, ...] = (
    JKEnergyDescription(
        key="energy_charged", translation_key="energy_charged", total="charged"
    ),
    JKEnergyDescription(
        key="energy_discharged",
        translation_key="energy_discharged",
        total="discharged",
    ),
)


class JKEnergySensor(BalancerEntity, RestoreSensor):
    """Energy into or out of a JK BMS's pack, kept across restarts."""

    entity_description: JKEnergyDescription

    async def async_added_to_hass(self) -> None:
        """Go on from the total stored at the last stop (if it can be used)."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_sensor_data()
        if stored is None or stored.native_value is None:
            return
        total = _stored_total(stored.native_value, stored.native_unit_of_measurement)
        if total is None:
            _LOGGER.warning(
                "%s: the stored %s (%s %s) cannot be used; counting from 0",
                self.coordinator.name,
                self.entity_description.key,
                stored.native_value,
                stored.native_unit_of_measurement,
            )
            return
        meter = self.coordinator.energy
        assert meter is not None
        key = self.entity_description.total
        setattr(meter, key, getattr(meter, key) + total)

    @property
    def native_value(self) -> float:
        """The meter's total (kWh), to the Wh."""
        meter = self.coordinator.energy
        assert meter is not None
        total: float = getattr(meter, self.entity_description.total)
        return round(total, 6)


def _stored_total(value: Any, unit: str | None) -> float | None:
    """A stored total as a number of kWh a pack can have moved (else None).

    Finite, not negative, and no more than a JK BMS can count in its life: a
    larger one would swallow every later count in its rounding.
    """
    if unit != UnitOfEnergy.KILO_WATT_HOUR or isinstance(value, bool):
        return None
    try:
        total = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return total if math.isfinite(total) and 0 <= total <= MAX_TOTAL_ENERGY else None
