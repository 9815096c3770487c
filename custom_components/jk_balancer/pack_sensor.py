"""Sensors of a pack of cascaded balancers: its figures and every cell."""

from __future__ import annotations

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .cell_sensors import CELL_VOLTAGE, CellEntities, cell_figures, micro, steady_cell
from .const import cell_key, entity_unique_id
from .pack import PackCoordinator

PACK_SENSORS: tuple[SensorEntityDescription, ...] = (
    *cell_figures(
        lambda key, **style: SensorEntityDescription(
            key=key, translation_key=key, **style
        )
    ),
    # Counts of cells and balancers: a timeline in history, as the cells are.
    SensorEntityDescription(key="cell_count", translation_key="cell_count"),
    SensorEntityDescription(key="balancing_units", translation_key="balancing_units"),
)


def async_setup_pack_sensors(
    hass: HomeAssistant,
    entry: ConfigEntry,
    pack: PackCoordinator,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the pack's figures, and one voltage sensor per cell of the pack."""
    async_add_entities(PackSensor(pack, description) for description in PACK_SENSORS)
    cells = CellEntities(
        hass,
        async_add_entities,
        prefix=pack.device_key,
        descriptions=(CELL_VOLTAGE,),
        # Until every balancer has reported, the pack's cells are not known.
        count=lambda _current: pack.data.cell_count
        if pack.last_update_success
        else None,
        build=lambda _description, cell: PackCellSensor(pack, cell),
    )
    cells.async_follow()
    entry.async_on_unload(pack.async_add_listener(cells.async_follow))


class PackEntity(CoordinatorEntity[PackCoordinator]):
    """An entity of the pack device."""

    _attr_has_entity_name = True

    def __init__(
        self, pack: PackCoordinator, description: SensorEntityDescription, key: str
    ) -> None:
        """Set up the entity; ``key`` makes its unique id."""
        super().__init__(pack)
        self.entity_description = description
        self._attr_unique_id = entity_unique_id(pack.device_key, key)
        self._attr_device_info = pack.device_info


class PackSensor(PackEntity, SensorEntity):
    """A figure of the whole pack."""

    def __init__(
        self, pack: PackCoordinator, description: SensorEntityDescription
    ) -> None:
        """Set up the sensor of ``description``."""
        super().__init__(pack, description, description.key)

    _shown: StateType = None

    @property
    def native_value(self) -> StateType:
        """Return the figure from the units' newest snapshots."""
        pack = self.coordinator.data
        value: StateType = getattr(pack, self.entity_description.key)
        if isinstance(value, float):
            return micro(value)
        self._shown = steady_cell(
            self.entity_description.key, value, pack, pack.cell_voltages, self._shown
        )
        return self._shown


class PackCellSensor(PackEntity, SensorEntity):
    """One cell of the pack, numbered through the balancers."""

    def __init__(self, pack: PackCoordinator, cell: int) -> None:
        """Set up the sensor of cell ``cell`` (numbered from 1)."""
        super().__init__(pack, CELL_VOLTAGE, cell_key(CELL_VOLTAGE.key, cell))
        self._cell = cell
        self._attr_translation_placeholders = {"cell": str(cell)}

    @property
    def available(self) -> bool:
        """Unavailable while the pack has fewer cells than this."""
        return super().available and self._cell <= self.coordinator.data.cell_count

    @property
    def native_value(self) -> float | None:
        """Return the cell's voltage."""
        cells = self.coordinator.data.cell_voltages
        return cells[self._cell - 1] if self._cell <= len(cells) else None
