"""The emulated node's encryption, as aioesphomeapi's own client meets it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

from aioesphomeapi import (
    APIClient,
    InvalidEncryptionKeyAPIError,
    RequiresEncryptionAPIError,
)
import pytest

from jk_emulator import VirtualRadio
from jk_emulator.esphome_node import EsphomeNode

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(32)).decode()


@pytest.fixture
async def node(socket_enabled: None) -> AsyncIterator[EsphomeNode]:
    node = EsphomeNode(VirtualRadio(), noise_psk=KEY)
    await node.start()
    yield node
    await node.stop()


def client(node: EsphomeNode, noise_psk: str | None) -> APIClient:
    return APIClient("127.0.0.1", node.port, None, noise_psk=noise_psk)


async def test_the_right_key_reaches_the_node(node: EsphomeNode) -> None:
    api = client(node, KEY)
    await api.connect(login=True)
    try:
        info = await api.device_info()
    finally:
        await api.disconnect()
    assert info.name == node.name
    assert info.bluetooth_proxy_feature_flags


async def test_a_wrong_key_is_refused_as_esphome_refuses_it(node: EsphomeNode) -> None:
    with pytest.raises(InvalidEncryptionKeyAPIError):
        await client(node, OTHER_KEY).connect(login=True)


async def test_no_key_is_told_that_the_node_needs_one(node: EsphomeNode) -> None:
    with pytest.raises(RequiresEncryptionAPIError):
        await client(node, None).connect(login=True)
