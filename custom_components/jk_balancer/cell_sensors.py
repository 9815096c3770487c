"""What balancer and pack sensors share: the cell figures and per-cell sensors.

A balancer and a pack of cascaded balancers show the same figures of their
cells (total, average, lowest, highest, delta and which cell), described once
here, and one sensor per cell that comes and goes with the cells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfElectricPotential
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, cell_key, entity_unique_id

OHM: Final = "Ω"

CELL_VOLTAGE = SensorEntityDescription(
    key="cell_voltage",
    translation_key="cell_voltage",
    device_class=SensorDeviceClass.VOLTAGE,
    native_unit_of_measurement=UnitOfElectricPotential.VOLT,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=3,
)
CELL_RESISTANCE = SensorEntityDescription(
    key="cell_resistance",
    translation_key="cell_resistance",
    native_unit_of_measurement=OHM,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=3,
    entity_category=EntityCategory.DIAGNOSTIC,
)


def cell_figures[D: SensorEntityDescription](
    describe: Callable[..., D],
) -> tuple[D, ...]:
    """The figures of the cells, each built by ``describe(key=..., **style)``.

    Keys are the attribute names of ``CellInfo`` and ``CascadedPack``.
    """
    volts: dict[str, Any] = {
        "device_class": SensorDeviceClass.VOLTAGE,
        "native_unit_of_measurement": UnitOfElectricPotential.VOLT,
        "state_class": SensorStateClass.MEASUREMENT,
    }
    return (
        describe(key="total_voltage", **volts, suggested_display_precision=2),
        describe(key="average_cell_voltage", **volts, suggested_display_precision=3),
        describe(key="min_cell_voltage", **volts, suggested_display_precision=3),
        describe(key="max_cell_voltage", **volts, suggested_display_precision=3),
        describe(
            key="delta_cell_voltage",
            **volts,
            suggested_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
            suggested_display_precision=0,
        ),
        # Which cell is no measurement: history shows it as a timeline, and
        # long-term statistics do not average cell numbers.
        describe(key="min_voltage_cell"),
        describe(key="max_voltage_cell"),
    )


# Which cell sensors name, and the figure their cell holds.
_CELL_AT: Final = {
    "min_voltage_cell": "min_cell_voltage",
    "max_voltage_cell": "max_cell_voltage",
}


def steady_cell[V](
    key: str, number: V, figures: Any, cells: Sequence[float], shown: object
) -> V | int:
    """The cell a sensor names, staying on ``shown`` while it ties the extreme.

    The figures name the first cell holding the lowest (highest) voltage; when
    several cells hold it, the cell already shown keeps being named rather
    than the sensor hopping between equals every update.
    """
    if key not in _CELL_AT or number is None:
        return number
    extreme = getattr(figures, _CELL_AT[key])
    if (
        isinstance(shown, int)
        and 0 < shown <= len(cells)
        and cells[shown - 1] == extreme
    ):
        return shown
    return number


def micro(value: float | None) -> float | None:
    """A derived voltage without float noise (3.285 - 3.279 is 0.006)."""
    return None if value is None else round(value, 6)


class CellEntities:
    """Add and remove per-cell sensors as the number of cells changes.

    ``count(current)`` says how many cells there are now (None: unknown, keep
    what is there); ``build(cell)`` makes the sensors of a cell (numbered from
    1), whose unique ids are the cells' (:func:`.const.cell_key`).
    """

    def __init__(
        self,
        hass: HomeAssistant,
        async_add_entities: AddConfigEntryEntitiesCallback,
        *,
        prefix: str,
        descriptions: tuple[SensorEntityDescription, ...],
        count: Callable[[int], int | None],
        build: Callable[[SensorEntityDescription, int], SensorEntity],
    ) -> None:
        self._hass = hass
        self._add = async_add_entities
        self._prefix = prefix
        self._descriptions = descriptions
        self._count_now = count
        self._build = build
        self._count = 0

    @callback
    def async_follow(self) -> None:
        """Match the sensors to the cells there are now."""
        if (count := self._count_now(self._count)) is None:
            return
        if count > self._count:
            self._add(self._sensors(range(self._count + 1, count + 1)))
        elif count < self._count:
            registry = er.async_get(self._hass)
            for cell in range(count + 1, self._count + 1):
                for description in self._descriptions:
                    unique_id = entity_unique_id(
                        self._prefix, cell_key(description.key, cell)
                    )
                    if entity_id := registry.async_get_entity_id(
                        "sensor", DOMAIN, unique_id
                    ):
                        registry.async_remove(entity_id)
        self._count = count

    def _sensors(self, cells: range) -> Iterable[SensorEntity]:
        for cell in cells:
            for description in self._descriptions:
                yield self._build(description, cell)
