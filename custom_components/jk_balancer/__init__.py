"""The JK Active Balancer integration."""

from __future__ import annotations

from homeassistant.components import bluetooth
from homeassistant.components.bluetooth.match import ADDRESS, BluetoothCallbackMatcher
from homeassistant.const import CONF_ADDRESS, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .card import async_register_card
from .care import PackCare
from .const import CONF_PROTOCOL, DOMAIN, PROTOCOL_AUTO, forced_protocol
from .coordinator import JKBalancerConfigEntry, JKBalancerCoordinator
from .protocol import JKBalancerClient
from .repairs import async_delete_issues, async_update_issues

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Serve the cell card to every dashboard."""
    integration = await async_get_integration(hass, DOMAIN)
    await async_register_card(hass, str(integration.version))
    return True


async def async_setup_entry(hass: HomeAssistant, entry: JKBalancerConfigEntry) -> bool:
    """Connect to the balancer and set up its entities."""
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
    coordinator = JKBalancerCoordinator(hass, entry, client)
    entry.async_on_unload(client.add_disconnect_listener(coordinator.async_link_lost))
    await coordinator.care.async_load()
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator

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

    @callback
    def _async_updated() -> None:
        if coordinator.last_update_success:
            coordinator.care.async_update(coordinator.data)
        async_update_issues(hass, coordinator)

    entry.async_on_unload(coordinator.async_add_listener(_async_updated))
    _async_updated()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


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

    Issues stay: one the user ignored is still ignored after a reload.
    """
    await entry.runtime_data.care.async_save()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: JKBalancerConfigEntry) -> None:
    """The device was removed: its issues and stored drift go with it."""
    async_delete_issues(hass, entry)
    await PackCare(hass, entry).async_remove()
