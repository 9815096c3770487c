"""Decoding of frames into typed results, and detection of the frame layout.

A device does not say which layout it speaks. The software version hints (JK02_32S
from version 11 on), but version 8 exists as JK04 (JK-B5A24S) and as JK02_24S
(JK-BD6A24S10P). So the layout is decided from content: a cell-info frame read
with the wrong layout yields impossible cells, masks or averages, and is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from .const import FRAME_LENGTH, FrameType, Protocol
from .errors import FrameError, ImplausibleFrameError, ProtocolDetectionError
from .frame import Frame, checksum
from .layouts import (
    CELL_INFO_LAYOUTS,
    DEVICE_INFO,
    ERROR_BITS,
    PASSCODE_FIELDS,
    SETTINGS_LAYOUTS,
)
from .model import CellInfo, DeviceInfo, Settings

# The device's own average and delta may lag the cell values by a sample; a
# difference beyond this means the bytes are not what the layout says.
CONSISTENCY_TOLERANCE: Final = 0.25  # V
# JK04 reports no warning bits; the app marks a wire above about this as too high.
WIRE_RESISTANCE_LIMIT: Final = 1.0  # Ohm

DecodedFrame = DeviceInfo | Settings | CellInfo


def decode_device_info(frame: Frame) -> DeviceInfo:
    """Decode a device-info frame (the same in every layout)."""
    values = DEVICE_INFO.decode(frame.raw)
    return DeviceInfo(
        vendor_id=values["vendor_id"],
        hardware_version=values["hardware_version"],
        software_version=values["software_version"],
        device_name=values["device_name"],
        serial_number=values["serial_number"],
        manufacturing_date=values["manufacturing_date"],
        uptime=values["uptime"],
        power_on_count=values["power_on_count"],
        passcode=values["passcode"],
    )


def decode_settings(frame: Frame, protocol: Protocol) -> Settings:
    """Decode a settings frame in the given layout."""
    values = SETTINGS_LAYOUTS[protocol].decode(frame.raw)
    return Settings(
        cell_count=values["cell_count"],
        balancer_enabled=bool(values["balancer_enabled"]),
        balance_trigger_voltage=values["balance_trigger_voltage"],
        balance_start_voltage=values["balance_start_voltage"],
        max_balance_current=values["max_balance_current"],
        power_off_voltage=values["power_off_voltage"],
        voltage_calibration=values.get("voltage_calibration"),
        battery_capacity=values.get("battery_capacity"),
    )


def decode_cell_info(frame: Frame, protocol: Protocol) -> CellInfo:
    """Decode a cell-info frame; raise ImplausibleFrameError on a wrong layout."""
    values = CELL_INFO_LAYOUTS[protocol].decode(frame.raw)
    mask: int = values["connected_cells_mask"]
    slots = len(values["cell_voltages"])
    count = mask.bit_length()
    # Cells are wired from B1 upwards, so the mask is a run of ones from bit 0.
    if mask == 0 or mask & (mask + 1) or count > slots:
        raise ImplausibleFrameError(
            f"connected-cells mask {mask:#x} is not a run of 1..{slots} cells",
            field="connected_cells_mask",
            value=hex(mask),
        )
    cells: tuple[float, ...] = values["cell_voltages"][:count]
    # A cell reading exactly 0 V at the top was not measured (seen for one frame
    # while the cell count setting changes).
    while cells and cells[-1] == 0:
        cells = cells[:-1]
    measured = [voltage for voltage in cells if voltage > 0]
    if not measured:
        raise ImplausibleFrameError(
            "no connected cell has a voltage", field="cell_voltages", value="0"
        )
    resistances: tuple[float, ...] = values["cell_resistances"][: len(cells)]
    count = len(cells)
    lowest, highest = min(cells), max(cells)
    _check_close("average_cell_voltage", values, sum(measured) / len(measured))
    _check_close("delta_cell_voltage", values, max(measured) - min(measured))
    common: dict[str, Any] = {
        "protocol": protocol,
        "cell_voltages": cells,
        "cell_resistances": resistances,
        "average_cell_voltage": values["average_cell_voltage"],
        "delta_cell_voltage": values["delta_cell_voltage"],
        "min_cell_voltage": lowest,
        "max_cell_voltage": highest,
        "balancing": values["balancing_action"] != 0,
        "balancing_current": values["balancing_current"],
        "total_runtime": values["total_runtime"],
    }
    if protocol is Protocol.JK04:
        return CellInfo(
            **common,
            total_voltage=round(sum(cells), 6),
            min_voltage_cell=cells.index(lowest) + 1,
            max_voltage_cell=cells.index(highest) + 1,
            wire_resistance_warnings=tuple(
                cell
                for cell, resistance in enumerate(resistances, 1)
                if resistance > WIRE_RESISTANCE_LIMIT
            ),
        )
    total = values["total_voltage"]
    if abs(total - sum(cells)) > 0.1 * sum(cells) + 1.0:
        raise ImplausibleFrameError(
            f"total voltage {total} V does not match the cells ({sum(cells):.3f} V)",
            field="total_voltage",
            value=str(total),
        )
    min_index, max_index = (
        values["min_voltage_cell_index"],
        values["max_voltage_cell_index"],
    )
    if max(min_index, max_index) >= count:
        raise ImplausibleFrameError(
            f"min/max cell index {min_index}/{max_index} beyond {count} cells",
            field="max_voltage_cell_index",
            value=str(max_index),
        )
    warning_mask: int = values["wire_resistance_warning_mask"]
    errors_mask: int = values["errors_mask"]
    return CellInfo(
        **common,
        total_voltage=total,
        min_voltage_cell=min_index + 1,
        max_voltage_cell=max_index + 1,
        wire_resistance_warnings=tuple(
            cell for cell in range(1, count + 1) if warning_mask >> (cell - 1) & 1
        ),
        current=values["current"],
        state_of_charge=values["state_of_charge"],
        state_of_health=values["state_of_health"],
        remaining_capacity=values["remaining_capacity"],
        nominal_capacity=values["nominal_capacity"],
        cycle_count=values["cycle_count"],
        temperature_sensor_1=values["temperature_sensor_1"],
        temperature_sensor_2=values["temperature_sensor_2"],
        power_tube_temperature=values["power_tube_temperature"],
        charging=bool(values["charging"]),
        discharging=bool(values["discharging"]),
        errors=tuple(
            name for bit, name in enumerate(ERROR_BITS) if errors_mask >> bit & 1
        ),
    )


def _check_close(name: str, values: dict[str, Any], expected: float) -> None:
    if abs(values[name] - expected) > CONSISTENCY_TOLERANCE:
        raise ImplausibleFrameError(
            f"{name} {values[name]} V disagrees with the cells ({expected:.3f} V)",
            field=name,
            value=str(values[name]),
        )


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
    the first cell-info frame that decodes plausibly fixes the layout for good.
    """

    def __init__(self, protocol: Protocol | None = None) -> None:
        """Start with no device info, and the given or no layout."""
        self.protocol = protocol
        self.device_info: DeviceInfo | None = None
        self._confirmed = protocol is not None

    @property
    def confirmed(self) -> bool:
        """Return True once the layout is known rather than guessed."""
        return self._confirmed

    def decode(self, frame: Frame) -> DecodedFrame:
        """Decode one frame; raise FrameError for what cannot be trusted."""
        frame_type = frame.frame_type
        if frame_type == FrameType.DEVICE_INFO:
            self.device_info = decode_device_info(frame)
            return self.device_info
        if frame_type == FrameType.SETTINGS:
            return self._decode_settings(frame)
        if frame_type == FrameType.CELL_INFO:
            return self._decode_cell_info(frame)
        raise FrameError(
            f"unknown frame type {frame_type:#04x}", frame_type=f"{frame_type:#04x}"
        )

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

    def _decode_cell_info(self, frame: Frame) -> CellInfo:
        if self._confirmed and self.protocol is not None:
            return decode_cell_info(frame, self.protocol)
        candidates = candidate_protocols(self.device_info)
        if self.protocol is not None:
            candidates = (
                self.protocol,
                *(item for item in candidates if item is not self.protocol),
            )
        for protocol in candidates:
            try:
                cell_info = decode_cell_info(frame, protocol)
            except ImplausibleFrameError:
                continue
            self.protocol = protocol
            self._confirmed = True
            return cell_info
        raise ProtocolDetectionError(
            "the cell-info frame fits none of the JK04, JK02_24S, JK02_32S layouts"
        )


def detect_protocol(frames: Iterable[Frame]) -> Protocol | None:
    """Return the layout that best explains a recorded sequence of frames.

    A plausible cell-info frame decides; failing that a settings frame; failing
    that the device info's hint. None when the frames say nothing at all.
    """
    decoder = FrameDecoder()
    for frame in frames:
        try:
            decoder.decode(frame)
        except FrameError:
            continue
        if decoder.confirmed:
            break
    if decoder.protocol is None and decoder.device_info is not None:
        return candidate_protocols(decoder.device_info)[0]
    return decoder.protocol


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
