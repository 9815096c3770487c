"""Async client for a JK balancer, built on bleak and bleak-retry-connector.

The client takes a ``BLEDevice`` (Home Assistant hands over one that may sit
behind a Bluetooth proxy), connects, performs the handshake the official app
uses (device info 0x97, then settings 0x96, after which the device streams
cell-info frames), keeps the newest complete :class:`Snapshot`, and writes
settings, confirming each by reading the settings back.

It starts no background task: everything happens in the notification callback
or in the awaiting caller, so a lost link leaves nothing running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import hmac
import logging
from typing import Any, Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
import bleak_retry_connector

from .analysis import Chemistry
from .cell_info import CheckedCellInfo
from .commands import encode_request
from .const import FrameType, Protocol, Request
from .decode import FrameDecoder
from .errors import (
    DeviceConnectionError,
    DeviceTimeoutError,
    FrameError,
    NotConnectedError,
    UnsupportedDeviceError,
)
from .frame import AssemblerStats, FrameAssembler
from .gatt import connection_failure, find_characteristics
from .model import CellInfo, DeviceInfo, Settings, Snapshot
from .settings import Confirmation
from .writes import held_value, is_confirmed, not_confirmed, validate_write

_LOGGER = logging.getLogger(__name__)

# Real devices answer within 0.2 s; a proxy and a busy radio add to that.
DEFAULT_RESPONSE_TIMEOUT: Final = 5.0
# The stream starts about 0.6 s after the settings request.
DEFAULT_STREAM_TIMEOUT: Final = 5.0

SnapshotListener = Callable[[Snapshot], None]
# What the client hands the callers waiting for a frame.
type Checked = DeviceInfo | Settings | CheckedCellInfo


class JKBalancerClient:
    """Talk to one JK balancer (or the balancer inside a JK BMS)."""

    def __init__(
        self,
        ble_device: BLEDevice,
        *,
        protocol: Protocol | None = None,
        response_timeout: float = DEFAULT_RESPONSE_TIMEOUT,
        stream_timeout: float = DEFAULT_STREAM_TIMEOUT,
        connect_attempts: int = 3,
        backend: type[BaseBleakClient] | None = None,
    ) -> None:
        """Prepare a client; nothing is sent until :meth:`connect`.

        ``protocol`` overrides layout detection. ``connect_attempts`` is how
        often bleak-retry-connector tries (with back-off) before giving up.
        ``backend`` selects a bleak backend (the virtual balancer); Home
        Assistant picks its own.
        """
        self._ble_device = ble_device
        self._protocol_override = protocol
        self._response_timeout = response_timeout
        self._stream_timeout = stream_timeout
        self._connect_attempts = connect_attempts
        self._backend = backend
        self._client: BleakClient | None = None
        self._write_char: BleakGATTCharacteristic | None = None
        self._assembler = FrameAssembler()
        self._decoder = FrameDecoder(protocol)
        self._settings: Settings | None = None
        # Every cell-info frame is checked; it is converted when it is read.
        self._checked_cell_info: CheckedCellInfo | None = None
        self._cell_info: CellInfo | None = None
        self._cell_info_at: float | None = None
        self._waiters: dict[int, list[asyncio.Future[Checked]]] = {}
        self._listeners: list[SnapshotListener] = []
        self._disconnect_listeners: list[Callable[[], None]] = []
        self._connect_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        # Why the latest frame of each type was dropped (cleared when one decodes).
        self._rejections: dict[FrameType, FrameError] = {}
        self.rejected_frames = 0
        self.last_frames: dict[FrameType, bytes] = {}

    # -- state ---------------------------------------------------------------

    @property
    def address(self) -> str:
        """Bluetooth address of the device."""
        return self._ble_device.address

    @property
    def name(self) -> str:
        """Advertised name, or the address."""
        return self._ble_device.name or self._ble_device.address

    @property
    def is_connected(self) -> bool:
        """Return True while the link is up."""
        return self._client is not None and self._client.is_connected

    @property
    def protocol(self) -> Protocol | None:
        """Frame layout in use (detected or overridden)."""
        return self._decoder.protocol

    @property
    def device_info(self) -> DeviceInfo | None:
        """Newest device info."""
        return self._decoder.device_info

    @property
    def snapshot(self) -> Snapshot | None:
        """Newest complete state, or None before the first handshake."""
        device_info = self._decoder.device_info
        protocol = self._decoder.protocol
        checked = self._checked_cell_info
        if device_info is None or protocol is None or self._settings is None:
            return None
        if checked is None:
            return None
        if self._cell_info is None:
            self._cell_info = checked.cell_info()
        return Snapshot(protocol, device_info, self._settings, self._cell_info)

    @property
    def cell_info_age(self) -> float | None:
        """Seconds since the last cell-info frame arrived."""
        if self._cell_info_at is None:
            return None
        return asyncio.get_running_loop().time() - self._cell_info_at

    @property
    def stats(self) -> AssemblerStats:
        """What the frame assembler dropped."""
        return self._assembler.stats

    def set_ble_device(self, ble_device: BLEDevice) -> None:
        """Use a newer BLEDevice (the device may now be reached via another proxy)."""
        self._ble_device = ble_device

    def add_listener(self, listener: SnapshotListener) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot; return the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_disconnect_listener(
        self, listener: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``listener`` when the link drops unexpectedly; return the remover."""
        self._disconnect_listeners.append(listener)
        return lambda: self._disconnect_listeners.remove(listener)

    def verify_password(self, password: str) -> bool:
        """Compare ``password`` with the passcode the device reported."""
        device_info = self._decoder.device_info
        if device_info is None:
            raise NotConnectedError("no device info received yet")
        return hmac.compare_digest(password.encode(), device_info.passcode.encode())

    # -- connection ----------------------------------------------------------

    async def connect(self) -> Snapshot:
        """Connect, perform the handshake and return the first snapshot."""
        async with self._connect_lock:
            if self.is_connected and (snapshot := self.snapshot) is not None:
                return snapshot
            self._assembler.reset()
            self._rejections.clear()
            self._settings = None
            self._checked_cell_info = None
            self._cell_info = None
            client = await self._establish()
            self._client = client
            try:
                notify_char, self._write_char = find_characteristics(client)
                await client.start_notify(notify_char, self._on_notification)
                return await self._handshake()
            except BleakError as err:
                await self._drop_client()
                raise DeviceConnectionError(
                    f"the link failed during the handshake: {err}", name=self.name
                ) from err
            except BaseException:
                await self._drop_client()
                raise

    async def disconnect(self) -> None:
        """Disconnect; pending requests fail with NotConnectedError."""
        await self._drop_client()

    async def _establish(self) -> BleakClient:
        kwargs: dict[str, Any] = {}
        if self._backend is not None:
            kwargs["backend"] = self._backend
        try:
            # Looked up at call time: Home Assistant swaps in its proxy-aware class.
            return await bleak_retry_connector.establish_connection(
                bleak_retry_connector.BleakClientWithServiceCache,
                self._ble_device,
                self.name,
                disconnected_callback=self._on_disconnected,
                ble_device_callback=lambda: self._ble_device,
                max_attempts=self._connect_attempts,
                **kwargs,
            )
        except (BleakError, TimeoutError) as err:
            _LOGGER.debug("%s: cannot connect: %s", self.name, err)
            raise DeviceConnectionError(
                connection_failure(err), name=self.name
            ) from err

    async def _handshake(self) -> Snapshot:
        await self._request(Request.DEVICE_INFO, FrameType.DEVICE_INFO)
        await self._request(Request.SETTINGS, FrameType.SETTINGS)
        try:
            if self._checked_cell_info is None:
                await self._wait_for(FrameType.CELL_INFO, self._stream_timeout)
        except UnsupportedDeviceError:
            raise
        except DeviceTimeoutError:
            # Some firmware starts streaming only after a second settings request.
            await self._request(Request.SETTINGS, FrameType.CELL_INFO)
        snapshot = self.snapshot
        if snapshot is None:  # pragma: no cover - all three frames were awaited
            raise DeviceConnectionError("handshake incomplete", name=self.name)
        return snapshot

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._fail_waiters(NotConnectedError("disconnected", name=self.name))
        if client is None:
            return
        try:
            await client.disconnect()
        except BleakError as err:
            _LOGGER.debug("%s: error while disconnecting: %s", self.name, err)

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is not self._client:
            return
        _LOGGER.debug("%s: link lost", self.name)
        self._client = None
        self._assembler.reset()
        self._fail_waiters(NotConnectedError("connection lost", name=self.name))
        for listener in list(self._disconnect_listeners):
            listener()

    # -- requests ------------------------------------------------------------

    async def request_settings(self) -> Settings:
        """Ask for the settings frame and return it."""
        result = await self._request(Request.SETTINGS, FrameType.SETTINGS)
        assert isinstance(result, Settings)
        return result

    async def write_setting(
        self,
        key: str,
        value: float | bool,
        *,
        chemistry: Chemistry | None = None,
        fewer_cells_confirmed: bool = False,
    ) -> Settings:
        """Write a setting and return the settings the device holds afterwards.

        The value is checked against the device's range, and against harm to
        the pack as it is now, before anything is sent (SettingOutOfRangeError,
        UnsafeSettingError; see ``validate_write``). After the write the
        settings are read back; WriteNotConfirmedError when the device holds
        another value.
        """
        async with self._write_lock:
            snapshot = self.snapshot
            if snapshot is None or not self.is_connected:
                raise NotConnectedError("not connected", name=self.name)
            write = validate_write(
                snapshot,
                key,
                value,
                chemistry=chemistry,
                fewer_cells_confirmed=fewer_cells_confirmed,
            )
            _LOGGER.debug("%s: writing %s = %s", self.name, key, write.value)
            await self._send(write.command)
            settings = await self.request_settings()
            cell_info: CellInfo | None = None
            if write.spec.confirmation is Confirmation.PACK_VOLTAGE:
                result = await self._wait_for(FrameType.CELL_INFO, self._stream_timeout)
                assert isinstance(result, CheckedCellInfo)
                cell_info = result.cell_info()
            held = held_value(write.spec, settings, cell_info)
            if not is_confirmed(write, held):
                raise not_confirmed(write, held, self.name)
            return settings

    async def _request(self, request: Request, answer: FrameType) -> Checked:
        future = self._expect(answer)
        await self._send(encode_request(request))
        return await self._await(future, answer, self._response_timeout)

    async def _wait_for(self, answer: FrameType, within: float) -> Checked:
        return await self._await(self._expect(answer), answer, within)

    def _expect(self, answer: FrameType) -> asyncio.Future[Checked]:
        future: asyncio.Future[Checked] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(answer, []).append(future)
        return future

    async def _await(
        self, future: asyncio.Future[Checked], answer: FrameType, within: float
    ) -> Checked:
        """Await a device's answer; its absence becomes a DeviceTimeoutError."""
        try:
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            if (rejection := self._rejections.get(answer)) is not None:
                raise UnsupportedDeviceError(
                    f"its {answer.key} frames fit no known layout: {rejection}",
                    name=self.name,
                ) from rejection
            raise DeviceTimeoutError(
                f"no {answer.key} frame within {within:g} s",
                name=self.name,
                frame=answer.key,
            ) from None
        finally:
            waiters = self._waiters.get(answer, [])
            if future in waiters:
                waiters.remove(future)

    async def _send(self, command: bytes) -> None:
        client = self._client
        if client is None or self._write_char is None:
            raise NotConnectedError("not connected", name=self.name)
        try:
            await client.write_gatt_char(self._write_char, command, response=False)
        except BleakError as err:
            raise DeviceConnectionError(f"write failed: {err}", name=self.name) from err

    def _fail_waiters(self, error: Exception) -> None:
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)

    # -- incoming ------------------------------------------------------------

    def _on_notification(self, _sender: object, data: bytearray) -> None:
        for frame in self._assembler.feed(data):
            try:
                frame_type = FrameType(frame.frame_type)
                self.last_frames[frame_type] = frame.raw
                decoded = self._decoder.check(frame)
            except ValueError:
                self.rejected_frames += 1
                _LOGGER.debug(
                    "%s: unknown frame type %#04x", self.name, frame.frame_type
                )
                continue
            except FrameError as err:
                self.rejected_frames += 1
                self._rejections[frame_type] = err
                _LOGGER.debug(
                    "%s: %s frame dropped: %s", self.name, frame_type.key, err
                )
                continue
            self._rejections.pop(frame_type, None)
            self._accept(frame_type, decoded)

    def _accept(self, frame_type: FrameType, decoded: Checked) -> None:
        if isinstance(decoded, Settings):
            self._settings = decoded
        elif isinstance(decoded, CheckedCellInfo):
            self._checked_cell_info = decoded
            self._cell_info = None
            # The event loop's clock, which the timeouts and the coordinator use.
            self._cell_info_at = asyncio.get_running_loop().time()
        for future in self._waiters.pop(frame_type, []):
            if not future.done():
                future.set_result(decoded)
        if (
            isinstance(decoded, CheckedCellInfo)
            and self._listeners
            and (snapshot := self.snapshot) is not None
        ):
            for listener in list(self._listeners):
                try:
                    listener(snapshot)
                except Exception:
                    _LOGGER.exception("%s: snapshot listener failed", self.name)
