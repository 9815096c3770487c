"""Diagnostics: what the device said, with every passcode removed."""

from __future__ import annotations

from typing import Any, cast

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant

from .const import Transport, entry_transport
from .coordinator import JKBalancerConfigEntry
from .pack import PackConfigEntry

TO_REDACT = {CONF_PASSWORD}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: JKBalancerConfigEntry
) -> dict[str, Any]:
    """Return the entry, the link, the newest snapshot and the last raw data."""
    if entry_transport(entry.data) is Transport.PACK:
        return _pack_diagnostics(cast("PackConfigEntry", entry))
    coordinator = entry.runtime_data
    snapshot = coordinator.data
    return {
        "entry": _entry(entry),
        "connection": coordinator.connection_diagnostics(),
        "protocol": None if snapshot is None else snapshot.protocol.value,
        "device_info": None if snapshot is None else snapshot.device_info.to_dict(),
        "settings": None if snapshot is None else snapshot.settings.to_dict(),
        "cell_info": None if snapshot is None else snapshot.cell_info.to_dict(),
    }


def _entry(entry: ConfigEntry) -> dict[str, Any]:
    return {
        "title": entry.title,
        "data": async_redact_data(dict(entry.data), TO_REDACT),
        "options": dict(entry.options),
    }


def _pack_diagnostics(entry: PackConfigEntry) -> dict[str, Any]:
    """The pack's balancers in cascade order and what they add up to."""
    pack = entry.runtime_data
    return {
        "entry": _entry(entry),
        "balancers": [pack.member_title(entry_id) for entry_id in pack.members],
        "last_update_success": pack.last_update_success,
        "pack": None if pack.data is None else pack.data._asdict(),
    }
