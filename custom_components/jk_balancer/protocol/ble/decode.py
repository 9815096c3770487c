"""Decoding of frames into typed results, and detection of the frame layout.

A device does not say which layout it speaks. The software version hints (JK02_32S
from version 11 on), but version 8 exists as JK04 (JK-B5A24S) and as JK02_24S
(JK-BD6A24S10P). So the layout is decided from content: a cell-info frame read
with the wrong layout yields impossible cells, masks or averages, and is rejected.
"""

from __future__ import annotations

from ..checksum import checksum
from ..const import FRAME_LENGTH, FrameType, Protocol
from ..errors import FrameError, ImplausibleFrameError, ProtocolDetectionError
from ..model import CellInfo, DeviceInfo, Settings
from .cell_info import CheckedCellInfo, check_cell_info
from .frame import Frame
from .layouts import DEVICE_INFO, PASSCODE_FIELDS, SETTINGS_LAYOUTS

DecodedFrame = DeviceInfo | Settings | CellInfo


def decode_device_info(frame: Frame) -> DeviceInfo:
    """Decode a device-info frame (the same in every layout)."""
    values = DEVICE_INFO.decode(frame.raw)
    return DeviceInfo(
        vendor_id=values.vendor_id,
        hardware_version=values.hardware_version,
        software_version=values.software_version,
        device_name=values.device_name,
        serial_number=values.serial_number,
        manufacturing_date=values.manufacturing_date,
        uptime=values.uptime,
        power_on_count=values.power_on_count,
        passcode=values.passcode,
    )


def decode_settings(frame: Frame, protocol: Protocol) -> Settings:
    """Decode a settings frame in the given layout."""
    return Settings.from_values(SETTINGS_LAYOUTS[protocol].decode(frame.raw))


def candidate_protocols(device_info: DeviceInfo | None) -> tuple[Protocol, ...]:
    """Return the layouts to try, most likely first.

    In the captures, software 11 and later speaks JK02_32S; before that, BMS
    models speak JK02_24S and balancer-only models JK04.
    """
    if device_info is None:
        return (Protocol.JK02_24S, Protocol.JK04, Protocol.JK02_32S)
    major = device_info.software_major
    if major is not None and major >= 11:
        return (Protocol.JK02_32S, Protocol.JK02_24S, Protocol.JK04)
    if device_info.is_bms:
        return (Protocol.JK02_24S, Protocol.JK04, Protocol.JK02_32S)
    return (Protocol.JK04, Protocol.JK02_24S, Protocol.JK02_32S)


def _jk02_variant(settings: Frame, device_info: DeviceInfo | None) -> Protocol:
    """Guess the JK02 layout before a cell-info frame tells for sure.

    Both share the settings frame, so the guess changes no value. Without a
    device-info frame, the bytes after 270 decide: JK02_32S devices fill them
    (precharge time, control bits), JK02_24S devices send zeros there.
    """
    if device_info is not None:
        return next(p for p in candidate_protocols(device_info) if p.is_jk02)
    if any(settings.raw[270:299]):
        return Protocol.JK02_32S
    return Protocol.JK02_24S


class FrameDecoder:
    """Decode a device's frames in order, detecting its layout on the way.

    With a ``protocol`` given, that layout is used for every frame. Otherwise a
    settings frame fixes the family (float JK04 or integer JK02) tentatively, and
    the first cell-info frame with measured cells that decodes plausibly fixes
    the layout for good. A frame without cells fits with less evidence, so it
    is decoded with the likeliest layout but decides nothing.
    """

    def __init__(self, protocol: Protocol | None = None) -> None:
        """Start with no device info, and the given or no layout."""
        if protocol is not None and not protocol.is_bluetooth:
            raise ValueError(f"{protocol} is not a Bluetooth frame layout")
        self.protocol = protocol
        self.device_info: DeviceInfo | None = None
        self._confirmed = protocol is not None

    @property
    def confirmed(self) -> bool:
        """Return True once the layout is known rather than guessed."""
        return self._confirmed

    def decode(self, frame: Frame) -> DecodedFrame:
        """Decode one frame; raise FrameError for what cannot be trusted."""
        checked = self.check(frame)
        return checked.cell_info() if isinstance(checked, CheckedCellInfo) else checked

    def check(self, frame: Frame) -> DeviceInfo | Settings | CheckedCellInfo:
        """Like :meth:`decode`, but a cell-info frame is only checked.

        Converting it (``cell_info()``) is left to whoever reads it.
        """
        frame_type = frame.frame_type
        if frame_type == FrameType.DEVICE_INFO:
            self.device_info = decode_device_info(frame)
            return self.device_info
        if frame_type == FrameType.SETTINGS:
            return self._decode_settings(frame)
        if frame_type == FrameType.CELL_INFO:
            return self._check_cell_info(frame)
        raise FrameError(
            f"unknown frame type {frame_type:#04x}", frame_type=f"{frame_type:#04x}"
        )

    def fitting_protocol(self, frame: Frame) -> Protocol | None:
        """The layout ``frame`` fits as detection finds it (None: no layout).

        For a layout the user chose that ``frame`` does not fit: the settings
        frame tells the family, a cell-info frame the layout.
        """
        trial = FrameDecoder()
        trial.device_info = self.device_info
        try:
            trial.check(frame)
        except FrameError:
            return None
        return trial.protocol

    def _decode_settings(self, frame: Frame) -> Settings:
        if self.protocol is not None:
            return decode_settings(frame, self.protocol)
        jk02 = _jk02_variant(frame, self.device_info)
        for protocol in (jk02, Protocol.JK04):
            try:
                settings = decode_settings(frame, protocol)
            except ImplausibleFrameError:
                continue
            self.protocol = protocol
            return settings
        raise ProtocolDetectionError(
            "the settings frame fits neither the JK04 nor the JK02 layout"
        )

    def _check_cell_info(self, frame: Frame) -> CheckedCellInfo:
        if self._confirmed and self.protocol is not None:
            return check_cell_info(frame, self.protocol)
        candidates = candidate_protocols(self.device_info)
        if self.protocol is not None:
            candidates = (
                self.protocol,
                *(item for item in candidates if item is not self.protocol),
            )
        for protocol in candidates:
            try:
                checked = check_cell_info(frame, protocol)
            except ImplausibleFrameError:
                continue
            self.protocol = protocol
            self._confirmed = checked.cells > 0
            return checked
        raise ProtocolDetectionError(
            "the cell-info frame fits none of the JK04, JK02_24S, JK02_32S layouts"
        )


def redact_passcodes(raw: bytes) -> bytes:
    """Return a device-info frame with its passcode fields zeroed.

    The checksum is recomputed, so the redacted frame still decodes.
    """
    if len(raw) < FRAME_LENGTH or raw[4] != FrameType.DEVICE_INFO:
        return raw
    redacted = bytearray(raw[:FRAME_LENGTH])
    for name in PASSCODE_FIELDS:
        item = DEVICE_INFO.fields[name]
        redacted[item.offset : item.offset + item.length] = bytes(item.length)
    redacted[-1] = checksum(redacted[:-1])
    return bytes(redacted)
