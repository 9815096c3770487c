"""Virtual Bluetooth proxy with virtual JK balancers (development only)."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from jk_emulator import PROFILES, VirtualBalancer, VirtualRadio
from jk_emulator.ha_proxy import async_register_virtual_proxy

DOMAIN = "jk_dev_proxy"
_LOGGER = logging.getLogger(__name__)

DEVICE_SCHEMA = vol.Schema(
    {
        vol.Required("profile"): vol.In(list(PROFILES)),
        vol.Optional("name"): cv.string,
        vol.Optional("cells"): cv.positive_int,
        vol.Optional("passcode", default="1234"): cv.string,
        vol.Optional("spread"): vol.Coerce(float),
        vol.Optional("drifting_cell"): cv.positive_int,
        vol.Optional("drift_current", default=0.5): vol.Coerce(float),
        vol.Optional("high_resistance_cell"): cv.positive_int,
    }
)
CONFIG_SCHEMA = vol.Schema(
    {
        DOMAIN: vol.Schema(
            {
                vol.Optional("slots", default=3): cv.positive_int,
                vol.Optional("speed", default=60.0): vol.Coerce(float),
                vol.Required("devices"): [DEVICE_SCHEMA],
            }
        )
    },
    extra=vol.ALLOW_EXTRA,
)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Put the configured virtual balancers behind a virtual proxy."""
    conf: dict[str, Any] = config[DOMAIN]
    radio = VirtualRadio(slots=conf["slots"], source="0A:00:00:00:00:01")
    for number, options in enumerate(conf["devices"], 1):
        device = VirtualBalancer(
            PROFILES[options["profile"]],
            address=f"C8:47:80:0D:E0:{number:02X}",
            name=options.get("name"),
            cells=options.get("cells"),
            passcode=options["passcode"],
            speed=conf["speed"],
            spread=options.get("spread"),
            drifting_cell=options.get("drifting_cell"),
            drift_current=options["drift_current"],
            high_resistance_cell=options.get("high_resistance_cell"),
        )
        radio.add(device)
        _LOGGER.info(
            "Virtual %s %r at %s", device.profile.vendor_id, device.name, device.address
        )
    _, remove = async_register_virtual_proxy(hass, radio, "Virtual JK proxy")

    @callback
    def _stop(_event: Event) -> None:
        remove()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True
