"""Virtual JK balancers for tests, the development instance and benchmarks.

Never shipped: Home Assistant installs only ``custom_components/jk_balancer``.
"""

from .balancer import Measurement, VirtualBalancer
from .ble import BluetoothBalancer
from .profiles import BUS_PROFILES, PROFILES, Profile
from .radio import VirtualBleakClient, VirtualRadio
from .recorded import RecordedBalancer
from .rs485_bus import VirtualBus

__all__ = [
    "BUS_PROFILES",
    "PROFILES",
    "BluetoothBalancer",
    "Measurement",
    "Profile",
    "RecordedBalancer",
    "VirtualBalancer",
    "VirtualBleakClient",
    "VirtualBus",
    "VirtualRadio",
]
