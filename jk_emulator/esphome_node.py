"""An emulated ESPHome Bluetooth proxy on the native API, hosting virtual balancers.

Home Assistant's ``esphome`` integration, ``bleak-esphome`` and ``aioesphomeapi``
connect to it over TCP as to a real node, so the code owners run is exercised:
the node's advertisements, connection slots and their free-slot reports, GATT
service discovery, notifications of 20 bytes, writes without response, and the
faults a real node shows. Messages are ``aioesphomeapi``'s own protobuf
definitions; the server is written here, and the framing (plaintext, or noise
with an encryption key) in ``esphome_frames``.

Development and test tooling: never shipped.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aioesphomeapi import api_pb2 as _api_pb2
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from aioesphomeapi.model import BluetoothDeviceRequestType, BluetoothProxyFeature
from bluetooth_data_tools import int_to_bluetooth_address, mac_to_int

from custom_components.jk_balancer.protocol import (
    CHARACTERISTIC_UUID,
    SERVICE_UUID,
    Protocol,
)

from .ble import BluetoothBalancer, Link, LinkRefused
from .esphome_frames import ApiFrames, accept as accept_frames
from .radio import MTU, VirtualRadio

# Generated protobuf classes: attributes that type checkers cannot see.
_pb: Any = _api_pb2

_TYPE_OF: Final = {proto: number for number, proto in MESSAGE_TYPE_TO_PROTO.items()}
FEATURES: Final = (
    BluetoothProxyFeature.PASSIVE_SCAN
    | BluetoothProxyFeature.ACTIVE_CONNECTIONS
    | BluetoothProxyFeature.REMOTE_CACHING
    | BluetoothProxyFeature.CACHE_CLEARING
    | BluetoothProxyFeature.RAW_ADVERTISEMENTS
)
ADVERTISEMENT_INTERVAL: Final = 1.0  # s
# GATT properties (Bluetooth Core, Vol 3, Part G, 3.3.1.1).
_WRITE_NO_RESPONSE, _WRITE, _NOTIFY, _READ = 0x04, 0x08, 0x10, 0x02
_CCCD: Final = 0x2902
# HCI reasons a real node reports: remote user ended it, connection limit.
REASON_REMOTE: Final = 0x13
REASON_NO_SLOT: Final = 0x09
REASON_NOT_FOUND: Final = 0x02
# ATT errors (Bluetooth Core, Vol 3, Part F, 3.4.1.1): reading is not what a
# JK module does; anything asked of a device not connected is "unlikely".
ATT_READ_NOT_PERMITTED: Final = 0x02
ATT_UNLIKELY_ERROR: Final = 0x0E


def _uuid_words(uuid: str) -> list[int]:
    """A 128-bit UUID as the two 64-bit words the API carries."""
    value = int(uuid.replace("-", ""), 16)
    return [value >> 64, value & 0xFFFF_FFFF_FFFF_FFFF]


def _short_uuid_words(short: int) -> list[int]:
    return _uuid_words(f"0000{short:04x}-0000-1000-8000-00805f9b34fb")


def raw_advertisement(device: BluetoothBalancer) -> bytes:
    """The advertising data a JK module sends: flags, name, FFE0, manufacturer."""
    seen = device.advertisement()
    name = seen["local_name"].encode()[:20]
    (company, payload), *_ = seen["manufacturer_data"].items()
    service = int(SERVICE_UUID[4:8], 16)
    structures = [
        bytes([0x01, 0x06]),
        bytes([0x09]) + name,
        bytes([0x03]) + service.to_bytes(2, "little"),
        bytes([0xFF]) + company.to_bytes(2, "little") + payload,
    ]
    return b"".join(bytes([len(s)]) + s for s in structures)


class _Connection:
    """A device connection the node holds for an API client."""

    def __init__(self, device: BluetoothBalancer, link: Link) -> None:
        self.device = device
        self.link = link
        self.notifying: set[int] = set()


class _ApiClient:
    """One API client (Home Assistant) connected to the node."""

    def __init__(
        self,
        node: EsphomeNode,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.node = node
        self.reader = reader
        self.writer = writer
        self.advertising: asyncio.Task[None] | None = None
        self.wants_free_slots = False
        self.frames: ApiFrames | None = None

    def send(self, message: Any) -> None:
        if self.frames is not None:
            self.frames.write(_TYPE_OF[type(message)], message.SerializeToString())

    async def serve(self) -> None:
        node = self.node
        try:
            self.frames = await accept_frames(
                self.reader,
                self.writer,
                noise_psk=node.noise_psk,
                name=node.name,
                mac=node.mac,
            )
            if self.frames is None:
                await self.writer.drain()
                return
            while True:
                kind, payload = await self.frames.read()
                proto = MESSAGE_TYPE_TO_PROTO.get(kind)
                if proto is None:
                    continue
                message = proto.FromString(payload)
                if self._handle(message) is False:
                    return
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self.close()

    def close(self) -> None:
        if self.advertising is not None:
            self.advertising.cancel()
            self.advertising = None
        self.node.clients.discard(self)
        self.writer.close()

    def _handle(self, message: Any) -> bool | None:  # noqa: PLR0912
        node = self.node
        name = type(message).__name__
        if name == "HelloRequest":
            self.send(
                _pb.HelloResponse(
                    api_version_major=1,
                    api_version_minor=12,
                    server_info=f"{node.name} (emulated ESPHome)",
                    name=node.name,
                )
            )
        elif name in ("AuthenticationRequest", "ConnectRequest"):
            response = MESSAGE_TYPE_TO_PROTO[_TYPE_OF[type(message)] + 1]
            self.send(response())
        elif name == "DeviceInfoRequest":
            self.send(node.device_info())
        elif name == "ListEntitiesRequest":
            self.send(_pb.ListEntitiesDoneResponse())
        elif name == "PingRequest":
            self.send(_pb.PingResponse())
        elif name == "DisconnectRequest":
            self.send(_pb.DisconnectResponse())
            return False
        elif name == "SubscribeBluetoothLEAdvertisementsRequest":
            if self.advertising is None:
                self.advertising = asyncio.create_task(self._advertise())
        elif name == "UnsubscribeBluetoothLEAdvertisementsRequest":
            if self.advertising is not None:
                self.advertising.cancel()
                self.advertising = None
        elif name == "SubscribeBluetoothConnectionsFreeRequest":
            self.wants_free_slots = True
            self.send(node.free_slots())
        elif name == "BluetoothScannerSetModeRequest":
            self.send(_pb.BluetoothScannerStateResponse(state=2, mode=message.mode))
        elif name == "BluetoothDeviceRequest":
            node.device_request(self, message)
        elif name == "BluetoothGATTGetServicesRequest":
            node.services(self, message.address)
        elif name == "BluetoothGATTNotifyRequest":
            node.notify(self, message)
        elif name in (
            "BluetoothGATTWriteRequest",
            "BluetoothGATTWriteDescriptorRequest",
        ):
            node.write(self, message, descriptor=name.endswith("DescriptorRequest"))
        elif name in ("BluetoothGATTReadRequest", "BluetoothGATTReadDescriptorRequest"):
            self.send(
                _pb.BluetoothGATTErrorResponse(
                    address=message.address,
                    handle=message.handle,
                    error=ATT_READ_NOT_PERMITTED,
                )
            )
        return None

    async def _advertise(self) -> None:
        while True:
            self.send(self.node.advertisements())
            await asyncio.sleep(ADVERTISEMENT_INTERVAL)


class EsphomeNode:
    """An ESPHome Bluetooth proxy reached over the native API."""

    def __init__(
        self,
        radio: VirtualRadio,
        *,
        name: str = "jk-virtual-proxy",
        mac: str = "0A:00:00:00:E5:01",
        noise_psk: str | None = None,
    ) -> None:
        """Serve the devices of ``radio`` with its number of connection slots.

        ``noise_psk``: the node's encryption key (base64 of 32 bytes), as an
        ESPHome configuration's ``api: encryption: key:``; None for plaintext.
        """
        self.radio = radio
        self.name = name
        self.mac = mac
        self.noise_psk = noise_psk
        self.clients: set[_ApiClient] = set()
        self.connections: dict[int, _Connection] = {}
        # Faults: slots held by someone else (another Home Assistant, a
        # phone); a slot freed this much later than the disconnect (s).
        self.busy_slots = 0
        self.late_free_slot = 0.0
        # Slots freed but not reported free yet, and when they will be.
        self._freed_late: dict[int, asyncio.TimerHandle] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1 (``port`` 0: any free one); the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop every client and device connection."""
        self.drop_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self, downtime: float = 0.5) -> None:
        """The node reboots: every link drops, it listens again after ``downtime``."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start(self.port)

    def drop_clients(self) -> None:
        """Drop every device connection and API client (the node went down)."""
        for connection in self.connections.values():
            connection.device.disconnect(connection.link)
        self.connections.clear()
        for timer in self._freed_late.values():
            timer.cancel()
        self._freed_late.clear()
        for client in list(self.clients):
            client.close()

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        client = _ApiClient(self, reader, writer)
        self.clients.add(client)
        await client.serve()

    # -- what the node says ---------------------------------------------------

    def device_info(self) -> Any:
        return _pb.DeviceInfoResponse(
            uses_password=False,
            name=self.name,
            friendly_name="Virtual JK proxy",
            mac_address=self.mac,
            bluetooth_mac_address=self.mac,
            esphome_version="2025.11.0",
            compilation_time="Dec  1 2026, 12:00:00",
            model="esp32dev",
            manufacturer="Espressif",
            bluetooth_proxy_feature_flags=int(FEATURES),
        )

    def advertisements(self) -> Any:
        return _pb.BluetoothLERawAdvertisementsResponse(
            advertisements=[
                _pb.BluetoothLERawAdvertisement(
                    address=mac_to_int(device.address),
                    rssi=device.advertisement()["rssi"],
                    address_type=0,
                    data=raw_advertisement(device),
                )
                for device in self.radio.devices.values()
                if device.available and device.link is None
            ]
        )

    def _used(self) -> int:
        return len(self.connections) + len(self._freed_late) + self.busy_slots

    def hold_slots(self, count: int) -> None:
        """Let someone else hold ``count`` slots (0: give them back)."""
        self.busy_slots = count
        self._tell_free_slots()

    def free_slots(self) -> Any:
        used = self._used()
        return _pb.BluetoothConnectionsFreeResponse(
            free=max(self.radio.slots - used, 0),
            limit=self.radio.slots,
            allocated=[*self.connections, *self._freed_late],
        )

    def _tell_free_slots(self) -> None:
        for client in self.clients:
            if client.wants_free_slots:
                client.send(self.free_slots())

    def _tell(self, message: Any) -> None:
        for client in self.clients:
            client.send(message)

    # -- device connections -----------------------------------------------------

    def device_request(self, client: _ApiClient, message: Any) -> None:
        address = message.address
        kind = BluetoothDeviceRequestType(message.request_type)
        if kind is BluetoothDeviceRequestType.DISCONNECT:
            self._release(address)
            client.send(
                _pb.BluetoothDeviceConnectionResponse(address=address, connected=False)
            )
            return
        if kind is BluetoothDeviceRequestType.CLEAR_CACHE:
            client.send(
                _pb.BluetoothDeviceClearCacheResponse(address=address, success=True)
            )
            return
        if kind not in (
            BluetoothDeviceRequestType.CONNECT,
            BluetoothDeviceRequestType.CONNECT_V3_WITH_CACHE,
            BluetoothDeviceRequestType.CONNECT_V3_WITHOUT_CACHE,
        ):
            return
        error = self._connect(address)
        # A node without a free slot says only "not connected", as ESPHome does.
        client.send(
            _pb.BluetoothDeviceConnectionResponse(
                address=address,
                connected=not error,
                mtu=MTU,
                error=0 if error == REASON_NO_SLOT else error,
            )
        )
        self._tell_free_slots()

    def _connect(self, address: int) -> int:
        """Connect to the device at ``address``; an HCI error, or 0."""
        if address in self.connections:
            return 0
        self.radio.connection_attempts += 1
        device = self.radio.devices.get(int_to_bluetooth_address(address))
        if device is None:
            return REASON_NOT_FOUND
        if self._used() >= self.radio.slots:
            return REASON_NO_SLOT
        try:
            link = device.connect(
                lambda data: self._notified(address, data),
                lambda: self._dropped(address),
            )
        except LinkRefused:
            return REASON_NOT_FOUND
        self.connections[address] = _Connection(device, link)
        return 0

    def _release(self, address: int) -> None:
        connection = self.connections.pop(address, None)
        if connection is None:
            return
        connection.device.disconnect(connection.link)
        if self.late_free_slot:
            self._freed_late[address] = asyncio.get_running_loop().call_later(
                self.late_free_slot, self._free_late, address
            )
        self._tell_free_slots()

    def _free_late(self, address: int) -> None:
        self._freed_late.pop(address, None)
        self._tell_free_slots()

    def _dropped(self, address: int) -> None:
        """The device ended the connection (out of range, rebooted)."""
        if self.connections.pop(address, None) is None:
            return
        self._tell(
            _pb.BluetoothDeviceConnectionResponse(
                address=address, connected=False, error=REASON_REMOTE
            )
        )
        self._tell_free_slots()

    def _notified(self, address: int, data: bytes) -> None:
        connection = self.connections.get(address)
        if connection is None:
            return
        for handle in connection.notifying:
            self._tell(
                _pb.BluetoothGATTNotifyDataResponse(
                    address=address, handle=handle, data=data
                )
            )

    # -- GATT -------------------------------------------------------------------

    def _handles(self, device: BluetoothBalancer) -> tuple[int, int]:
        """The write and notify handles: one FFE1 for both, or two (JK02_32S)."""
        return (3, 5) if device.protocol is Protocol.JK02_32S else (3, 3)

    def _connection(
        self, client: _ApiClient, address: int, handle: int = 0
    ) -> _Connection | None:
        """The connection to ``address``, or None once the client is told
        there is none."""
        connection = self.connections.get(address)
        if connection is None:
            client.send(
                _pb.BluetoothGATTErrorResponse(
                    address=address, handle=handle, error=ATT_UNLIKELY_ERROR
                )
            )
        return connection

    def services(self, client: _ApiClient, address: int) -> None:
        if (connection := self._connection(client, address)) is None:
            return
        write, notify = self._handles(connection.device)
        characteristics = [
            _pb.BluetoothGATTCharacteristic(
                uuid=_uuid_words(CHARACTERISTIC_UUID),
                handle=handle,
                properties=properties,
                descriptors=[
                    _pb.BluetoothGATTDescriptor(
                        uuid=_short_uuid_words(_CCCD), handle=handle + 1
                    )
                ]
                if properties & _NOTIFY
                else [],
            )
            for handle, properties in (
                [(write, _WRITE_NO_RESPONSE | _WRITE | _NOTIFY)]
                if write == notify
                else [(write, _WRITE_NO_RESPONSE | _WRITE), (notify, _READ | _NOTIFY)]
            )
        ]
        client.send(
            _pb.BluetoothGATTGetServicesResponse(
                address=address,
                services=[
                    _pb.BluetoothGATTService(
                        uuid=_uuid_words(SERVICE_UUID),
                        handle=1,
                        characteristics=characteristics,
                    )
                ],
            )
        )
        client.send(_pb.BluetoothGATTGetServicesDoneResponse(address=address))

    def notify(self, client: _ApiClient, message: Any) -> None:
        connection = self._connection(client, message.address, message.handle)
        if connection is None:
            return
        if message.enable:
            connection.notifying.add(message.handle)
        else:
            connection.notifying.discard(message.handle)
        client.send(
            _pb.BluetoothGATTNotifyResponse(
                address=message.address, handle=message.handle
            )
        )

    def write(self, client: _ApiClient, message: Any, *, descriptor: bool) -> None:
        connection = self._connection(client, message.address, message.handle)
        if connection is None:
            return
        if not descriptor:
            connection.device.receive(connection.link, bytes(message.data))
        if descriptor or message.response:
            client.send(
                _pb.BluetoothGATTWriteResponse(
                    address=message.address, handle=message.handle
                )
            )
