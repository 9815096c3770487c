"""The JK Active Balancer integration."""

from __future__ import annotations

from homeassistant.const import EVENT_CORE_CONFIG_UPDATE, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from .battery_care import async_remove_care
from .bluetooth import BluetoothLink
from .card import async_register_card
from .config_entry import JKConfigEntry
from .const import DOMAIN, SIGNAL_BALANCER_UPDATED, Transport, entry_transport
from .coordinator import BalancerCoordinator, BalancerLink
from .issues import (
    BALANCER_ISSUES,
    IGNORED,
    PACK_MEMBER_MISSING,
    IgnoredIssues,
    async_update_issues,
    async_update_layout_issue,
)
from .migration import async_migrate, stored_data_problem
from .options import EntryOptions
from .pack import PackCoordinator
from .protocol import JKError
from .rs485 import async_rs485_link

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
    """Serve the cell card to every dashboard; follow the system language."""
    hass.data[IGNORED] = IgnoredIssues(hass)
    await hass.data[IGNORED].async_load()
    integration = await async_get_integration(hass, DOMAIN)
    await async_register_card(hass, str(integration.version))
    language = hass.config.language

    @callback
    def _async_language_changed(_event: Event) -> None:
        """Entity names are translated when entities are added: add them again."""
        nonlocal language
        if hass.config.language == language:
            return
        language = hass.config.language
        for entry in hass.config_entries.async_loaded_entries(DOMAIN):
            hass.config_entries.async_schedule_reload(entry.entry_id)

    hass.bus.async_listen(EVENT_CORE_CONFIG_UPDATE, _async_language_changed)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: JKConfigEntry) -> bool:
    """Reach the balancer (or gather the pack) and set up its entities."""
    if (problem := stored_data_problem(entry.data)) is not None:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="stored_data_unusable",
            translation_placeholders={"name": entry.title, "problem": problem},
        )
    if entry_transport(entry.data) is Transport.PACK:
        return await _async_setup_pack(hass, entry)
    return await _async_setup_balancer(hass, entry)


async def _async_setup_pack(hass: HomeAssistant, entry: JKConfigEntry) -> bool:
    pack = entry.runtime_data = PackCoordinator(hass, entry)
    pack.async_link_members()
    pack.async_follow_members()
    pack.async_combine()
    await hass.config_entries.async_forward_entry_setups(entry, PACK_PLATFORMS)
    return True


async def _async_setup_balancer(hass: HomeAssistant, entry: JKConfigEntry) -> bool:
    link: BalancerLink
    options = EntryOptions(entry)
    if entry_transport(entry.data) is Transport.RS485:
        link = await async_rs485_link(hass, entry)
    else:
        try:
            link = BluetoothLink(hass, entry, options)
        except JKError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=err.placeholders,
            ) from err
    coordinator = BalancerCoordinator(hass, entry, link, options)
    try:
        await coordinator.async_start()
    except ConfigEntryNotReady:
        async_update_layout_issue(hass, entry, coordinator.last_exception)
        raise
    entry.runtime_data = coordinator

    @callback
    def _async_updated() -> None:
        async_update_layout_issue(
            hass,
            entry,
            None if coordinator.last_update_success else coordinator.last_exception,
        )
        # Lent to the JK app, the values are those from before: nothing new.
        if coordinator.last_update_success and not coordinator.lent:
            coordinator.care.async_update(coordinator.data)
            async_update_issues(hass, entry, coordinator.data, coordinator.care)
        async_dispatcher_send(hass, SIGNAL_BALANCER_UPDATED, entry.entry_id)

    entry.async_on_unload(coordinator.async_add_listener(_async_updated))
    _async_updated()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: JKConfigEntry) -> bool:
    """Bring an entry made by an earlier version up to date."""
    return await async_migrate(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: JKConfigEntry) -> bool:
    """Unload the entities; the coordinator then closes the link.

    Issues stay: one the user ignored is still ignored after a reload. A pack
    the balancer belongs to hears that it is gone.
    """
    coordinator = entry.runtime_data
    if isinstance(coordinator, PackCoordinator):
        return await hass.config_entries.async_unload_platforms(entry, PACK_PLATFORMS)
    await coordinator.care.async_save()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    async_dispatcher_send(hass, SIGNAL_BALANCER_UPDATED, entry.entry_id)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: JKConfigEntry) -> None:
    """The device was removed: its issues and stored drift go with it."""
    if entry_transport(entry.data) is Transport.PACK:
        hass.data[IGNORED].async_forget(entry, (PACK_MEMBER_MISSING,))
        return
    hass.data[IGNORED].async_forget(entry, BALANCER_ISSUES)
    await async_remove_care(hass, entry)
