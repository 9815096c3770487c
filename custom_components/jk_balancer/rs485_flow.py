"""Config flow steps for balancers on an RS485 bus.

A port is picked from those Home Assistant's host has (or typed: a path or a
``socket://host:port`` gateway) or found by USB discovery; addresses 1 to 15
are scanned, and each balancer found becomes its own entry: the one the user
picks at once, the others as discovered devices to add with one click.

A port is stored in its stable form (the by-id link), and a balancer already
set up is recognised on its adapter however the path is spelled, so it cannot
be added twice. When USB discovery finds a known adapter at a new path, the
entries on it follow.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.usb import human_readable_device_name
from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from serial.tools import list_ports

from .compat import vol
from .const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    CONF_USB_ADAPTER,
    DOMAIN,
    Transport,
    bus_unique_id,
)
from .protocol import (
    DeviceConnectionError,
    FrameError,
    PortError,
    Snapshot,
    decode_rs485_reply,
)
from .rs485 import (
    async_acquire_port,
    async_release_port,
    port_problem,
    stable_port,
    usb_adapter,
    usb_identity,
)
from .rs485_entries import (
    async_adapter_in_use,
    async_follow_adapter,
    async_free_addresses,
    async_is_configured,
    async_lost_entry,
    async_move,
)

# A scan asks each address once; a balancer answers in about 0.1 s.
SCAN_REPLY_TIMEOUT = 0.3


class Rs485Steps(ConfigFlow):
    """The RS485 steps of the config flow."""

    _port: str
    # The adapter USB discovery named (pyserial may not list it yet).
    _usb: str | None = None
    _address: int
    _found: dict[int, Snapshot]

    async def async_step_rs485(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the serial port the balancers are wired to, and scan it."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            if problem := port_problem(user_input[CONF_SERIAL_PORT]):
                errors[CONF_SERIAL_PORT] = problem
            else:
                port = await self._async_stable(user_input[CONF_SERIAL_PORT])
                result = await self._async_scan(port, errors, placeholders)
                if result is not None:
                    return result
        # USB adapters first, the first one picked: a built-in port that
        # says nothing of itself ("n/a") is rarely where a balancer is.
        ports = sorted(
            await self.hass.async_add_executor_job(list_ports.comports),
            key=lambda port: port.vid is None,
        )
        options = [
            SelectOptionDict(
                value=port.device,
                label=port.device
                if port.vid is None and port.description in ("", "n/a")
                else human_readable_device_name(
                    port.device,
                    port.serial_number,
                    port.manufacturer,
                    port.description,
                    port.vid,
                    port.pid,
                ),
            )
            for port in ports
        ]
        adapter = next((port.device for port in ports if port.vid is not None), None)
        return self.async_show_form(
            step_id="rs485",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_SERIAL_PORT,
                        description={"suggested_value": adapter} if adapter else None,
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=options,
                            custom_value=True,
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    )
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A USB RS485 adapter was plugged in: follow it, or offer to scan it."""
        port = await self._async_stable(discovery_info.device)
        await self.async_set_unique_id(port)
        self._abort_if_unique_id_configured()
        if discovery_info.serial_number:
            self._usb = usb_identity(
                discovery_info.vid, discovery_info.pid, discovery_info.serial_number
            )
            if async_follow_adapter(self.hass, self._usb, port):
                return self.async_abort(reason="already_configured")
        if await async_adapter_in_use(self.hass, port):
            return self.async_abort(reason="already_configured")
        self._port = port
        self.context["title_placeholders"] = {
            "name": discovery_info.description or port
        }
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm the scan of a discovered adapter."""
        errors: dict[str, str] = {}
        placeholders = {"port": self._port}
        if user_input is not None:
            result = await self._async_scan(self._port, errors, placeholders)
            if result is not None:
                return result
        return self.async_show_form(
            step_id="usb_confirm",
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_scan(
        self, port: str, errors: dict[str, str], placeholders: dict[str, str]
    ) -> ConfigFlowResult | None:
        """Ask every address on ``port``; go on with those that answer.

        None with ``errors`` set when the port cannot be opened or no balancer
        not yet set up answers on it.
        """
        addresses = await async_free_addresses(self.hass, port)
        found = await self._async_probe(port, addresses, errors, placeholders)
        if not found:
            return None
        self._port, self._found = port, found
        if len(found) == 1:
            return await self._async_create_bus_entry(next(iter(found)))
        return await self.async_step_rs485_pick()

    async def _async_probe(
        self,
        port: str,
        addresses: list[int],
        errors: dict[str, str],
        placeholders: dict[str, str],
    ) -> dict[int, Snapshot]:
        """The balancers at ``addresses`` that answer, read once each.

        The port is shared with the entries already on it. Nothing found sets
        ``errors``: the port cannot be opened, or no balancer answered.
        """
        placeholders["port"] = port
        scanner = f"flow {self.flow_id}"
        line = await async_acquire_port(self.hass, port, scanner)
        found: dict[int, Snapshot] = {}
        try:
            for address in addresses:
                try:
                    raw = await line.read(
                        address, attempts=1, reply_timeout=SCAN_REPLY_TIMEOUT
                    )
                    found[address] = decode_rs485_reply(raw, address)
                except PortError as err:
                    errors["base"] = "cannot_open_port"
                    placeholders["error"] = err.placeholders["error"]
                    return {}
                except (DeviceConnectionError, FrameError):
                    continue
        finally:
            await async_release_port(self.hass, line, scanner)
        if not found:
            errors["base"] = "no_balancers_found"
        return found

    async def async_step_rs485_pick(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the balancer to add now; the others are offered as discovered."""
        if user_input is not None:
            address = int(user_input[CONF_BUS_ADDRESS])
            for other in self._found:
                if other != address:
                    discovery_flow.async_create_flow(
                        self.hass,
                        DOMAIN,
                        context={"source": SOURCE_INTEGRATION_DISCOVERY},
                        data={CONF_SERIAL_PORT: self._port, CONF_BUS_ADDRESS: other},
                    )
            return await self._async_create_bus_entry(address)
        return self.async_show_form(
            step_id="rs485_pick",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_BUS_ADDRESS): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(
                                    value=str(address), label=_label(address, snapshot)
                                )
                                for address, snapshot in self._found.items()
                            ],
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            description_placeholders={
                "port": self._port,
                "found": str(len(self._found)),
            },
        )

    async def async_step_integration_discovery(
        self, discovery_info: dict[str, Any]
    ) -> ConfigFlowResult:
        """Another balancer found by a bus scan: offer it on its own."""
        port: str = discovery_info[CONF_SERIAL_PORT]
        address = int(discovery_info[CONF_BUS_ADDRESS])
        await self.async_set_unique_id(bus_unique_id(port, address))
        self._abort_if_unique_id_configured()
        if await async_is_configured(self.hass, port, address):
            return self.async_abort(reason="already_configured")
        self._port, self._address = port, address
        self.context["title_placeholders"] = {"name": _title(address)}
        return await self.async_step_bus_confirm()

    async def async_step_bus_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a balancer found on a bus."""
        if user_input is not None:
            return await self._async_create_bus_entry(self._address)
        return self.async_show_form(
            step_id="bus_confirm",
            description_placeholders={
                "name": _title(self._address),
                "port": self._port,
            },
        )

    async def async_step_reconfigure_bus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The adapter moved to another port: find the balancer there."""
        entry = self._get_reconfigure_entry()
        address = int(entry.data[CONF_BUS_ADDRESS])
        errors: dict[str, str] = {}
        placeholders = {"name": entry.title, "address": str(address)}
        if user_input is not None and (
            problem := port_problem(user_input[CONF_SERIAL_PORT])
        ):
            errors[CONF_SERIAL_PORT] = problem
        elif user_input is not None:
            port = await self._async_stable(user_input[CONF_SERIAL_PORT])
            # Another entry already is the balancer at that port and address.
            if await async_is_configured(self.hass, port, address, besides=entry):
                return self.async_abort(reason="already_configured")
            if await self._async_probe(port, [address], errors, placeholders):
                adapter = await self.hass.async_add_executor_job(usb_adapter, port)
                return self.async_update_reload_and_abort(
                    entry,
                    unique_id=bus_unique_id(port, address),
                    data_updates={CONF_SERIAL_PORT: port, CONF_USB_ADAPTER: adapter},
                )
        return self.async_show_form(
            step_id="reconfigure_bus",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_SERIAL_PORT, default=entry.data[CONF_SERIAL_PORT]
                    ): TextSelector()
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_create_bus_entry(self, address: int) -> ConfigFlowResult:
        await self.async_set_unique_id(
            bus_unique_id(self._port, address), raise_on_progress=False
        )
        self._abort_if_unique_id_configured()
        if await async_is_configured(self.hass, self._port, address):
            return self.async_abort(reason="already_configured")
        adapter = self._usb or await self.hass.async_add_executor_job(
            usb_adapter, self._port
        )
        if (moved := await async_lost_entry(self.hass, address, adapter)) is not None:
            # The balancer of an entry whose adapter went away answers here:
            # it is that one, on its adapter at a new path, not a new one.
            async_move(self.hass, moved, self._port, adapter)
            return self.async_abort(
                reason="moved_here",
                description_placeholders={"name": moved.title, "port": self._port},
            )
        return self.async_create_entry(
            title=_title(address),
            data={
                CONF_TRANSPORT: Transport.RS485.value,
                CONF_SERIAL_PORT: self._port,
                CONF_BUS_ADDRESS: address,
                CONF_USB_ADAPTER: adapter,
            },
        )

    async def _async_stable(self, port: str) -> str:
        return await self.hass.async_add_executor_job(stable_port, port)


def _title(address: int) -> str:
    return f"JK balancer {address}"


def _label(address: int, snapshot: Snapshot) -> str:
    """What tells the balancers apart: address, cells and pack voltage."""
    cells = snapshot.cell_info
    total = "" if cells.total_voltage is None else f", {cells.total_voltage:.2f} V"
    return f"{_title(address)}: {cells.cell_count} cells{total}"
