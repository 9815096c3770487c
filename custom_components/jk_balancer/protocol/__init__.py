"""JK protocols: BLE and RS485 frames, decoding, commands and async clients.

This package does not import Home Assistant; the integration builds on it.
Everything the integration, the virtual balancer and the tools use is exported
here; they do not reach into the modules.
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
from .ble.cell_info import WIRE_RESISTANCE_LIMIT, check_cell_info, decode_cell_info
from .ble.client import BluetoothClient
from .ble.commands import encode_request, parse_command
from .ble.decode import FrameDecoder, decode_device_info, detect_protocol
from .ble.frame import Frame, FrameAssembler
from .ble.layouts import (
    CELL_INFO_LAYOUTS,
    DEVICE_INFO,
    SETTINGS_LAYOUTS,
    encode_frame,
)
from .cascade import CascadedPack, cascade
from .cell_limits import cell_range, low_cell, severe_spread
from .chemistry import Chemistry, ChemistryWatch, PackChemistry
from .client import BalancerClient
from .const import (
    BLUETOOTH_PROTOCOLS,
    CHARACTERISTIC_UUID,
    COMMAND_HEADER,
    DEFAULT_PASSCODE,
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
    SettingError,
    SettingOutOfRangeError,
    UnsafeSettingError,
    UnsupportedDeviceError,
    WriteNotConfirmedError,
)
from .model import CELL_VOLTAGE_FORMAT, CellInfo, DeviceInfo, Settings, Snapshot
from .rs485.client import Rs485Client
from .rs485.codec import (
    BAUD_RATE as RS485_BAUD_RATE,
    BUS_ADDRESSES,
    READ_ALL as RS485_READ_ALL,
    REPLY_LENGTH as RS485_REPLY_LENGTH,
    REQUEST_HEADER as RS485_REQUEST_HEADER,
    REQUEST_LENGTH as RS485_REQUEST_LENGTH,
    decode_rs485_reply,
    encode_rs485_reply,
    encode_rs485_request,
    parse_rs485_request,
)
from .rs485.port import Rs485Port
from .settings import (
    BALANCE_TRIGGER_VOLTAGE,
    SETTING_SPECS,
    Confirmation,
    Limits,
    SettingSpec,
    ValueKind,
    spec_for_register,
)
from .writes import (
    CELL_COUNT_BELOW_CONNECTED,
    check_plausible,
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
    "DEFAULT_PASSCODE",
    "DEVICE_INFO",
    "MAX_TOTAL_ENERGY",
    "RS485_BAUD_RATE",
    "RS485_READ_ALL",
    "RS485_REPLY_LENGTH",
    "RS485_REQUEST_HEADER",
    "RS485_REQUEST_LENGTH",
    "SERVICE_UUID",
    "SETTINGS_LAYOUTS",
    "SETTING_SPECS",
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
    "SettingError",
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
    "check_plausible",
    "decode_cell_info",
    "decode_device_info",
    "decode_rs485_reply",
    "default_imbalance_threshold",
    "detect_protocol",
    "encode_frame",
    "encode_request",
    "encode_rs485_reply",
    "encode_rs485_request",
    "held_value",
    "is_jk_advertisement",
    "low_cell",
    "parse_command",
    "parse_rs485_request",
    "setting_limits",
    "severe_spread",
    "spec_for_register",
    "validate_write",
]
