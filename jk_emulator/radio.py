"""A virtual radio and its bleak backend: how clients reach virtual balancers.

:class:`VirtualRadio` stands for one Bluetooth adapter or proxy: it hosts virtual
devices and has a limited number of connection slots, like an ESPHome proxy.
Its ``client_class`` is a bleak backend (a ``BaseBleakClient``), so unchanged
bleak, bleak-retry-connector and Home Assistant code can connect through it.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from custom_components.jk_balancer.protocol import (
    CHARACTERISTIC_UUID,
    SERVICE_UUID,
    Protocol,
)

from .ble import BluetoothBalancer, Link, LinkRefused

# ATT MTU of the JK BLE modules: 20 bytes of payload per write or notification.
MTU = 23


class VirtualRadio:
    """Virtual devices reachable through one radio with limited connection slots."""

    def __init__(self, *, slots: int = 3, source: str = "virtual-radio") -> None:
        """Create an empty radio with ``slots`` simultaneous connections."""
        self.slots = slots
        self.source = source
        self.devices: dict[str, BluetoothBalancer] = {}
        self.connections: set[VirtualBleakClient] = set()
        self.connection_attempts = 0
        # How long making a connection takes (a real radio needs a second or so).
        self.connect_delay = 0.0
        self.client_class: type[VirtualBleakClient] = type(
            "VirtualBleakClient", (VirtualBleakClient,), {"radio": self}
        )

    def add(self, device: BluetoothBalancer) -> BluetoothBalancer:
        """Host ``device`` on this radio; a device without Bluetooth cannot be."""
        if not device.protocol.is_bluetooth:
            raise ValueError(f"{device.name} has no Bluetooth ({device.protocol})")
        self.devices[device.address] = device
        return device

    def can_connect(self) -> bool:
        """Return True while a connection slot is free."""
        return len(self.connections) < self.slots

    def ble_device(self, address: str) -> BLEDevice:
        """Return a BLEDevice for a hosted device (as a scanner would)."""
        device = self.devices[address.upper()]
        return BLEDevice(device.address, device.name, {"source": self.source})


def _build_services(two_characteristics: bool) -> BleakGATTServiceCollection:
    """GATT table of a JK BLE module: service FFE0 with FFE1.

    Older modules have one FFE1 that writes and notifies; newer ones have two
    FFE1 characteristics, one to write and one to notify.
    """
    collection = BleakGATTServiceCollection()
    service = BleakGATTService(None, 1, SERVICE_UUID)
    collection.add_service(service)
    characteristics: list[tuple[int, list[CharacteristicPropertyName]]]
    if two_characteristics:
        characteristics = [
            (3, ["write-without-response", "write"]),
            (5, ["read", "notify"]),
        ]
    else:
        characteristics = [(3, ["write-without-response", "write", "notify"])]
    for handle, properties in characteristics:
        characteristic = BleakGATTCharacteristic(
            None, handle, CHARACTERISTIC_UUID, properties, lambda: MTU - 3, service
        )
        collection.add_characteristic(characteristic)
    return collection


class VirtualBleakClient(BaseBleakClient):
    """bleak backend that connects to a device hosted by a :class:`VirtualRadio`."""

    radio: ClassVar[VirtualRadio]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        """Create a client for ``address_or_ble_device`` (bleak's signature)."""
        kwargs.setdefault("timeout", 10.0)
        super().__init__(address_or_ble_device, **kwargs)
        self._device: BluetoothBalancer | None = None
        self._link: Link | None = None
        self._callback: NotifyCallback | None = None

    @property
    def name(self) -> str:
        """Name of the connected device."""
        return self._device.name if self._device else self.address

    @property
    def mtu_size(self) -> int:
        """The negotiated MTU (JK modules stay at 23)."""
        return MTU

    @property
    def is_connected(self) -> bool:
        """Return True while the link is up."""
        return self._link is not None and self._link.open

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect as a BLE central would; fails when the device is unreachable."""
        radio = self.radio
        radio.connection_attempts += 1
        await asyncio.sleep(radio.connect_delay)
        device = radio.devices.get(self.address.upper())
        if device is None or not device.available:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found"
            )
        if not radio.can_connect():
            raise BleakError("out of connection slots")
        services = _build_services(device.protocol is Protocol.JK02_32S)
        try:
            self._link = device.connect(self._deliver, self._on_device_drop)
        except LinkRefused as err:
            raise BleakError(str(err)) from err
        self._device = device
        self.services = services
        radio.connections.add(self)

    async def disconnect(self) -> None:
        """Close the link (solicited: no disconnect callback)."""
        if self._device is not None and self._link is not None:
            self._device.disconnect(self._link)
        self._release()

    def _release(self) -> None:
        self.radio.connections.discard(self)
        self._link = None
        self._callback = None

    def _on_device_drop(self) -> None:
        self._release()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _deliver(self, data: bytes) -> None:
        if self._callback is not None:
            self._callback(bytearray(data))

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """JK modules need no pairing."""

    async def unpair(self) -> None:
        """JK modules need no pairing."""

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, **kwargs: Any
    ) -> bytearray:
        """JK modules answer through notifications only."""
        raise BleakError("reading is not supported by the JK BLE module")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, **kwargs: Any
    ) -> bytearray:
        """Not supported."""
        raise BleakError("descriptors are not supported by the virtual device")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Hand a written command to the device."""
        if not self.is_connected or self._device is None or self._link is None:
            raise BleakError("Not connected")
        if not {"write", "write-without-response"} & set(characteristic.properties):
            raise BleakError(f"characteristic {characteristic.handle} is not writable")
        self._device.receive(self._link, bytes(data))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: Any
    ) -> None:
        """Not supported."""
        raise BleakError("descriptors are not supported by the virtual device")

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,
    ) -> None:
        """Subscribe to the device's notifications."""
        if not self.is_connected:
            raise BleakError("Not connected")
        if "notify" not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.handle} cannot notify")
        self._callback = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe."""
        self._callback = None
