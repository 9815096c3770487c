"""What a JK device's Bluetooth advertisement looks like.

Every real JK advertisement (``captures/advertisements_jikong.json``)
carries manufacturer data under company id 0x0B65 starting ``88 A0`` (then the
device's address), or under 0x4B4A, the id JK gave itself ("JK"; no other
maker uses it). Names are user-chosen and the service list varies: some V19
units advertise only a malformed ``0000fee7ffe0-...`` UUID, so neither decides.
The integration's manifest states these same matchers (a test compares them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class AdvertisementMatcher:
    """Manufacturer data a JK device advertises."""

    manufacturer_id: int
    data_start: bytes = b""

    def matches(self, manufacturer_data: Mapping[int, bytes]) -> bool:
        """Return True when the advertisement carries this manufacturer data."""
        data = manufacturer_data.get(self.manufacturer_id)
        return data is not None and data.startswith(self.data_start)


ADVERTISEMENT_MATCHERS: Final = (
    AdvertisementMatcher(0x0B65, b"\x88\xa0"),
    AdvertisementMatcher(0x4B4A),
)


def is_jk_advertisement(manufacturer_data: Mapping[int, bytes]) -> bool:
    """Return True for an advertisement of a JK BLE module."""
    return any(m.matches(manufacturer_data) for m in ADVERTISEMENT_MATCHERS)
