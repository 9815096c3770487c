"""Bluetooth specifics of the client: the JK characteristics, bleak's failures.

Kept apart from the client's logic so that what depends on bleak's error types
and GATT model is in one place.
"""

from __future__ import annotations

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakDeviceNotFoundError
import bleak_retry_connector

from ..const import CHARACTERISTIC_UUID, SERVICE_UUID
from ..errors import UnsupportedDeviceError


def connection_failure(err: Exception) -> str:
    """Why a connection could not be made, in words a user can act on."""
    if isinstance(err, bleak_retry_connector.BleakOutOfConnectionSlotsError):
        return "no Bluetooth adapter or proxy with a free connection slot reaches it"
    if isinstance(
        err,
        bleak_retry_connector.BleakNotFoundError | BleakDeviceNotFoundError,
    ):
        return "not found (switched off or out of range)"
    if isinstance(err, TimeoutError):
        return "no answer while connecting"
    return f"the Bluetooth connection failed: {err}"


def find_characteristics(
    client: BleakClient,
) -> tuple[BleakGATTCharacteristic, BleakGATTCharacteristic]:
    """Pick the notify and the write characteristic (some firmware has two FFE1)."""
    service = client.services.get_service(SERVICE_UUID)
    characteristics = [] if service is None else service.characteristics
    notify = write = None
    for characteristic in characteristics:
        if characteristic.uuid != CHARACTERISTIC_UUID:
            continue
        properties = characteristic.properties
        if notify is None and ("notify" in properties or "indicate" in properties):
            notify = characteristic
        if write is None and (
            "write-without-response" in properties or "write" in properties
        ):
            write = characteristic
    if notify is None or write is None:
        raise UnsupportedDeviceError(
            "no FFE0/FFE1 service to notify and write",
            name=client.address,
        )
    return notify, write
