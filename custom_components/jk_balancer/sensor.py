"""Sensors: every cell, the pack, the balancer and (on a JK BMS) the battery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .cell_sensors import (
    CELL_RESISTANCE,
    CELL_VOLTAGE,
    CellEntities,
    cell_figures,
    micro,
    steady_cell,
)
from .config_entry import JKConfigEntry
from .const import CONF_BUS_ADDRESS, CONF_SERIAL_PORT, cell_key
from .coordinator import BalancerCoordinator
from .energy_sensor import ENERGY_SENSORS, JKEnergySensor
from .entity import BalancerEntity
from .pack import PackCoordinator
from .pack_sensor import async_setup_pack_sensors
from .protocol import BalancingStatus, balancing_status

PARALLEL_UPDATES = 0

AMPERE_HOUR = "Ah"
NO_DRIFTING_CELL = "none"


@dataclass(frozen=True, kw_only=True)
class JKSensorDescription(SensorEntityDescription):
    """A sensor and how to read it from the coordinator.

    A sensor derived from the cells (``of_cells``) is unavailable while the
    balancer measures no cell; one not read from the device (``of_device``
    False) is available while the device cannot be reached.
    """

    value_fn: Callable[[BalancerCoordinator], StateType | datetime]
    attributes_fn: Callable[[BalancerCoordinator], Mapping[str, Any]] | None = None
    exists_fn: Callable[[BalancerCoordinator], bool] = lambda _coordinator: True
    of_cells: bool = False
    of_device: bool = True


def _drift_attributes(coordinator: BalancerCoordinator) -> Mapping[str, Any]:
    """How far the drifting cell is from the average, over how long."""
    drift = coordinator.care.drift
    if drift is None:
        return {}
    return {"deviation": round(drift.deviation * 1000, 1), "hours": drift.hours}


def _jk02(coordinator: BalancerCoordinator) -> bool:
    return coordinator.data.protocol.is_jk02


def _bluetooth(coordinator: BalancerCoordinator) -> bool:
    return coordinator.data.protocol.is_bluetooth


def _probe(coordinator: BalancerCoordinator) -> bool:
    """A DZ balancer on RS485 has one temperature probe, JK04 none."""
    protocol = coordinator.data.protocol
    return not protocol.is_bluetooth or protocol.is_jk02


def _entry_data(key: str) -> Callable[[BalancerCoordinator], StateType]:
    """A value the entry holds (an RS485 balancer's port and address)."""
    return lambda c: c.config_entry.data[key]


def _bms(coordinator: BalancerCoordinator) -> bool:
    return coordinator.data.measures_pack_current


def _lends(coordinator: BalancerCoordinator) -> bool:
    return coordinator.lending is not None


def _temperature(
    key: str,
    value_fn: Callable[[BalancerCoordinator], StateType],
    exists_fn: Callable[[BalancerCoordinator], bool] = _jk02,
) -> JKSensorDescription:
    return JKSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=value_fn,
        exists_fn=exists_fn,
    )


def _figure(key: str, **style: Any) -> JKSensorDescription:
    """A figure of the cells; all but the pack's measured total need cells."""
    return JKSensorDescription(
        key=key,
        translation_key=key,
        value_fn=lambda c: micro(getattr(c.data.cell_info, key)),
        of_cells=key != "total_voltage",
        **style,
    )


SENSORS: tuple[JKSensorDescription, ...] = (
    *cell_figures(_figure),
    JKSensorDescription(
        key="balancing_status",
        translation_key="balancing_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in BalancingStatus],
        value_fn=lambda c: balancing_status(c.data),
    ),
    # Which cell: no measurement (a timeline in history), "none" while no
    # cell drifts beyond the trigger.
    JKSensorDescription(
        key="drifting_cell",
        translation_key="drifting_cell",
        value_fn=lambda c: c.care.drifting_cell(c.data) or NO_DRIFTING_CELL,
        attributes_fn=_drift_attributes,
    ),
    JKSensorDescription(
        key="cell_drift",
        translation_key="cell_drift",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda c: (
            None if c.care.drift is None else round(c.care.drift.deviation * 1000, 1)
        ),
    ),
    JKSensorDescription(
        key="balancing_current",
        translation_key="balancing_current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda c: c.data.cell_info.balancing_current,
    ),
    _temperature(
        "temperature_sensor_1", lambda c: c.data.cell_info.temperature_sensor_1, _probe
    ),
    _temperature(
        "temperature_sensor_2", lambda c: c.data.cell_info.temperature_sensor_2
    ),
    _temperature(
        "power_tube_temperature", lambda c: c.data.cell_info.power_tube_temperature
    ),
    JKSensorDescription(
        key="total_runtime",
        translation_key="total_runtime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=1,
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda c: c.data.cell_info.total_runtime,
        exists_fn=_bluetooth,
    ),
    JKSensorDescription(
        key="rssi",
        translation_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.signal_strength,
        exists_fn=_bluetooth,
    ),
    JKSensorDescription(
        key="current",
        translation_key="current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=lambda c: c.data.cell_info.current,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="power",
        translation_key="power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda c: c.data.cell_info.power,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="link_returns",
        translation_key="link_returns",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: c.lent_until,
        exists_fn=_lends,
        of_device=False,
    ),
    # Where an RS485 balancer is found, on its device page.
    *(
        JKSensorDescription(
            key=key,
            translation_key=key,
            entity_category=EntityCategory.DIAGNOSTIC,
            value_fn=_entry_data(key),
            exists_fn=lambda c: not c.data.protocol.is_bluetooth,
            of_device=False,
        )
        for key in (CONF_SERIAL_PORT, CONF_BUS_ADDRESS)
    ),
    JKSensorDescription(
        key="state_of_charge",
        translation_key="state_of_charge",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: c.data.cell_info.state_of_charge,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="remaining_capacity",
        translation_key="remaining_capacity",
        native_unit_of_measurement=AMPERE_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda c: c.data.cell_info.remaining_capacity,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="estimated_capacity",
        translation_key="estimated_capacity",
        native_unit_of_measurement=AMPERE_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda c: c.data.cell_info.estimated_capacity,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="cycle_count",
        translation_key="cycle_count",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda c: c.data.cell_info.cycle_count,
        exists_fn=_bms,
    ),
    JKSensorDescription(
        key="state_of_health",
        translation_key="state_of_health",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda c: c.data.cell_info.state_of_health,
        exists_fn=_bms,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: JKConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of a balancer with one per cell, or those of a pack."""
    coordinator = entry.runtime_data
    if isinstance(coordinator, PackCoordinator):
        async_setup_pack_sensors(hass, entry, coordinator, async_add_entities)
        return
    async_add_entities(
        JKSensor(coordinator, description)
        for description in SENSORS
        if description.exists_fn(coordinator)
    )
    if coordinator.energy is not None:
        async_add_entities(
            JKEnergySensor(coordinator, description) for description in ENERGY_SENSORS
        )

    def count(current: int) -> int | None:
        """The cells measured; while none are, those there were or are set."""
        if not coordinator.last_update_success:
            return None
        snapshot = coordinator.data
        return snapshot.cell_info.cell_count or max(
            current, snapshot.settings.cell_count
        )

    # The RS485 reply has no wire resistances.
    per_cell = (
        (CELL_VOLTAGE, CELL_RESISTANCE)
        if coordinator.data.protocol.is_bluetooth
        else (CELL_VOLTAGE,)
    )
    cells = CellEntities(
        hass,
        async_add_entities,
        prefix=coordinator.device_key,
        descriptions=per_cell,
        count=count,
        build=lambda description, cell: JKCellSensor(coordinator, description, cell),
    )
    cells.async_follow()
    entry.async_on_unload(coordinator.async_add_listener(cells.async_follow))


class JKSensor(BalancerEntity, SensorEntity):
    """A sensor read from the newest snapshot."""

    entity_description: JKSensorDescription

    @property
    def available(self) -> bool:
        """Unavailable when its value would come from cells that are not measured."""
        if not self.entity_description.of_device:
            return True
        return super().available and (
            not self.entity_description.of_cells
            or bool(self.coordinator.data.cell_info.cell_voltages)
        )

    _shown: StateType | datetime = None

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the newest snapshot."""
        cells = self.coordinator.data.cell_info
        self._shown = steady_cell(
            self.entity_description.key,
            self.entity_description.value_fn(self.coordinator),
            cells,
            cells.cell_voltages,
            self._shown,
        )
        return self._shown

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Details that go with the value (the drifting cell's deviation)."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator)


class JKCellSensor(BalancerEntity, SensorEntity):
    """The voltage or wire resistance of one cell."""

    def __init__(
        self,
        coordinator: BalancerCoordinator,
        description: SensorEntityDescription,
        cell: int,
    ) -> None:
        """Set up the sensor of cell ``cell`` (numbered from 1)."""
        super().__init__(coordinator, description, cell_key(description.key, cell))
        self._cell = cell
        self._attr_translation_placeholders = {"cell": str(cell)}

    @property
    def available(self) -> bool:
        """Unavailable while the cell is not measured (balance leads unplugged)."""
        return (
            super().available
            and self._cell <= self.coordinator.data.cell_info.cell_count
        )

    @property
    def native_value(self) -> float | None:
        """Return the cell's value from the newest snapshot."""
        cells = self.coordinator.data.cell_info
        values = (
            cells.cell_voltages
            if self.entity_description is CELL_VOLTAGE
            else cells.cell_resistances
        )
        return values[self._cell - 1] if self._cell <= len(values) else None
