"""Config flow: discovery, the device password, reauth, reconfigure, options."""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_ble_device_from_address,
    async_discovered_service_info,
)
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_ADDRESS, CONF_NAME, CONF_PASSWORD
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)

from .compat import vol
from .config_entry import JKConfigEntry
from .connection_turns import async_get_turns
from .const import (
    CONF_MEMBERS,
    CONF_PROTOCOL,
    CONF_TRANSPORT,
    DOMAIN,
    PROTOCOL_AUTO,
    PROTOCOL_OPTIONS,
    Transport,
    entry_transport,
    forced_protocol,
)
from .coordinator import BalancerCoordinator
from .migration import MINOR_VERSION, VERSION
from .options_flow import JKBalancerOptionsFlow
from .pack_members import (
    balancer_entries,
    members_problem,
    members_schema,
    name_problem,
)
from .protocol import (
    BluetoothClient,
    JKError,
    ProtocolDetectionError,
    Snapshot,
    UnsupportedDeviceError,
    is_jk_advertisement,
)
from .rs485_flow import Rs485Steps

_LOGGER = logging.getLogger(__name__)

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
PASSWORD_SCHEMA = vol.Schema({vol.Required(CONF_PASSWORD): PASSWORD_SELECTOR})


class JKBalancerConfigFlow(Rs485Steps, domain=DOMAIN):
    """Add a JK balancer over Bluetooth or RS485, or a pack of them."""

    VERSION = VERSION
    MINOR_VERSION = MINOR_VERSION

    def __init__(self) -> None:
        """Start without a device."""
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._discovered: dict[str, BluetoothServiceInfoBleak] = {}

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: JKConfigEntry,
    ) -> JKBalancerOptionsFlow:
        """Return the options flow."""
        return JKBalancerOptionsFlow()

    @classmethod
    @callback
    def async_supports_options_flow(cls, config_entry: ConfigEntry) -> bool:
        """A pack has no options: each balancer keeps its own."""
        return entry_transport(config_entry.data) is not Transport.PACK

    async def async_step_bluetooth(
        self, discovery_info: BluetoothServiceInfoBleak
    ) -> ConfigFlowResult:
        """A JK device advertised: offer it."""
        await self.async_set_unique_id(discovery_info.address)
        self._abort_if_unique_id_configured()
        self._discovery = discovery_info
        self.context["title_placeholders"] = {"name": discovery_info.name}
        return await self.async_step_password()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Bluetooth, RS485, or (with two balancers set up) a pack of them."""
        options = ["bluetooth_device", "rs485"]
        if len(balancer_entries(self.hass)) >= 2:
            options.append("pack")
        return self.async_show_menu(step_id="user", menu_options=options)

    async def async_step_bluetooth_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick one of the JK devices in range."""
        if user_input is not None:
            address = user_input[CONF_ADDRESS]
            await self.async_set_unique_id(address, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            self._discovery = self._discovered[address]
            return await self.async_step_password()
        configured = self._async_current_ids(include_ignore=False)
        for service_info in async_discovered_service_info(self.hass, connectable=True):
            if service_info.address not in configured and is_jk_advertisement(
                service_info.manufacturer_data
            ):
                self._discovered[service_info.address] = service_info
        if not self._discovered:
            return self.async_abort(reason="no_devices_found")
        return self.async_show_form(
            step_id="bluetooth_device",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_ADDRESS): vol.In(
                        {
                            address: f"{info.name} ({address})"
                            for address, info in self._discovered.items()
                        }
                    )
                }
            ),
        )

    async def async_step_password(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the device password and check it against the device."""
        assert self._discovery is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input[CONF_PASSWORD]
            errors, snapshot = await self._async_validate(
                self._discovery.address, password, PROTOCOL_AUTO
            )
            if snapshot is not None:
                return self.async_create_entry(
                    title=self._discovery.name or snapshot.device_info.device_name,
                    data={
                        CONF_ADDRESS: self._discovery.address,
                        CONF_PASSWORD: password,
                    },
                )
        return self.async_show_form(
            step_id="password",
            data_schema=PASSWORD_SCHEMA,
            errors=errors,
            description_placeholders={
                "name": self._discovery.name,
                "address": self._discovery.address,
            },
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The device's password changed (in the vendor app)."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the new password."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            errors, snapshot = await self._async_validate_entry(
                entry,
                user_input[CONF_PASSWORD],
                entry.data.get(CONF_PROTOCOL, PROTOCOL_AUTO),
            )
            if snapshot is not None:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_PASSWORD: user_input[CONF_PASSWORD]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=PASSWORD_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Force a frame layout or change the password (empty keeps it)."""
        entry = self._get_reconfigure_entry()
        transport = entry_transport(entry.data)
        if transport is Transport.RS485:
            return await self.async_step_reconfigure_bus(user_input)
        if transport is Transport.PACK:
            return await self.async_step_pack(user_input)
        errors: dict[str, str] = {}
        if user_input is not None:
            password = user_input.get(CONF_PASSWORD) or entry.data[CONF_PASSWORD]
            errors, snapshot = await self._async_validate_entry(
                entry, password, user_input[CONF_PROTOCOL]
            )
            if snapshot is not None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={
                        CONF_PASSWORD: password,
                        CONF_PROTOCOL: user_input[CONF_PROTOCOL],
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_PROTOCOL, default=entry.data.get(CONF_PROTOCOL, PROTOCOL_AUTO)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=[PROTOCOL_AUTO, *PROTOCOL_OPTIONS],
                        translation_key=CONF_PROTOCOL,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_PASSWORD): PASSWORD_SELECTOR,
            }
        )
        coordinator = (
            entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
        )
        detected = (
            coordinator.data.protocol.value
            if isinstance(coordinator, BalancerCoordinator)
            else "-"
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": entry.title, "detected": detected},
        )

    async def async_step_pack(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Group cascaded balancers as one pack, cells numbered in picked order."""
        reconfiguring = self.source == SOURCE_RECONFIGURE
        errors: dict[str, str] = {}
        if user_input is not None:
            members: list[str] = user_input[CONF_MEMBERS]
            if (problem := name_problem(user_input[CONF_NAME])) is not None:
                errors[CONF_NAME] = problem
            elif (problem := members_problem(members)) is not None:
                errors[CONF_MEMBERS] = problem
            elif reconfiguring:
                return self.async_update_reload_and_abort(
                    self._get_reconfigure_entry(),
                    title=user_input[CONF_NAME],
                    data_updates={CONF_MEMBERS: members},
                )
            else:
                return self.async_create_entry(
                    title=user_input[CONF_NAME],
                    data={CONF_TRANSPORT: Transport.PACK.value, CONF_MEMBERS: members},
                )
        name, members = "Battery pack", []
        if reconfiguring:
            entry = self._get_reconfigure_entry()
            name, members = entry.title, entry.data[CONF_MEMBERS]
        return self.async_show_form(
            step_id="pack",
            data_schema=members_schema(self.hass, members, name=name),
            errors=errors,
        )

    async def _async_validate_entry(
        self, entry: JKConfigEntry, password: str, protocol: str
    ) -> tuple[dict[str, str], Snapshot | None]:
        """Validate for a configured device, which accepts one link at a time."""
        coordinator = (
            entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
        )
        if isinstance(coordinator, BalancerCoordinator):
            await coordinator.async_release_link()
        errors, snapshot = await self._async_validate(
            entry.data[CONF_ADDRESS], password, protocol
        )
        if errors and coordinator is not None:
            # Nothing changes: let the running entry reconnect now.
            await coordinator.async_request_refresh()
        return errors, snapshot

    async def _async_validate(
        self, address: str, password: str, protocol: str
    ) -> tuple[dict[str, str], Snapshot | None]:
        """Connect, compare the password with the device's passcode, disconnect."""
        ble_device = async_ble_device_from_address(self.hass, address, connectable=True)
        if ble_device is None:
            return {"base": "cannot_connect"}, None
        client = BluetoothClient(ble_device, protocol=forced_protocol(protocol))
        # Balancers connecting for each update may hold every slot now.
        async with async_get_turns(self.hass).turn(address):
            try:
                snapshot = await client.read()
                correct = client.verify_password(password)
            except (UnsupportedDeviceError, ProtocolDetectionError):
                return {"base": "not_supported"}, None
            except JKError:
                return {"base": "cannot_connect"}, None
            except Exception:
                _LOGGER.exception("Unexpected error while checking %s", address)
                return {"base": "unknown"}, None
            finally:
                await client.close()
        if not correct:
            return {"base": "invalid_auth"}, None
        return {}, snapshot
