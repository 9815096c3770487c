"""The Bluetooth client of a JK balancer, built on bleak and bleak-retry-connector.

The client takes a ``BLEDevice`` (Home Assistant hands over one that may sit
behind a Bluetooth proxy), connects, performs the handshake the official app
uses (device info 0x97, then settings 0x96, after which the device streams
cell-info frames), keeps the newest complete :class:`Snapshot`, and writes
settings as :class:`BalancerClient` does: confirmed by reading the settings
back.

It starts no background task of its own: everything happens in the
notification callback or in the awaiting caller, so a lost link leaves nothing
running. A connection that comes up after :meth:`close` is dropped at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import asdict
import hmac
import logging
from typing import Any, Final

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
import bleak_retry_connector

from ..client import WRITE_TIMEOUT, BalancerClient
from ..const import FrameType, Protocol, Request
from ..errors import (
    DeviceConnectionError,
    DeviceTimeoutError,
    LinkClosedError,
    NotConnectedError,
    UnsupportedDeviceError,
)
from ..model import Settings, Snapshot
from ..settings import Confirmation
from ..writes import PreparedWrite
from .commands import encode_request, write_command
from .decode import redact_passcodes
from .frame import AssemblerStats
from .gatt import connection_failure, find_characteristics
from .receiver import Checked, FrameReceiver, SnapshotListener

_LOGGER = logging.getLogger(__name__)

# Real devices answer within 0.2 s; a proxy and a busy radio add to that.
DEFAULT_RESPONSE_TIMEOUT: Final = 5.0
# The stream starts about 0.6 s after the settings request.
DEFAULT_STREAM_TIMEOUT: Final = 5.0
# A kept-open link whose stream sent nothing for this long is dead.
STALE_AFTER: Final = 15.0  # s


class BluetoothClient(BalancerClient):
    """One JK balancer (or the balancer inside a JK BMS) over Bluetooth."""

    def __init__(
        self,
        ble_device: BLEDevice,
        *,
        protocol: Protocol | None = None,
        response_timeout: float = DEFAULT_RESPONSE_TIMEOUT,
        stream_timeout: float = DEFAULT_STREAM_TIMEOUT,
        stale_after: float = STALE_AFTER,
        write_timeout: float = WRITE_TIMEOUT,
        connect_attempts: int = 3,
        backend: type[BaseBleakClient] | None = None,
    ) -> None:
        """Prepare a client; nothing is sent until the first :meth:`read`.

        ``protocol`` overrides layout detection. ``connect_attempts`` is how
        often bleak-retry-connector tries (with back-off) before giving up.
        ``backend`` selects a bleak backend (the virtual balancer); Home
        Assistant picks its own.
        """
        super().__init__(write_timeout=write_timeout)
        self._ble_device = ble_device
        self._response_timeout = response_timeout
        self._stream_timeout = stream_timeout
        # A kept-open link with nothing streamed for this long is re-made.
        self.stale_after = stale_after
        self._connect_attempts = connect_attempts
        self._backend = backend
        self._client: BleakClient | None = None
        self._write_char: BleakGATTCharacteristic | None = None
        self._receiver = FrameReceiver(lambda: self.name, protocol)
        self._disconnect_listeners: list[Callable[[], None]] = []
        self._connect_lock = asyncio.Lock()
        # Links that abandoned connection attempts still make (to drop them).
        self._orphans: set[asyncio.Task[None]] = set()

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
        return self._receiver.decoder.protocol

    @property
    def snapshot(self) -> Snapshot | None:
        """Newest complete state, or None before the first handshake."""
        return self._receiver.snapshot

    @property
    def cell_info_age(self) -> float | None:
        """Seconds since the last cell-info frame arrived."""
        if (received := self._receiver.cell_info_at) is None:
            return None
        return asyncio.get_running_loop().time() - received

    @property
    def stats(self) -> AssemblerStats:
        """What the frame assembler dropped."""
        return self._receiver.assembler.stats

    @property
    def last_frames(self) -> Mapping[FrameType, bytes]:
        """The raw frame of each type received last."""
        return self._receiver.last_frames

    @property
    def rejected_frames(self) -> int:
        """Frames whose checksum held but whose content could not be trusted."""
        return self._receiver.rejected_frames

    def set_ble_device(self, ble_device: BLEDevice) -> None:
        """Use a newer BLEDevice (the device may now be reached via another proxy)."""
        self._ble_device = ble_device

    def add_listener(
        self, listener: SnapshotListener, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], None]:
        """Call ``listener`` with every new snapshot, ``on_gap`` for every frame
        torn or refused (what it carried is not known); return the remover."""
        listeners, gaps = self._receiver.listeners, self._receiver.gap_listeners
        listeners.append(listener)
        if on_gap is not None:
            gaps.append(on_gap)

        def remove() -> None:
            listeners.remove(listener)
            if on_gap is not None:
                gaps.remove(on_gap)

        return remove

    def add_disconnect_listener(
        self, listener: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``listener`` when the link drops unexpectedly; return the remover."""
        self._disconnect_listeners.append(listener)
        return lambda: self._disconnect_listeners.remove(listener)

    def verify_password(self, password: str) -> bool:
        """Compare ``password`` with the passcode the device reported."""
        device_info = self._receiver.decoder.device_info
        if device_info is None:
            raise NotConnectedError("no device info received yet", name=self.name)
        try:
            typed = password.encode()
        except UnicodeEncodeError:  # no text a device could hold
            return False
        return hmac.compare_digest(typed, device_info.passcode.encode())

    def diagnostics(self) -> dict[str, Any]:
        """The link, the frames it rejected and the raw frames last received."""
        return {
            "connected": self.is_connected,
            "protocol": None if self.protocol is None else self.protocol.value,
            "rejected_frames": self.rejected_frames,
            "assembler": asdict(self.stats),
            "last_frames": {
                frame_type.key: redact_passcodes(raw).hex(" ")
                for frame_type, raw in self.last_frames.items()
            },
        }

    # -- connection ----------------------------------------------------------

    async def _read(self) -> Snapshot:
        """The streamed snapshot while it is fresh; otherwise (re)connect."""
        async with self._connect_lock:
            self._check_open()
            snapshot, age = self.snapshot, self.cell_info_age
            if self.is_connected and snapshot is not None:
                if age is not None and age < self.stale_after:
                    return snapshot
                _LOGGER.debug("%s: no data for %s s, reconnecting", self.name, age)
                await self._drop_client()
            return await self._connect()

    async def _connect(self) -> Snapshot:
        self._receiver.start()
        client = await self._establish()
        self._client = client
        try:
            notify_char, self._write_char = find_characteristics(client)
            await client.start_notify(notify_char, self._receiver.on_notification)
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
        """Drop the link (it opens again at the next read); requests fail."""
        await self._drop_client()

    async def _close(self) -> None:
        await self._drop_client()

    async def _establish(self) -> BleakClient:
        kwargs: dict[str, Any] = {}
        if self._backend is not None:
            kwargs["backend"] = self._backend
        # Looked up at call time: Home Assistant swaps in its proxy-aware class.
        connecting = asyncio.ensure_future(
            bleak_retry_connector.establish_connection(
                bleak_retry_connector.BleakClientWithServiceCache,
                self._ble_device,
                self.name,
                disconnected_callback=self._on_disconnected,
                ble_device_callback=lambda: self._ble_device,
                max_attempts=self._connect_attempts,
                **kwargs,
            )
        )
        try:
            # Cancelling a connection half made can leave a link up that no
            # one holds: the attempt runs on, and a link it makes is dropped.
            client = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            connecting.add_done_callback(self._drop_orphan)
            raise
        except (BleakError, TimeoutError) as err:
            _LOGGER.debug("%s: cannot connect: %s", self.name, err)
            raise DeviceConnectionError(
                connection_failure(err), name=self.name
            ) from err
        if self.closed:
            await client.disconnect()
            raise LinkClosedError("closed while connecting", name=self.name)
        return client

    async def _handshake(self) -> Snapshot:
        await self._request(Request.DEVICE_INFO, FrameType.DEVICE_INFO)
        await self._request(Request.SETTINGS, FrameType.SETTINGS)
        try:
            if not self._receiver.has_cell_info:
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
        self._receiver.fail_waiters(NotConnectedError("disconnected", name=self.name))
        if client is None:
            return
        try:
            await client.disconnect()
        # An ESPHome proxy's disconnect waits for the node to report the slot
        # free and times out when that report comes late: the link is gone
        # from here all the same.
        except (BleakError, TimeoutError) as err:
            _LOGGER.debug("%s: error while disconnecting: %r", self.name, err)

    def _on_disconnected(self, client: BleakClient) -> None:
        if client is not self._client:
            return
        _LOGGER.debug("%s: link lost", self.name)
        self._client = None
        self._receiver.assembler.reset()
        self._receiver.fail_waiters(
            NotConnectedError("connection lost", name=self.name)
        )
        for listener in list(self._disconnect_listeners):
            listener()

    # -- requests ------------------------------------------------------------

    async def request_settings(self) -> Settings:
        """Ask for the settings frame and return it."""
        result = await self._request(Request.SETTINGS, FrameType.SETTINGS)
        assert isinstance(result, Settings)
        return result

    async def _current_snapshot(self) -> Snapshot:
        snapshot = self.snapshot
        if snapshot is None or not self.is_connected:
            raise NotConnectedError("not connected", name=self.name)
        return snapshot

    async def _send_write(self, write: PreparedWrite) -> None:
        await self._send(write_command(write))

    async def _read_back(self, write: PreparedWrite) -> Snapshot:
        await self.request_settings()
        if write.spec.confirmation is Confirmation.PACK_VOLTAGE:
            await self._wait_for(FrameType.CELL_INFO, self._stream_timeout)
        return await self._current_snapshot()

    async def _request(self, request: Request, answer: FrameType) -> Checked:
        future = self._receiver.expect(answer)
        await self._send(encode_request(request))
        return await self._receiver.wait(future, answer, self._response_timeout)

    async def _wait_for(self, answer: FrameType, within: float) -> Checked:
        return await self._receiver.wait(self._receiver.expect(answer), answer, within)

    async def _send(self, command: bytes) -> None:
        client = self._client
        if client is None or self._write_char is None:
            raise NotConnectedError("not connected", name=self.name)
        try:
            await client.write_gatt_char(self._write_char, command, response=False)
        except BleakError as err:
            raise DeviceConnectionError(f"write failed: {err}", name=self.name) from err

    def _drop_orphan(
        self,
        connecting: asyncio.Future[bleak_retry_connector.BleakClientWithServiceCache],
    ) -> None:
        """Disconnect a link an abandoned connection attempt made after all."""
        if connecting.cancelled() or connecting.exception() is not None:
            return
        task = asyncio.ensure_future(connecting.result().disconnect())
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)
