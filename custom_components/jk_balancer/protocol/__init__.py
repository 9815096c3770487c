"""JK protocols: BLE and RS485 frames, decoding, commands and async clients.

This package does not import Home Assistant; the integration builds on it.
What the integration uses is exported here. The device's side of the wire
(encoding frames and replies, parsing commands) is the virtual balancer's and
does not ship; it and the tools import what else they need from the modules.
"""

from .balance import (
    DEFAULT_IMBALANCE_HOLD,
    BalancingStatus,
    Drift,
    DriftTracker,
    ImbalanceWatch,
    balancing_status,
    default_imbalance_threshold,
)
from .ble.advertisement import is_jk_advertisement
from .ble.cell_info import WIRE_RESISTANCE_LIMIT, check_cell_info
from .ble.client import STALE_AFTER, BluetoothClient
from .ble.commands import encode_request
from .ble.decode import FrameDecoder, decode_device_info
from .ble.frame import Frame, FrameAssembler
from .ble.layouts import CELL_INFO_LAYOUTS, DEVICE_INFO, SETTINGS_LAYOUTS
from .cascade import CascadedPack, cascade
from .cell_limits import cell_range, low_cell, severe_spread
from .chemistry import Chemistry, ChemistryWatch, PackChemistry
from .client import BalancerClient
from .const import (
    BLUETOOTH_PROTOCOLS,
    CHARACTERISTIC_UUID,
    COMMAND_HEADER,
    SERVICE_UUID,
    FrameType,
    Protocol,
    Request,
)
from .energy import MAX_TOTAL_ENERGY, EnergyMeter
from .errors import (
    DeviceConnectionError,
    FrameError,
    JKError,
    LayoutMismatchError,
    LinkClosedError,
    PortError,
    ProtocolDetectionError,
    SettingOutOfRangeError,
    UnsafeSettingError,
    UnsupportedDeviceError,
    WriteNotConfirmedError,
)
from .model import CELL_VOLTAGE_FORMAT, CellInfo, DeviceInfo, Settings, Snapshot
from .rs485.client import Rs485Client
from .rs485.codec import BUS_ADDRESSES, decode_rs485_reply, encode_rs485_request
from .rs485.port import Rs485Port
from .settings import (
    BALANCE_TRIGGER_VOLTAGE,
    SETTING_SPECS,
    Confirmation,
    Limits,
    SettingSpec,
    ValueKind,
)
from .writes import (
    CELL_COUNT_BELOW_CONNECTED,
    held_value,
    setting_limits,
    validate_write,
)

__all__ = [
    "BALANCE_TRIGGER_VOLTAGE",
    "BLUETOOTH_PROTOCOLS",
    "BUS_ADDRESSES",
    "CELL_COUNT_BELOW_CONNECTED",
    "CELL_INFO_LAYOUTS",
    "CELL_VOLTAGE_FORMAT",
    "CHARACTERISTIC_UUID",
    "COMMAND_HEADER",
    "DEFAULT_IMBALANCE_HOLD",
    "DEVICE_INFO",
    "MAX_TOTAL_ENERGY",
    "SERVICE_UUID",
    "SETTINGS_LAYOUTS",
    "SETTING_SPECS",
    "STALE_AFTER",
    "WIRE_RESISTANCE_LIMIT",
    "BalancerClient",
    "BalancingStatus",
    "BluetoothClient",
    "CascadedPack",
    "CellInfo",
    "Chemistry",
    "ChemistryWatch",
    "Confirmation",
    "DeviceConnectionError",
    "DeviceInfo",
    "Drift",
    "DriftTracker",
    "EnergyMeter",
    "Frame",
    "FrameAssembler",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "ImbalanceWatch",
    "JKError",
    "LayoutMismatchError",
    "Limits",
    "LinkClosedError",
    "PackChemistry",
    "PortError",
    "Protocol",
    "ProtocolDetectionError",
    "Request",
    "Rs485Client",
    "Rs485Port",
    "SettingOutOfRangeError",
    "SettingSpec",
    "Settings",
    "Snapshot",
    "UnsafeSettingError",
    "UnsupportedDeviceError",
    "ValueKind",
    "WriteNotConfirmedError",
    "balancing_status",
    "cascade",
    "cell_range",
    "check_cell_info",
    "decode_device_info",
    "decode_rs485_reply",
    "default_imbalance_threshold",
    "encode_request",
    "encode_rs485_request",
    "held_value",
    "is_jk_advertisement",
    "low_cell",
    "setting_limits",
    "severe_spread",
    "validate_write",
]
