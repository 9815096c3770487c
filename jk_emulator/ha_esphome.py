"""An emulated ESPHome node added to Home Assistant as an owner adds one.

Settings > Devices & services > ESPHome: host and port, then the node's
encryption key when it has one. Development and test tooling: never shipped.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from .esphome_node import EsphomeNode

# The esphome integration's name for a node's encryption key.
CONF_NOISE_PSK = "noise_psk"


async def async_add_esphome_node(hass: HomeAssistant, node: EsphomeNode) -> ConfigEntry:
    """The esphome config entry of ``node`` (listening already), made by its flow."""
    flow = hass.config_entries.flow
    result: Any = await flow.async_init(
        "esphome",
        context={"source": SOURCE_USER},
        data={CONF_HOST: "127.0.0.1", CONF_PORT: node.port},
    )
    if result.get("step_id") == "encryption_key":
        result = await flow.async_configure(
            result["flow_id"], {CONF_NOISE_PSK: node.noise_psk}
        )
    if result["type"] is not FlowResultType.CREATE_ENTRY:
        raise RuntimeError(f"adding the emulated node {node.name} failed: {result}")
    entry: ConfigEntry = result["result"]
    return entry
