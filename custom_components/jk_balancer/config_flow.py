"""Config flow: discovery, the device password, reauth, reconfigure, options."""

from __future__ import annotations

from collections.abc import Mapping
import logging
import math
from typing import Any

from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_ble_device_from_address,
    async_discovered_service_info,
)
from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .const import (
    CHEMISTRY_AUTO,
    CONF_CHEMISTRY,
    CONF_CONNECTION_MODE,
    CONF_IMBALANCE_HOLD,
    CONF_IMBALANCE_THRESHOLD,
    CONF_PROTOCOL,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    MAX_UPDATE_INTERVAL,
    MIN_UPDATE_INTERVAL,
    PROTOCOL_AUTO,
    PROTOCOL_OPTIONS,
    ConnectionMode,
    forced_protocol,
)
from .coordinator import JKBalancerConfigEntry
from .protocol import (
    DEFAULT_IMBALANCE_HOLD,
    Chemistry,
    JKBalancerClient,
    JKError,
    ProtocolDetectionError,
    Snapshot,
    UnsupportedDeviceError,
    default_imbalance_threshold,
    is_jk_advertisement,
)
from .slots import async_get_turns

_LOGGER = logging.getLogger(__name__)

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
PASSWORD_SCHEMA = vol.Schema({vol.Required(CONF_PASSWORD): PASSWORD_SELECTOR})


class JKBalancerConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a JK balancer found over Bluetooth."""

    VERSION = 1
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Start without a device."""
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._discovered: dict[str, BluetoothServiceInfoBleak] = {}

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: JKBalancerConfigEntry,
    ) -> JKBalancerOptionsFlow:
        """Return the options flow."""
        return JKBalancerOptionsFlow()

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
            step_id="user",
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
        detected = (
            entry.runtime_data.data.protocol.value
            if entry.state is ConfigEntryState.LOADED
            else "-"
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": entry.title, "detected": detected},
        )

    async def _async_validate_entry(
        self, entry: JKBalancerConfigEntry, password: str, protocol: str
    ) -> tuple[dict[str, str], Snapshot | None]:
        """Validate for a configured device, which accepts one link at a time."""
        coordinator = (
            entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
        )
        if coordinator is not None:
            await coordinator.client.disconnect()
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
        client = JKBalancerClient(
            ble_device,
            protocol=forced_protocol(protocol),
        )
        # Balancers connecting for each update may hold every slot now.
        async with async_get_turns(self.hass).turn(address):
            try:
                snapshot = await client.connect()
                correct = client.verify_password(password)
            except (UnsupportedDeviceError, ProtocolDetectionError):
                return {"base": "not_supported"}, None
            except JKError:
                return {"base": "cannot_connect"}, None
            except Exception:
                _LOGGER.exception("Unexpected error while checking %s", address)
                return {"base": "unknown"}, None
            finally:
                await client.disconnect()
        if not correct:
            return {"base": "invalid_auth"}, None
        return {}, snapshot


class JKBalancerOptionsFlow(OptionsFlowWithReload):
    """Updates, the link, and looking after the pack."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options."""
        errors: dict[str, str] = {}
        entry = self.config_entry
        options = dict(entry.options)
        # The threshold that follows the trigger; stored only when it differs.
        automatic = round(1000 * default_imbalance_threshold(DEFAULT_TRIGGER))
        if entry.state is ConfigEntryState.LOADED:
            snapshot = entry.runtime_data.data
            trigger = snapshot.settings.balance_trigger_voltage
            automatic = round(1000 * default_imbalance_threshold(trigger))
        if user_input is not None:
            # NaN and infinities pass the number selectors' range checks.
            errors = {
                key: "not_a_number"
                for key in _NUMBERS
                if not math.isfinite(user_input[key])
            }
            if not errors:
                threshold = round(user_input[CONF_IMBALANCE_THRESHOLD])
                return self.async_create_entry(
                    data={
                        CONF_UPDATE_INTERVAL: int(user_input[CONF_UPDATE_INTERVAL]),
                        CONF_CONNECTION_MODE: user_input[CONF_CONNECTION_MODE],
                        CONF_CHEMISTRY: user_input[CONF_CHEMISTRY],
                        CONF_IMBALANCE_HOLD: int(user_input[CONF_IMBALANCE_HOLD]),
                    }
                    | (
                        {CONF_IMBALANCE_THRESHOLD: threshold}
                        if threshold != automatic
                        else {}
                    )
                )
            options |= {k: v for k, v in user_input.items() if k not in errors}
        threshold = options.get(CONF_IMBALANCE_THRESHOLD, automatic)
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_UPDATE_INTERVAL,
                        default=options.get(
                            CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL
                        ),
                    ): _number(MIN_UPDATE_INTERVAL, MAX_UPDATE_INTERVAL, "s"),
                    vol.Required(
                        CONF_CONNECTION_MODE,
                        default=options.get(
                            CONF_CONNECTION_MODE, ConnectionMode.PERSISTENT
                        ),
                    ): _choice(CONF_CONNECTION_MODE, [m.value for m in ConnectionMode]),
                    vol.Required(
                        CONF_CHEMISTRY,
                        default=options.get(CONF_CHEMISTRY, CHEMISTRY_AUTO),
                    ): _choice(
                        CONF_CHEMISTRY, [CHEMISTRY_AUTO, *(c.value for c in Chemistry)]
                    ),
                    vol.Required(CONF_IMBALANCE_THRESHOLD, default=threshold): _number(
                        2, 1000, "mV"
                    ),
                    vol.Required(
                        CONF_IMBALANCE_HOLD,
                        default=options.get(
                            CONF_IMBALANCE_HOLD, DEFAULT_IMBALANCE_HOLD
                        ),
                    ): _number(0, 86_400, "s"),
                }
            ),
            errors=errors,
            description_placeholders={
                "name": entry.title,
                "sustainable": str(
                    async_get_turns(self.hass).sustainable_interval(
                        entry.data[CONF_ADDRESS]
                    )
                ),
            },
        )


# The trigger the vendors advise for packs of 50 Ah and more.
DEFAULT_TRIGGER = 0.005
# The options entered as numbers.
_NUMBERS = (CONF_UPDATE_INTERVAL, CONF_IMBALANCE_THRESHOLD, CONF_IMBALANCE_HOLD)


def _number(minimum: float, maximum: float, unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=1,
            unit_of_measurement=unit,
            mode=NumberSelectorMode.BOX,
        )
    )


def _choice(key: str, options: list[str]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=options, translation_key=key, mode=SelectSelectorMode.LIST
        )
    )
