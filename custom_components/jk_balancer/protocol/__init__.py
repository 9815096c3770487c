"""JK protocols: BLE and RS485 frames, decoding, commands and async clients.

This package does not import Home Assistant; the integration builds on it.
Everything the integration, the virtual balancer and the tools use is exported
here; they do not reach into the modules.
"""

from .advertisement import is_jk_advertisement
from .analysis import (
    DEFAULT_IMBALANCE_HOLD,
    BalancingStatus,
    Chemistry,
    Drift,
    DriftTracker,
    ImbalanceWatch,
    balancing_status,
    default_imbalance_threshold,
    infer_chemistry,
)
from .bus import JKRs485Client, Rs485Bus
from .cascade import CascadedPack, cascade
from .cell_info import WIRE_RESISTANCE_LIMIT, check_cell_info, decode_cell_info
from .client import JKBalancerClient
from .commands import Command, encode_request, parse_command
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
from .decode import (
    FrameDecoder,
    decode_device_info,
    detect_protocol,
    redact_passcodes,
)
from .errors import (
    DeviceConnectionError,
    FrameError,
    JKError,
    PortError,
    ProtocolDetectionError,
    SettingError,
    SettingOutOfRangeError,
    UnsafeSettingError,
    UnsupportedDeviceError,
    WriteNotConfirmedError,
)
from .frame import Frame, FrameAssembler
from .layouts import CELL_INFO_LAYOUTS, DEVICE_INFO, SETTINGS_LAYOUTS, encode_frame
from .model import CellInfo, DeviceInfo, Settings, Snapshot
from .rs485 import (
    BUS_ADDRESSES,
    decode_rs485_reply,
    encode_rs485_reply,
    encode_rs485_request,
    parse_rs485_request,
)
from .settings import (
    SETTING_SPECS,
    Confirmation,
    Limits,
    SettingSpec,
    ValueKind,
    spec_for_register,
)
from .writes import check_plausible, held_value, setting_limits, validate_write

__all__ = [
    "BLUETOOTH_PROTOCOLS",
    "BUS_ADDRESSES",
    "CELL_INFO_LAYOUTS",
    "CHARACTERISTIC_UUID",
    "COMMAND_HEADER",
    "DEFAULT_IMBALANCE_HOLD",
    "DEFAULT_PASSCODE",
    "DEVICE_INFO",
    "SERVICE_UUID",
    "SETTINGS_LAYOUTS",
    "SETTING_SPECS",
    "WIRE_RESISTANCE_LIMIT",
    "BalancingStatus",
    "CascadedPack",
    "CellInfo",
    "Chemistry",
    "Command",
    "Confirmation",
    "DeviceConnectionError",
    "DeviceInfo",
    "Drift",
    "DriftTracker",
    "Frame",
    "FrameAssembler",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "ImbalanceWatch",
    "JKBalancerClient",
    "JKError",
    "JKRs485Client",
    "Limits",
    "PortError",
    "Protocol",
    "ProtocolDetectionError",
    "Request",
    "Rs485Bus",
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
    "infer_chemistry",
    "is_jk_advertisement",
    "parse_command",
    "parse_rs485_request",
    "redact_passcodes",
    "setting_limits",
    "spec_for_register",
    "validate_write",
]
