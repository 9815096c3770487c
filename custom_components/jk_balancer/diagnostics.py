"""Diagnostics: what the device said, with every passcode removed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant

from .coordinator import JKBalancerConfigEntry
from .protocol import redact_passcodes

TO_REDACT = {CONF_PASSWORD}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: JKBalancerConfigEntry
) -> dict[str, Any]:
    """Return the entry, the newest snapshot and the last raw frames."""
    coordinator = entry.runtime_data
    client = coordinator.client
    snapshot = coordinator.data
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "connection": {
            "connected": client.is_connected,
            "mode": coordinator.connection_mode.value,
            "last_update_success": coordinator.last_update_success,
            "rejected_frames": client.rejected_frames,
            "assembler": asdict(client.stats),
        },
        "protocol": None if snapshot is None else snapshot.protocol.value,
        "device_info": None if snapshot is None else snapshot.device_info.to_dict(),
        "settings": None if snapshot is None else snapshot.settings.to_dict(),
        "cell_info": None if snapshot is None else snapshot.cell_info.to_dict(),
        "last_frames": {
            frame_type.key: redact_passcodes(raw).hex(" ")
            for frame_type, raw in client.last_frames.items()
        },
    }
