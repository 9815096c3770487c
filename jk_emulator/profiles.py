"""Devices the virtual balancer can be: one or more per frame layout.

Identity strings come from the real captures where one exists; the JK-B2A4S was
not captured, so its versions are illustrative and its layout assumed (JK04, as
the other capacitive balancers of its generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from custom_components.jk_balancer.protocol import SETTING_SPECS, Chemistry, Protocol

_DEFAULT = {key: spec.default for key, spec in SETTING_SPECS.items()}


@dataclass(frozen=True, slots=True)
class Profile:
    """What a virtual device is and how its pack starts out."""

    name: str
    protocol: Protocol
    vendor_id: str
    hardware_version: str
    software_version: str
    cells: int
    description: str
    chemistry: Chemistry = Chemistry.LFP
    capacity: float = _DEFAULT["battery_capacity"]  # Ah per cell
    state_of_charge: float = 0.93
    # Initial state-of-charge spread between cells (gives the balancer work).
    spread: float = 0.04
    balance_current: float = _DEFAULT["max_balance_current"]
    trigger_voltage: float = _DEFAULT["balance_trigger_voltage"]
    start_voltage: float = _DEFAULT["balance_start_voltage"]
    power_off_voltage: float = _DEFAULT["power_off_voltage"]
    # Pack current amplitude in A (a BMS reports it; a sine over a day).
    load_amplitude: float = 0.0
    # Some firmware appends a 20-byte record (320-byte frames).
    trailer: bool = False


_EVERY_PROFILE: Final = (
    Profile(
        "jk-b2a4s",
        Protocol.JK04,
        "JK-B2A4S",
        "1.0",
        "1.0.0",
        4,
        "JK-B2A4S capacitive balancer, 4 cells, 2 A (12 V 100 Ah pack)",
    ),
    Profile(
        "jk-b2a16s",
        Protocol.JK04,
        "JK-B2A16S",
        "3.0",
        "3.3.0",
        16,
        "JK-B2A16S active balancer, 16 cells, 2 A",
    ),
    Profile(
        "jk-b5a24s",
        Protocol.JK04,
        "JK-B5A24S",
        "8.X",
        "8.0.3M",
        24,
        "JK-B5A24S repair balancer, 24 cells, 5 A",
        balance_current=4.5,
        trigger_voltage=0.008,
    ),
    Profile(
        "jk-b2a24s20p",
        Protocol.JK02_24S,
        "JK-B2A24S20P",
        "10.XG",
        "10.07",
        24,
        "JK-B2A24S20P BMS with 2 A balancer, 24 cells",
        load_amplitude=3.0,
    ),
    Profile(
        "jk-bd6a17s6p",
        Protocol.JK02_24S,
        "JK-BD6A17S6P",
        "7.X",
        "7.1.0H",
        16,
        "JK-BD6A17S6P BMS with 0.6 A balancer, 16 cells, 320-byte frames",
        balance_current=0.6,
        load_amplitude=2.0,
        trailer=True,
    ),
    Profile(
        "jk-pb2a16s20p",
        Protocol.JK02_32S,
        "JK-PB2A16S20P",
        "19A",
        "19.27",
        16,
        "JK-PB2A16S20P BMS with 2 A balancer, 16 cells",
        capacity=280.0,
        load_amplitude=8.0,
    ),
    Profile(
        "jk-dz11",
        Protocol.DZ_RS485,
        "JK-DZ11-B2A24S",
        "",
        "",
        16,
        "JK-DZ11 (JK-B2A24S) balancer on RS485, 16 cells, 2 A",
        trigger_voltage=0.010,
    ),
)
# Devices a virtual radio offers over Bluetooth.
PROFILES: Final = MappingProxyType(
    {p.name: p for p in _EVERY_PROFILE if p.protocol.is_bluetooth}
)
# Devices a virtual RS485 bus offers.
BUS_PROFILES: Final = MappingProxyType(
    {p.name: p for p in _EVERY_PROFILE if not p.protocol.is_bluetooth}
)
