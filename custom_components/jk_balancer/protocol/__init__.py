"""JK BLE protocol: frames, decoding, commands and an async client.

This package does not import Home Assistant; the integration builds on it.
Everything the integration, the virtual balancer and the tools use is exported
here; they do not reach into the modules.
"""

from .advertisement import ADVERTISEMENT_MATCHERS, is_jk_advertisement
from .client import JKBalancerClient
from .commands import Command, encode_command, encode_request, parse_command
from .const import (
    CHARACTERISTIC_UUID,
    COMMAND_HEADER,
    DEFAULT_PASSCODE,
    FRAME_LENGTH,
    RESPONSE_HEADER,
    SERVICE_UUID,
    FrameType,
    Protocol,
    Request,
)
from .decode import (
    WIRE_RESISTANCE_LIMIT,
    CheckedCellInfo,
    FrameDecoder,
    check_cell_info,
    decode_cell_info,
    decode_device_info,
    decode_settings,
    detect_protocol,
    redact_passcodes,
)
from .errors import (
    DeviceConnectionError,
    FrameError,
    JKError,
    NotConnectedError,
    ProtocolDetectionError,
    SettingError,
    SettingOutOfRangeError,
    UnsupportedDeviceError,
    WriteNotConfirmedError,
)
from .frame import AssemblerStats, Frame, FrameAssembler
from .layouts import CELL_INFO_LAYOUTS, DEVICE_INFO, SETTINGS_LAYOUTS, encode_frame
from .model import CellInfo, DeviceInfo, Settings, Snapshot
from .settings import (
    SETTING_SPECS,
    Confirmation,
    Limits,
    SettingSpec,
    ValueKind,
    check_plausible,
    get_spec,
    held_value,
    setting_limits,
    spec_for_register,
    validate_write,
)

__all__ = [
    "ADVERTISEMENT_MATCHERS",
    "CELL_INFO_LAYOUTS",
    "CHARACTERISTIC_UUID",
    "COMMAND_HEADER",
    "DEFAULT_PASSCODE",
    "DEVICE_INFO",
    "FRAME_LENGTH",
    "RESPONSE_HEADER",
    "SERVICE_UUID",
    "SETTINGS_LAYOUTS",
    "SETTING_SPECS",
    "WIRE_RESISTANCE_LIMIT",
    "AssemblerStats",
    "CellInfo",
    "CheckedCellInfo",
    "Command",
    "Confirmation",
    "DeviceConnectionError",
    "DeviceInfo",
    "Frame",
    "FrameAssembler",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "JKBalancerClient",
    "JKError",
    "Limits",
    "NotConnectedError",
    "Protocol",
    "ProtocolDetectionError",
    "Request",
    "SettingError",
    "SettingOutOfRangeError",
    "SettingSpec",
    "Settings",
    "Snapshot",
    "UnsupportedDeviceError",
    "ValueKind",
    "WriteNotConfirmedError",
    "check_cell_info",
    "check_plausible",
    "decode_cell_info",
    "decode_device_info",
    "decode_settings",
    "detect_protocol",
    "encode_command",
    "encode_frame",
    "encode_request",
    "get_spec",
    "held_value",
    "is_jk_advertisement",
    "parse_command",
    "redact_passcodes",
    "setting_limits",
    "spec_for_register",
    "validate_write",
]
