"""The JK Active Balancer integration."""

from __future__ import annotations

import functools
from typing import cast

from homeassistant.components import bluetooth
from homeassistant.components.bluetooth.match import ADDRESS, BluetoothCallbackMatcher
from homeassistant.const import CONF_ADDRESS, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .ble_coordinator import BluetoothCoordinator
from .bus import Rs485Coordinator, async_acquire_bus, async_release_bus
from .card import async_register_card
from .care import PackCare
from .const import (
    CONF_BUS_ADDRESS,
    CONF_PROTOCOL,
    CONF_SERIAL_PORT,
    DOMAIN,
    PROTOCOL_AUTO,
    SIGNAL_BALANCER_UPDATED,
    Transport,
    entry_transport,
    forced_protocol,
)
from .coordinator import JKBalancerConfigEntry, JKBalancerCoordinator
from .pack import PackConfigEntry, PackCoordinator
from .protocol import JKBalancerClient, JKRs485Client
from .repairs import async_delete_issues, async_update_issues

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
]
# A pack of cascaded balancers has sensors only; settings stay with each unit.
PACK_PLATFORMS: list[Platform] = [Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Serve the cell card to every dashboard."""
    integration = await async_get_integration(hass, DOMAIN)
    await async_register_card(hass, str(integration.version))
    return True


async def async_setup_entry(hass: HomeAssistant, entry: JKBalancerConfigEntry) -> bool:
    """Reach the balancer (or gather the pack) and set up its entities."""
    transport = entry_transport(entry.data)
    if transport is Transport.PACK:
        pack_entry = cast("PackConfigEntry", entry)
        pack = pack_entry.runtime_data = PackCoordinator(hass, pack_entry)
        pack.async_follow_members()
        await pack.async_refresh()
        await hass.config_entries.async_forward_entry_setups(entry, PACK_PLATFORMS)
        return True
    coordinator: JKBalancerCoordinator
    if transport is Transport.RS485:
        coordinator = await _async_setup_bus_unit(hass, entry)
    else:
        coordinator = await _async_setup_bluetooth(hass, entry)
    entry.runtime_data = coordinator

    @callback
    def _async_updated() -> None:
        if coordinator.last_update_success:
            coordinator.care.async_update(coordinator.data)
        async_update_issues(hass, coordinator)
        async_dispatcher_send(hass, SIGNAL_BALANCER_UPDATED, entry.entry_id)

    entry.async_on_unload(coordinator.async_add_listener(_async_updated))
    _async_updated()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_setup_bus_unit(
    hass: HomeAssistant, entry: JKBalancerConfigEntry
) -> Rs485Coordinator:
    """A balancer on an RS485 bus, sharing the port with the others on it."""
    port: str = entry.data[CONF_SERIAL_PORT]
    bus = async_acquire_bus(hass, port, entry.entry_id)
    entry.async_on_unload(
        functools.partial(async_release_bus, hass, port, entry.entry_id)
    )
    coordinator = Rs485Coordinator(
        hass, entry, JKRs485Client(bus, int(entry.data[CONF_BUS_ADDRESS]))
    )
    await coordinator.care.async_load()
    await coordinator.async_config_entry_first_refresh()
    return coordinator


async def _async_setup_bluetooth(
    hass: HomeAssistant, entry: JKBalancerConfigEntry
) -> BluetoothCoordinator:
    """A balancer over Bluetooth, followed while it advertises."""
    address: str = entry.data[CONF_ADDRESS]
    ble_device = bluetooth.async_ble_device_from_address(
        hass, address, connectable=True
    )
    if ble_device is None:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="device_not_found",
            translation_placeholders={"address": address},
        )
    client = JKBalancerClient(
        ble_device,
        protocol=forced_protocol(entry.data.get(CONF_PROTOCOL, PROTOCOL_AUTO)),
    )
    coordinator = BluetoothCoordinator(hass, entry, client)
    entry.async_on_unload(client.add_disconnect_listener(coordinator.async_link_lost))
    await coordinator.care.async_load()
    await coordinator.async_config_entry_first_refresh()

    @callback
    def _async_device_seen(
        service_info: bluetooth.BluetoothServiceInfoBleak,
        _change: bluetooth.BluetoothChange,
    ) -> None:
        coordinator.async_device_seen(service_info)

    entry.async_on_unload(
        bluetooth.async_register_callback(
            hass,
            _async_device_seen,
            BluetoothCallbackMatcher({ADDRESS: address}),
            bluetooth.BluetoothScanningMode.PASSIVE,
        )
    )
    entry.async_on_unload(
        bluetooth.async_track_unavailable(
            hass, coordinator.async_device_gone, address, connectable=True
        )
    )
    return coordinator


async def async_migrate_entry(
    hass: HomeAssistant, entry: JKBalancerConfigEntry
) -> bool:
    """1.1 stored a forced layout as "JK04"; selector keys are lowercase now."""
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        if CONF_PROTOCOL in data:
            data[CONF_PROTOCOL] = data[CONF_PROTOCOL].lower()
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: JKBalancerConfigEntry) -> bool:
    """Unload the entities; the coordinator then closes the link.

    Issues stay: one the user ignored is still ignored after a reload. A pack
    the balancer belongs to hears that it is gone.
    """
    if entry_transport(entry.data) is Transport.PACK:
        return await hass.config_entries.async_unload_platforms(entry, PACK_PLATFORMS)
    await entry.runtime_data.care.async_save()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    async_dispatcher_send(hass, SIGNAL_BALANCER_UPDATED, entry.entry_id)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: JKBalancerConfigEntry) -> None:
    """The device was removed: its issues and stored drift go with it."""
    if entry_transport(entry.data) is Transport.PACK:
        return
    async_delete_issues(hass, entry)
    await PackCare(hass, entry).async_remove()
