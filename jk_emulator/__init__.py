"""Virtual JK balancers for tests, the development instance and benchmarks.

Never shipped: Home Assistant installs only ``custom_components/jk_balancer``.
"""

from .device import Measurement, VirtualBalancer
from .profiles import PROFILES, Profile
from .radio import VirtualBleakClient, VirtualRadio
from .recorded import RecordedBalancer

__all__ = [
    "PROFILES",
    "Measurement",
    "Profile",
    "RecordedBalancer",
    "VirtualBalancer",
    "VirtualBleakClient",
    "VirtualRadio",
]
