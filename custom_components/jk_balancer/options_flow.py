"""Options: updates, the link, and looking after the pack."""

from __future__ import annotations

import math
from typing import Any

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_ADDRESS
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .compat import vol
from .connection_turns import async_get_turns
from .const import (
    CHEMISTRY_AUTO,
    CONF_CHEMISTRY,
    CONF_CONNECTION_MODE,
    CONF_IMBALANCE_HOLD,
    CONF_IMBALANCE_THRESHOLD,
    CONF_UPDATE_INTERVAL,
    MAX_IMBALANCE_HOLD,
    MAX_IMBALANCE_THRESHOLD,
    MAX_UPDATE_INTERVAL,
    MIN_IMBALANCE_THRESHOLD,
    MIN_UPDATE_INTERVAL,
    ConnectionMode,
    Transport,
    entry_transport,
)
from .coordinator import BalancerCoordinator
from .options import balancer_options
from .protocol import BALANCE_TRIGGER_VOLTAGE, Chemistry, default_imbalance_threshold


class JKBalancerOptionsFlow(OptionsFlowWithReload):
    """Updates, the link, and looking after the pack."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options of a balancer over Bluetooth."""
        transport = entry_transport(self.config_entry.data)
        if transport is Transport.PACK:
            # The UI offers no options for a pack; the API may still ask.
            return self.async_abort(
                reason="pack_has_no_options",
                description_placeholders={"name": self.config_entry.title},
            )
        if transport is Transport.RS485:
            return await self.async_step_bus(user_input)
        # The dialog explains the link mode in use, not every mode.
        if balancer_options(self.config_entry).connection_mode is (
            ConnectionMode.PER_UPDATE
        ):
            return await self.async_step_per_update(user_input)
        return self._options("init", user_input)

    async def async_step_per_update(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options of a balancer connected for each update."""
        return self._options("per_update", user_input)

    async def async_step_bus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options of a balancer on RS485 (no link to hold)."""
        return self._options("bus", user_input)

    def _options(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        entry = self.config_entry
        bluetooth = step_id != "bus"
        stored = balancer_options(entry)
        options: dict[str, Any] = {
            CONF_UPDATE_INTERVAL: stored.update_interval,
            CONF_CONNECTION_MODE: stored.connection_mode.value,
            CONF_CHEMISTRY: stored.chemistry or CHEMISTRY_AUTO,
            CONF_IMBALANCE_HOLD: stored.imbalance_hold,
        }
        if stored.imbalance_threshold is not None:
            options[CONF_IMBALANCE_THRESHOLD] = stored.imbalance_threshold
        # The threshold that follows the trigger; stored only when it differs.
        trigger = BALANCE_TRIGGER_VOLTAGE.default
        # What the cells say the chemistry is, for the automatic choice.
        detected = "-"
        if entry.state is ConfigEntryState.LOADED and isinstance(
            coordinator := entry.runtime_data, BalancerCoordinator
        ):
            trigger = coordinator.data.settings.balance_trigger_voltage
            detected = coordinator.care.chemistry_watch.pack_chemistry().name
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
                        CONF_CHEMISTRY: user_input[CONF_CHEMISTRY],
                        CONF_IMBALANCE_HOLD: int(user_input[CONF_IMBALANCE_HOLD]),
                    }
                    | (
                        {CONF_IMBALANCE_THRESHOLD: threshold}
                        if threshold != automatic
                        else {}
                    )
                    | (
                        {CONF_CONNECTION_MODE: user_input[CONF_CONNECTION_MODE]}
                        if bluetooth
                        else {}
                    )
                )
            options |= {k: v for k, v in user_input.items() if k not in errors}
        threshold = options.get(CONF_IMBALANCE_THRESHOLD, automatic)
        schema: dict[vol.Marker, Any] = {
            vol.Required(
                CONF_UPDATE_INTERVAL, default=options[CONF_UPDATE_INTERVAL]
            ): _number(MIN_UPDATE_INTERVAL, MAX_UPDATE_INTERVAL, "s"),
        }
        placeholders = {"name": entry.title, "detected": detected}
        if bluetooth:
            schema[
                vol.Required(
                    CONF_CONNECTION_MODE, default=options[CONF_CONNECTION_MODE]
                )
            ] = _choice(CONF_CONNECTION_MODE, [m.value for m in ConnectionMode])
        if step_id == "per_update":
            placeholders["sustainable"] = str(
                async_get_turns(self.hass).sustainable_interval(
                    entry.data[CONF_ADDRESS]
                )
            )
        schema |= {
            vol.Required(CONF_CHEMISTRY, default=options[CONF_CHEMISTRY]): _choice(
                CONF_CHEMISTRY, [CHEMISTRY_AUTO, *(c.value for c in Chemistry)]
            ),
            vol.Required(CONF_IMBALANCE_THRESHOLD, default=threshold): _number(
                MIN_IMBALANCE_THRESHOLD, MAX_IMBALANCE_THRESHOLD, "mV"
            ),
            vol.Required(
                CONF_IMBALANCE_HOLD, default=options[CONF_IMBALANCE_HOLD]
            ): _number(0, MAX_IMBALANCE_HOLD, "s"),
        }
        return self.async_show_form(
            step_id=step_id,
            data_schema=vol.Schema(schema),
            errors=errors,
            description_placeholders=placeholders,
        )


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
