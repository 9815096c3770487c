"""JK BLE protocol: frames, decoding, commands and an async client.

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
from .client import JKBalancerClient
from .commands import Command, encode_request, parse_command
from .const import (
    CHARACTERISTIC_UUID,
    COMMAND_HEADER,
    DEFAULT_PASSCODE,
    SERVICE_UUID,
    FrameType,
    Protocol,
    Request,
)
from .decode import (
    WIRE_RESISTANCE_LIMIT,
    FrameDecoder,
    check_cell_info,
    decode_cell_info,
    decode_device_info,
    detect_protocol,
    redact_passcodes,
)
from .errors import (
    DeviceConnectionError,
    FrameError,
    JKError,
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
    "Limits",
    "Protocol",
    "ProtocolDetectionError",
    "Request",
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
    "check_cell_info",
    "check_plausible",
    "decode_cell_info",
    "decode_device_info",
    "default_imbalance_threshold",
    "detect_protocol",
    "encode_frame",
    "encode_request",
    "held_value",
    "infer_chemistry",
    "is_jk_advertisement",
    "parse_command",
    "redact_passcodes",
    "setting_limits",
    "spec_for_register",
    "validate_write",
]
