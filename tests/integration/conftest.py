"""Home Assistant with virtual balancers behind a virtual Bluetooth proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
import os
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.const import ATTR_ENTITY_ID, CONF_ADDRESS, CONF_PASSWORD, Platform
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    restore_state as rs,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.jk_balancer.const import (
    CONF_BUS_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_TRANSPORT,
    DOMAIN,
    bus_unique_id,
)
from custom_components.jk_balancer.rs485 import rs485_device_key
from jk_emulator import PROFILES, BluetoothBalancer, VirtualBus, VirtualRadio
from jk_emulator.ble import STREAM_INTERVAL
from jk_emulator.ha_proxy import VirtualProxyScanner, async_register_virtual_proxy
from tests.conftest import FAST


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/jk_balancer."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots in ``snapshots/``, whichever plugin's fixture loaded last.

    Both the harness and syrupy define ``snapshot``; which one wins depends
    on the order site-packages lists them, so the extension is set here.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled (signal strength and calibration are not)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@dataclass
class Proxy:
    """A virtual ESPHome-like proxy and the balancers it hears."""

    radio: VirtualRadio
    scanner: VirtualProxyScanner
    _next: int = 1

    def add(
        self, profile: str = "jk-b2a16s", *, heard: bool = True, **kwargs: Any
    ) -> BluetoothBalancer:
        """Put a virtual balancer in range and let it advertise (if ``heard``)."""
        options: dict[str, Any] = {
            "time_scale": FAST,
            "seed": 3,
            "noise": False,
            "clock": lambda: 1000.0,
        }
        options |= kwargs
        address = f"C8:47:80:12:34:{self._next:02X}"
        self._next += 1
        device = BluetoothBalancer(PROFILES[profile], address=address, **options)
        if not heard:
            return self.radio.add(device)
        return self.put(device)

    def put(self, device: BluetoothBalancer) -> BluetoothBalancer:
        """Put an already built balancer in range and let it advertise."""
        self.radio.add(device)
        self.scanner.advertise(device)
        return device


@pytest.fixture
async def proxy(hass: HomeAssistant, enable_bluetooth: None) -> AsyncIterator[Proxy]:
    """A virtual proxy with three connection slots, registered in Home Assistant."""
    radio = VirtualRadio(slots=3, source="AA:BB:CC:DD:EE:01")
    scanner, remove = async_register_virtual_proxy(hass, radio)
    yield Proxy(radio, scanner)
    remove()


def config_entry(
    device: BluetoothBalancer,
    *,
    password: str = "1234",
    options: dict[str, Any] | None = None,
    **data: Any,
) -> MockConfigEntry:
    """A config entry for ``device``."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=device.name,
        unique_id=device.address,
        data={CONF_ADDRESS: device.address, CONF_PASSWORD: password, **data},
        options=options or {},
        minor_version=3,
    )


async def setup_entry(
    hass: HomeAssistant, device: BluetoothBalancer, **kwargs: Any
) -> MockConfigEntry:
    """Add and set up a config entry for ``device``."""
    entry = config_entry(device, **kwargs)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def bus_entry(
    bus: VirtualBus, address: int, port: str | None = None
) -> MockConfigEntry:
    """The config entry of the balancer at ``address`` on ``bus`` (or ``port``)."""
    port = port or bus.path
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"JK balancer {address}",
        unique_id=bus_unique_id(port, address),
        data={
            CONF_TRANSPORT: "rs485",
            CONF_SERIAL_PORT: port,
            CONF_BUS_ADDRESS: address,
        },
        minor_version=3,
    )


async def setup_bus(hass: HomeAssistant, bus: VirtualBus) -> list[MockConfigEntry]:
    """Set up both balancers of ``bus``."""
    entries = [bus_entry(bus, address) for address in sorted(bus.units)]
    for entry in entries:
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entries


# The RS485 commands that write a setting.
WRITE_COMMANDS = {0xF0, 0xF2, 0xF4, 0xF6}


def entity_id(hass: HomeAssistant, platform: str, address: int, key: str) -> str:
    """The entity id of ``key`` of the balancer at ``address``."""
    entry = next(
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.data.get(CONF_BUS_ADDRESS) == address
    )
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"{rs485_device_key(entry.entry_id)}-{key}"
    )
    assert found is not None, key
    return found


def writes(bus: VirtualBus) -> list[tuple[int, int]]:
    """(address, command) of every write the balancers heard."""
    return [(raw[2], raw[3]) for raw in bus.received if raw[3] in WRITE_COMMANDS]


def open_fds(path: str) -> int:
    """How many file descriptors of this process are open on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == path:
                count += 1
        except OSError:
            continue
    return count


async def set_value(hass: HomeAssistant, entity_id: str, value: float) -> None:
    """Set a number entity through its service, as the UI does."""
    await hass.services.async_call(
        "number",
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value},
        blocking=True,
    )


async def start_fix(client: Any, domain: str, issue_id: str) -> dict[str, Any]:
    """Open the fix flow of a repair through the HTTP API, as the UI does."""
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": domain, "issue_id": issue_id}
    )
    assert response.status == 200
    return await response.json()


async def restart_with_stored(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entry: MockConfigEntry,
    entity_id: str,
    **extra_data: Any,
) -> None:
    """Stop as at a restart, with what was stored for ``entity_id`` changed, and start.

    Through Home Assistant's own storage of restored states, which finds an
    entity by its registry entry (since 2026.11) or its entity id.
    """
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    restored = rs.async_get(hass)
    await restored.async_dump_states()
    for item in hass_storage[rs.STORAGE_KEY]["data"]:
        if item["state"]["entity_id"] == entity_id:
            item["extra_data"] = (item["extra_data"] or {}) | extra_data
            item["state"]["state"] = str(extra_data.get("native_value"))
    await restored.async_load()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def next_update(hass: HomeAssistant, seconds: float = 31) -> None:
    """Fire the timers of the next update and let it finish.

    Time is not frozen: the virtual balancer answers on the event loop's clock,
    and streams a few frames first, as it would during an update interval.
    """
    await asyncio.sleep(20 * STREAM_INTERVAL * FAST)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done(wait_background_tasks=True)


async def start_user_flow(hass: HomeAssistant, choice: str) -> ConfigFlowResult:
    """Open "Add integration" and take ``choice`` from its menu."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": choice}
    )


def device_of(hass: HomeAssistant, entry_id: str) -> dr.DeviceEntry:
    """The one device of config entry ``entry_id``.

    Looked up through the entry: ``async_get_device`` is deprecated since
    Home Assistant 2026.9 (identifiers are unique per entry only).
    """
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)
    assert len(devices) == 1, devices
    return devices[0]


def plain(value: Any) -> Any:
    """A value as users see it in the UI and in automations, without types."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(item) for item in value]
    return value


def state_value(hass: HomeAssistant, entity_id: str) -> str:
    """The state of ``entity_id``, which must exist."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def platform_entities(
    hass: HomeAssistant, proxy: Proxy, platform: Platform, profile: str
) -> dict[str, dict[str, Any]]:
    """The entities of one platform of a virtual ``profile`` balancer, as users
    see them (a JK BMS with 4 cells, to keep its snapshot short)."""
    device = proxy.add(profile, cells=4 if profile == "jk-b2a24s20p" else None)
    with patch("custom_components.jk_balancer.PLATFORMS", [platform]):
        entry = await setup_entry(hass, device)
    return entities_as_users_see_them(hass, entry.entry_id)


def entities_as_users_see_them(
    hass: HomeAssistant, entry_id: str
) -> dict[str, dict[str, Any]]:
    """Every entity of an entry: its id, kind, unit, category and state.

    What a user or an automation meets, and nothing of how the registry
    stores it, so the same snapshot holds on every Home Assistant release.
    """
    registry = er.async_get(hass)
    found: dict[str, dict[str, Any]] = {}
    for item in sorted(
        er.async_entries_for_config_entry(registry, entry_id),
        key=lambda item: item.entity_id,
    ):
        state = hass.states.get(item.entity_id)
        found[item.entity_id] = {
            "unique_id": item.unique_id,
            "translation_key": item.translation_key,
            "device_class": plain(item.original_device_class),
            "entity_category": plain(item.entity_category),
            "unit": item.unit_of_measurement,
            "capabilities": plain(item.capabilities),
            "disabled_by": plain(item.disabled_by),
            "state": None if state is None else state.state,
            "attributes": None if state is None else plain(dict(state.attributes)),
        }
    return found


# A virtual JK BMS (it measures the pack's current) and its energy sensors.
BMS = "jk-pb2a16s20p"
CHARGED = "sensor.jk_pb2a16s20p_energy_charged"
DISCHARGED = "sensor.jk_pb2a16s20p_energy_discharged"


def flow(device: BluetoothBalancer, amps: float) -> float:
    """Let ``amps`` flow through the pack (positive: charging); return the W."""
    battery = device.battery
    battery.load_amplitude = amps
    battery.elapsed = battery.load_period / 4  # the daily sine at its peak
    return sum(battery.true_voltages()) * amps


async def bms(hass: HomeAssistant, proxy: Proxy, **options: Any) -> BluetoothBalancer:
    device = proxy.add(BMS)
    flow(device, 0.0)
    await setup_entry(hass, device, options=options)
    return device


@pytest.fixture
def quick_scan() -> Iterator[None]:
    """A scan waits less for the empty addresses of a virtual bus, yet long
    enough for a unit that is there on a busy machine (at 20 ms, one under
    load was taken for absent)."""
    with patch("custom_components.jk_balancer.rs485_flow.SCAN_REPLY_TIMEOUT", 0.15):
        yield
