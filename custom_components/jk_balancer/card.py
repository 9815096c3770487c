"""The cell card: served and registered by the integration itself.

Users need no separate frontend install: the card's script is served from
this folder and added to every dashboard; a websocket command tells the card
which entity of a balancer is which (cell 3's voltage, the delta, ...), so it
keeps working when entities are renamed, and reads their states like any card.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from homeassistant.components import websocket_api
from homeassistant.components.http import StaticPathConfig
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .compat import vol
from .const import DOMAIN, cell_key, entity_key
from .pack import PackCoordinator
from .protocol import cell_range

CARD_FILE: Final = Path(__file__).parent / "frontend" / "jk-balancer-card.js"
CARD_URL: Final = f"/{DOMAIN}/jk-balancer-card.js"


async def async_register_card(hass: HomeAssistant, version: str) -> None:
    """Serve the card and load it in every dashboard (when the UI runs)."""
    websocket_api.async_register_command(hass, websocket_device_entities)
    if "frontend" not in hass.config.components:
        return
    # Imported here: Home Assistant without a UI has no frontend to load.
    from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415

    await hass.http.async_register_static_paths(
        [StaticPathConfig(CARD_URL, str(CARD_FILE), cache_headers=False)]
    )
    add_extra_js_url(hass, f"{CARD_URL}?v={version}")


@callback
def device_entities(hass: HomeAssistant, device_id: str) -> dict[str, Any] | None:
    """A balancer's entities by what they are, or None if it is not one."""
    device = dr.async_get(hass).async_get(device_id)
    keys = (
        [key for domain, key in device.identifiers if domain == DOMAIN]
        if device
        else []
    )
    if device is None or not keys:
        return None
    roles: dict[str, str] = {}
    for entry in er.async_entries_for_device(er.async_get(hass), device_id):
        if entry.platform == DOMAIN and entry.disabled_by is None:
            key = entity_key(entry.unique_id, keys[0])
            if key is not None:
                roles[key] = entry.entity_id
    cells: list[str] = []
    while (cell := roles.get(cell_key("cell_voltage", len(cells) + 1))) is not None:
        cells.append(cell)
    found: dict[str, Any] = {
        "name": device.name_by_user or device.name,
        "cells": cells,
        "entities": {
            role: entity_id
            for role, entity_id in roles.items()
            if not role.startswith(("cell_voltage_", "cell_resistance_"))
        },
    }
    return found | _working_range(hass, device.config_entries)


def _working_range(hass: HomeAssistant, entry_ids: set[str]) -> dict[str, Any]:
    """Where the cells work (the card marks cells near either end), and a
    pack's number of balancers; nothing while the entry is not loaded."""
    for entry_id in entry_ids:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            continue
        if entry.state is not ConfigEntryState.LOADED:
            return {}
        coordinator = entry.runtime_data
        extra: dict[str, Any] = {}
        if isinstance(coordinator, PackCoordinator):
            extra["units"] = len(coordinator.members)
            coordinator = coordinator.first_member()
            if coordinator is None:
                return extra
        snapshot = coordinator.data
        return extra | {
            "range": asdict(cell_range(snapshot, coordinator.care.pack_chemistry))
        }
    return {}


@websocket_api.websocket_command(
    {vol.Required("type"): f"{DOMAIN}/device_entities", vol.Required("device_id"): str}
)
@callback
def websocket_device_entities(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Tell the card which entity of a balancer is which."""
    if (found := device_entities(hass, msg["device_id"])) is None:
        connection.send_error(msg["id"], "not_found", "not a JK balancer")
        return
    connection.send_result(msg["id"], found)
