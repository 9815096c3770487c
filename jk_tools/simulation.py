"""Home Assistant on simulated time, with virtual balancers behind a virtual proxy.

The benchmarks and the soak need hours of a balancer's life in seconds or
minutes. :class:`SimulatedTimeLoop` is an asyncio event loop whose clock jumps
to the next timer whenever nothing is ready to run and no executor job is
pending, so Home Assistant's timers, the coordinators' update intervals, the
virtual balancers' 0.5 s stream and every timeout follow one simulated clock,
and all the work they do is real. Only the wall clock (``datetime.now``) keeps
real time; Home Assistant uses the loop's clock for everything scheduled.

:func:`run_simulation` starts a minimal Home Assistant (core, registries,
Bluetooth, this integration) in a temporary folder, registers virtual proxies
(or starts emulated ESPHome nodes that Home Assistant's esphome integration
reaches over TCP), and hands a :class:`Simulation` to the caller's coroutine.
Development only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass, field
import logging
import selectors
import socket
import tempfile
import time
from typing import Any

from homeassistant import bootstrap, config_entries, loader
from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_ADDRESS, CONF_PASSWORD
from homeassistant.core import HomeAssistant, callback
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component

from custom_components.jk_balancer.bluetooth import BluetoothLink, async_heard_now
from custom_components.jk_balancer.const import (
    CONF_CONNECTION_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ConnectionMode,
)
from custom_components.jk_balancer.coordinator import BalancerCoordinator
from jk_emulator import PROFILES, BluetoothBalancer, VirtualRadio
from jk_emulator.esphome_node import EsphomeNode
from jk_emulator.ha_esphome import async_add_esphome_node
from jk_emulator.ha_proxy import VirtualProxyScanner, async_register_virtual_proxy

PASSWORD = "1234"  # noqa: S105 - the virtual balancers' passcode
# The emulated nodes' API encryption key (base64 of 32 bytes).
NODE_KEY = "amstYmFsYW5jZXItc2ltdWxhdGlvbi1ub2RlLWtleSE="


class _FastForwardSelector(selectors.DefaultSelector):
    """Polls without waiting while the loop fast-forwards, and moves its clock."""

    loop: SimulatedTimeLoop

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        if timeout is None or timeout <= 0 or not loop.fast_forward or loop.busy:
            return super().select(timeout)
        events = super().select(0)
        if not events:
            # Nothing to do until the next timer: let its time come at once.
            loop.advance(timeout)
        return events


class SimulatedTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock skips idle time while ``fast_forward`` is on."""

    def __init__(self) -> None:
        """Create the loop; it runs in real time until told otherwise."""
        selector = _FastForwardSelector()
        selector.loop = self
        super().__init__(selector)
        self.fast_forward = False
        self._offset = 0.0
        self._executor_jobs = 0

    def time(self) -> float:
        """The simulated monotonic clock."""
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._offset += seconds

    @property
    def busy(self) -> bool:
        """Return True while an executor job runs: its result is real time away."""
        return self._executor_jobs > 0

    def run_in_executor[T](  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """Run ``func`` in a thread; the clock holds still until it returns."""
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        future.add_done_callback(self._executor_job_done)
        return future

    def _executor_job_done(self, _future: asyncio.Future[Any]) -> None:
        self._executor_jobs -= 1


@dataclass
class Simulation:
    """Home Assistant, the virtual radios its proxies reach, and the devices.

    Devices are spread over the proxies in turn, each in range of one. The
    proxies are virtual scanners (``scanners``) or emulated ESPHome nodes,
    which advertise what their radio holds by themselves.
    """

    hass: HomeAssistant
    loop: SimulatedTimeLoop
    radios: list[VirtualRadio]
    scanners: list[VirtualProxyScanner] = field(default_factory=list)
    devices: list[BluetoothBalancer] = field(default_factory=list)
    entries: dict[str, ConfigEntry] = field(default_factory=dict)

    @property
    def connections(self) -> int:
        """Links open now, through every proxy."""
        return sum(len(radio.connections) for radio in self.radios)

    @property
    def connection_attempts(self) -> int:
        """Connections asked for so far, through every proxy."""
        return sum(radio.connection_attempts for radio in self.radios)

    @property
    def now(self) -> float:
        """Simulated seconds on the loop's clock."""
        return self.loop.time()

    async def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass."""
        self.loop.fast_forward = True
        try:
            await asyncio.sleep(seconds)
        finally:
            self.loop.fast_forward = False

    def add_device(self, profile: str, name: str, **options: Any) -> BluetoothBalancer:
        """Put a virtual balancer in range of the next proxy."""
        number = len(self.devices) + 1
        proxy = (number - 1) % len(self.radios)
        device = BluetoothBalancer(
            PROFILES[profile],
            address=f"C8:47:80:5A:00:{number:02X}",
            name=name,
            passcode=PASSWORD,
            seed=number,
            clock=self.loop.time,
            **options,
        )
        self.radios[proxy].add(device)
        self.devices.append(device)
        if self.scanners:
            self.scanners[proxy].advertise(device)
        return device

    async def heard(self, device: BluetoothBalancer) -> None:
        """Wait until Home Assistant hears ``device`` through a proxy."""
        seen = asyncio.Event()
        remove = bluetooth.async_register_callback(
            self.hass,
            lambda _info, _change: seen.set(),
            bluetooth.BluetoothCallbackMatcher(
                address=device.address, connectable=True
            ),
            bluetooth.BluetoothScanningMode.PASSIVE,
        )
        try:
            if not async_heard_now(self.hass, device.address):
                await seen.wait()
        finally:
            remove()

    async def add_entry(
        self,
        device: BluetoothBalancer,
        connection_mode: ConnectionMode = ConnectionMode.PERSISTENT,
        update_interval: int = DEFAULT_UPDATE_INTERVAL,
    ) -> ConfigEntry:
        """Add ``device`` as a user would: user step, password, then options."""
        await self.heard(device)
        flow = self.hass.config_entries.flow
        result: Any = await flow.async_init(DOMAIN, context={"source": "user"})
        result = await flow.async_configure(
            result["flow_id"], {"next_step_id": "bluetooth_device"}
        )
        result = await flow.async_configure(
            result["flow_id"], {CONF_ADDRESS: device.address}
        )
        result = await flow.async_configure(
            result["flow_id"], {CONF_PASSWORD: PASSWORD}
        )
        if result["type"] is not FlowResultType.CREATE_ENTRY:
            raise RuntimeError(f"adding {device.name} failed: {result}")
        entry: ConfigEntry = result["result"]
        await _loaded(entry)
        if (connection_mode, update_interval) != (
            ConnectionMode.PERSISTENT,
            DEFAULT_UPDATE_INTERVAL,
        ):
            options = self.hass.config_entries.options
            result = await options.async_init(entry.entry_id)
            await options.async_configure(
                result["flow_id"],
                {
                    CONF_UPDATE_INTERVAL: update_interval,
                    CONF_CONNECTION_MODE: connection_mode,
                },
            )
            await _loaded(entry)
        self.entries[device.address] = entry
        return entry

    def coordinator(self, device: BluetoothBalancer) -> BalancerCoordinator:
        """The coordinator of ``device``'s config entry."""
        coordinator: BalancerCoordinator = self.entries[device.address].runtime_data
        return coordinator

    def link(self, device: BluetoothBalancer) -> BluetoothLink:
        """The Bluetooth link of ``device``'s coordinator."""
        link = self.coordinator(device).link
        assert isinstance(link, BluetoothLink)
        return link

    def entity_ids(self, device: BluetoothBalancer) -> list[str]:
        """Entity ids of ``device``'s entities that are enabled."""
        registry = er.async_get(self.hass)
        return [
            item.entity_id
            for item in er.async_entries_for_config_entry(
                registry, self.entries[device.address].entry_id
            )
            if not item.disabled
        ]


def run_simulation[T](
    main: Callable[[Simulation], Coroutine[Any, Any, T]],
    *,
    slots: int = 3,
    proxies: int = 1,
    esphome: bool = False,
) -> T:
    """Run ``main`` against a fresh Home Assistant on a simulated-time loop.

    ``proxies`` proxies of ``slots`` connection slots each: virtual ones, or
    with ``esphome`` emulated ESPHome nodes on 127.0.0.1.
    """
    loop = SimulatedTimeLoop()
    executor = ThreadPoolExecutor(thread_name_prefix="SimWorker")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(
            _simulate(loop, main, slots, proxies, esphome=esphome)
        )
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()


async def _simulate[T](
    loop: SimulatedTimeLoop,
    main: Callable[[Simulation], Awaitable[T]],
    slots: int,
    proxies: int,
    *,
    esphome: bool,
) -> T:
    with tempfile.TemporaryDirectory(prefix="jk-simulation-") as config_dir:
        hass = await _start_home_assistant(config_dir)
        radios = [
            VirtualRadio(slots=slots, source=f"0A:00:00:00:5A:{number:02X}")
            for number in range(1, proxies + 1)
        ]
        sim = Simulation(hass, loop, radios)
        nodes: list[EsphomeNode] = []
        removers: list[Callable[[], None]] = []
        if esphome:
            await _setup_esphome_dependencies(hass)
            for number, radio in enumerate(radios, 1):
                # With an encryption key, as most owners' nodes have.
                # With an encryption key, as most owners' nodes have.
                node = EsphomeNode(
                    radio,
                    name=f"jk-sim-proxy-{number}",
                    mac=radio.source,
                    noise_psk=NODE_KEY,
                )
                nodes.append(node)
                await _add_node(hass, node)
        else:
            for number, radio in enumerate(radios, 1):
                scanner, remove = async_register_virtual_proxy(
                    hass, radio, f"Simulated JK proxy {number}"
                )
                sim.scanners.append(scanner)
                removers.append(remove)
        try:
            return await main(sim)
        finally:
            # The balancers first: an update under way would otherwise meet a
            # Bluetooth stack already stopped.
            for entry in hass.config_entries.async_entries(DOMAIN):
                await hass.config_entries.async_unload(entry.entry_id)
            for remove in removers:
                remove()
            with contextlib.suppress(Exception):
                await hass.async_stop()
            for node in nodes:
                await node.stop()


async def _setup_esphome_dependencies(hass: HomeAssistant) -> None:
    """ffmpeg, which the esphome integration needs, without the program.

    This machine has no ffmpeg; only the nodes' voice features would use it.
    """
    config = {"ffmpeg": {"ffmpeg_bin": "true"}}
    if not await async_setup_component(hass, "ffmpeg", config):
        raise RuntimeError("Home Assistant could not set up ffmpeg")


async def _add_node(hass: HomeAssistant, node: EsphomeNode) -> None:
    await node.start()
    await _loaded(await async_add_esphome_node(hass, node))


async def _loaded(entry: ConfigEntry) -> None:
    """Wait for ``entry`` to be set up.

    Not async_block_till_done: with short intervals the balancers already
    added always have an update under way.
    """
    loaded = asyncio.Event()

    @callback
    def check() -> None:
        if entry.state is ConfigEntryState.LOADED:
            loaded.set()

    remove = entry.async_on_state_change(check)
    check()
    try:
        await loaded.wait()
    finally:
        remove()


async def _start_home_assistant(config_dir: str) -> HomeAssistant:
    """Core, registries, Bluetooth and custom integrations; nothing else."""
    hass = HomeAssistant(config_dir)
    # What is installed is what runs: nothing is fetched (an integration's
    # after-dependency may pin another version than this environment has).
    hass.config.skip_pip = True
    loader.async_setup(hass)
    hass.config_entries = config_entries.ConfigEntries(hass, {})
    await loader.async_get_custom_components(hass)
    await bootstrap.async_load_base_functionality(hass)
    await async_process_ha_core_config(hass, {})
    # Bluetooth needs usb, which needs the websocket API and so the web server.
    config = {"http": {"server_host": ["127.0.0.1"], "server_port": _free_port()}}
    for domain in ("homeassistant", "http", "bluetooth"):
        if not await async_setup_component(hass, domain, config):
            raise RuntimeError(f"Home Assistant could not set up {domain}")
    await hass.async_start()
    await hass.async_block_till_done()
    return hass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def quiet_logging() -> None:
    """Warnings and errors only: the figures are the output."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # Start-up notices about this machine, not about the run: a custom
    # integration is loaded, and aiohttp lacks its optional zlib accelerators.
    for name in ("homeassistant.loader", "aiohttp_fast_zlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
