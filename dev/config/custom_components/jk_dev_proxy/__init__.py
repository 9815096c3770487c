"""Virtual JK balancers for the development instance (never shipped).

Bluetooth ones behind a virtual proxy (or an emulated ESPHome node reached
through Home Assistant's esphome integration), and DZ-series ones on a virtual RS485
bus: a pseudo-terminal reachable through the stable link ``jk-virtual-rs485``
in the configuration folder, whose balancers are offered as discovered.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
import math
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv, discovery_flow
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from jk_emulator import (
    BUS_PROFILES,
    PROFILES,
    BluetoothBalancer,
    VirtualBalancer,
    VirtualBus,
    VirtualRadio,
)
from jk_emulator.esphome_node import EsphomeNode
from jk_emulator.ha_esphome import async_add_esphome_node
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
        vol.Optional("state_of_charge"): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=1)
        ),
        vol.Optional("drifting_cell"): cv.positive_int,
        vol.Optional("drift_current", default=0.5): vol.Coerce(float),
        vol.Optional("drift_limit", default=math.inf): vol.Coerce(float),
        vol.Optional("high_resistance_cell"): cv.positive_int,
    }
)
BUS_UNIT_SCHEMA = vol.Schema(
    {
        vol.Required("address"): vol.All(int, vol.Range(min=1, max=15)),
        vol.Optional("profile", default="jk-dz11"): vol.In(list(BUS_PROFILES)),
        vol.Optional("cells"): cv.positive_int,
        vol.Optional("spread"): vol.Coerce(float),
    }
)
CONFIG_SCHEMA = vol.Schema(
    {
        DOMAIN: vol.Schema(
            {
                vol.Optional("slots", default=3): cv.positive_int,
                # The virtual proxy, or an emulated ESPHome node that Home
                # Assistant's esphome integration reaches over its native API.
                vol.Optional("via", default="virtual"): vol.In(["virtual", "esphome"]),
                vol.Optional("esphome_port", default=16053): cv.port,
                # Its API encryption key (base64 of 32 bytes), as most have.
                vol.Optional(
                    "esphome_key",
                    default="amstYmFsYW5jZXItZGV2ZWxvcG1lbnQtbm9kZS1rZXk=",
                ): cv.string,
                vol.Optional("speed", default=60.0): vol.Coerce(float),
                vol.Required("devices"): [DEVICE_SCHEMA],
                vol.Optional("rs485", default=[]): [BUS_UNIT_SCHEMA],
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
        device = BluetoothBalancer(
            PROFILES[options["profile"]],
            address=f"C8:47:80:0D:E0:{number:02X}",
            name=options.get("name"),
            cells=options.get("cells"),
            passcode=options["passcode"],
            speed=conf["speed"],
            spread=options.get("spread"),
            state_of_charge=options.get("state_of_charge"),
            drifting_cell=options.get("drifting_cell"),
            drift_current=options["drift_current"],
            drift_limit=options["drift_limit"],
            high_resistance_cell=options.get("high_resistance_cell"),
        )
        radio.add(device)
        _LOGGER.info(
            "Virtual %s %r at %s", device.profile.vendor_id, device.name, device.address
        )
    if conf["via"] == "esphome":
        remove = await _async_start_node(
            hass, radio, conf["esphome_port"], conf["esphome_key"]
        )
    else:
        _, remove = async_register_virtual_proxy(hass, radio, "Virtual JK proxy")
    bus = _start_bus(hass, conf)

    @callback
    def _stop(_event: Event) -> None:
        remove()
        if bus is not None:
            hass.async_create_task(_async_close(bus))

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True


async def _async_start_node(
    hass: HomeAssistant, radio: VirtualRadio, port: int, key: str
) -> Callable[[], None]:
    """Serve the balancers from an emulated ESPHome node with an encryption
    key, added as an owner adds a node: host, port, then the key."""
    node = EsphomeNode(radio, mac=radio.source, noise_psk=key)
    await node.start(port)
    _LOGGER.info("Emulated ESPHome node %s on 127.0.0.1:%s", node.name, port)
    if not hass.config_entries.async_entries("esphome"):
        await async_add_esphome_node(hass, node)

    @callback
    def _restart(call: ServiceCall) -> None:
        _LOGGER.info("Emulated ESPHome node restarts")
        # Not awaited: the caller returns while the node is down.
        hass.async_create_background_task(
            node.restart(call.data["downtime"]), "emulated node restart"
        )

    # What a proxy's power cut looks like (the browser journey uses it).
    hass.services.async_register(
        DOMAIN,
        "restart_node",
        _restart,
        vol.Schema({vol.Optional("downtime", default=5.0): vol.Coerce(float)}),
    )

    @callback
    def remove() -> None:
        hass.async_create_task(node.stop())

    return remove


async def _async_close(bus: VirtualBus) -> None:
    await bus.stop()
    bus.close()


def _start_bus(hass: HomeAssistant, conf: dict[str, Any]) -> VirtualBus | None:
    """Put the RS485 units on a virtual bus and offer each as discovered."""
    if not conf["rs485"]:
        return None
    bus = VirtualBus()
    for options in conf["rs485"]:
        address = options["address"]
        bus.add(
            address,
            VirtualBalancer(
                BUS_PROFILES[options["profile"]],
                address=f"00:00:00:00:00:{address:02X}",
                name=f"JK balancer {address}",
                cells=options.get("cells"),
                speed=conf["speed"],
                spread=options.get("spread"),
            ),
        )
    bus.start()
    # The pseudo-terminal's number changes with every start; the link does not.
    link = Path(hass.config.path("jk-virtual-rs485"))
    link.unlink(missing_ok=True)
    link.symlink_to(bus.path)
    for address in bus.units:
        _LOGGER.info("Virtual RS485 balancer at address %s on %s", address, link)
        discovery_flow.async_create_flow(
            hass,
            "jk_balancer",
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data={"serial_port": str(link), "bus_address": address},
        )
    return bus
