"""Every entity description of the integration, by platform (for the text checks)."""

from __future__ import annotations

from homeassistant.helpers.entity import EntityDescription

from custom_components.jk_balancer import (
    binary_sensor,
    cell_sensors,
    energy_sensor,
    number,
    pack_sensor,
    sensor,
    switch,
)

DESCRIPTIONS: dict[str, list[EntityDescription]] = {
    "sensor": [
        *sensor.SENSORS,
        *energy_sensor.ENERGY_SENSORS,
        *pack_sensor.PACK_SENSORS,
        cell_sensors.CELL_VOLTAGE,
        cell_sensors.CELL_RESISTANCE,
    ],
    "binary_sensor": list(binary_sensor.BINARY_SENSORS),
    "number": [*number.NUMBERS, number.LEND_MINUTES],
    "switch": [*switch.SWITCHES, switch.LEND_LINK],
}
