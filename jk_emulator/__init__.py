"""Virtual JK balancers for tests, the development instance and benchmarks.

Never shipped: Home Assistant installs only ``custom_components/jk_balancer``.
"""

from .bus import VirtualBus
from .device import Measurement, VirtualBalancer
from .profiles import BUS_PROFILES, PROFILES, Profile
from .radio import VirtualBleakClient, VirtualRadio
from .recorded import RecordedBalancer

__all__ = [
    "BUS_PROFILES",
    "PROFILES",
    "Measurement",
    "Profile",
    "RecordedBalancer",
    "VirtualBalancer",
    "VirtualBleakClient",
    "VirtualBus",
    "VirtualRadio",
]
