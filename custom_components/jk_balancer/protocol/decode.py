"""Decoding of frames into typed results, and detection of the frame layout.

A device does not say which layout it speaks. The software version hints (JK02_32S
from version 11 on), but version 8 exists as JK04 (JK-B5A24S) and as JK02_24S
(JK-BD6A24S10P). So the layout is decided from content: a cell-info frame read
with the wrong layout yields impossible cells, masks or averages, and is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

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
    values = SETTINGS_LAYOUTS[protocol].decode(frame.raw)
    return Settings(
        cell_count=values.cell_count,
        balancer_enabled=bool(values.balancer_enabled),
        balance_trigger_voltage=values.balance_trigger_voltage,
        balance_start_voltage=values.balance_start_voltage,
        max_balance_current=values.max_balance_current,
        power_off_voltage=values.power_off_voltage,
        voltage_calibration=getattr(values, "voltage_calibration", None),
        battery_capacity=getattr(values, "battery_capacity", None),
    )


# The cell-info values decode_cell_info uses, in this order, per layout.
_COMMON_VALUES: Final = (
    "connected_cells_mask",
    "cell_voltages",
    "cell_resistances",
    "average_cell_voltage",
    "delta_cell_voltage",
    "balancing_action",
    "balancing_current",
    "total_runtime",
)
_JK02_VALUES: Final = (
    "total_voltage",
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "wire_resistance_warning_mask",
    "errors_mask",
    "current",
    "state_of_charge",
    "state_of_health",
    "remaining_capacity",
    "nominal_capacity",
    "cycle_count",
    "temperature_sensor_1",
    "temperature_sensor_2",
    "power_tube_temperature",
    "charging",
    "discharging",
)


_CELL_INFO_VALUES: Final = {
    protocol: layout.values_decoder(
        _COMMON_VALUES + (_JK02_VALUES if protocol.is_jk02 else ())
    )
    for protocol, layout in CELL_INFO_LAYOUTS.items()
}
_CELL_SLOTS: Final = {
    protocol: layout.fields["cell_voltages"].count
    for protocol, layout in CELL_INFO_LAYOUTS.items()
}
# Built without the keyword-argument constructor: this runs twice a second.
_new_cell_info: Final = tuple.__new__
# What JK04 frames do not carry: the record's defaults (None, no errors).
_NOT_ON_JK04: Final = tuple(CellInfo._field_defaults.values())


def decode_cell_info(frame: Frame, protocol: Protocol) -> CellInfo:
    """Decode a cell-info frame; raise ImplausibleFrameError on a wrong layout."""
    values = _CELL_INFO_VALUES[protocol](frame.raw)
    mask, cells, resistances, average, delta, action, balance_current, runtime = values[
        :8
    ]
    slots = _CELL_SLOTS[protocol]
    # Cells are wired from B1 upwards, so the mask is a run of ones from bit 0.
    if mask == 0 or mask & (mask + 1) or mask.bit_length() > slots:
        raise ImplausibleFrameError(
            f"connected-cells mask {mask:#x} is not a run of 1..{slots} cells",
            field="connected_cells_mask",
            value=hex(mask),
        )
    lowest, highest = min(cells), max(cells)
    total = sum(cells)
    if lowest:
        measured_low, measured_high, measured_mean = lowest, highest, total / len(cells)
    else:
        cells, resistances = _without_unmeasured_top(cells, resistances)
        measured = [voltage for voltage in cells if voltage]
        if not measured:
            raise ImplausibleFrameError(
                "no connected cell has a voltage", field="cell_voltages", value="0"
            )
        lowest, highest = min(cells), max(cells)
        measured_low, measured_high = min(measured), max(measured)
        measured_mean = sum(measured) / len(measured)
    # The device's own average and delta lag the cells by a sample at most.
    if abs(average - measured_mean) > CONSISTENCY_TOLERANCE:
        raise _disagreeing("average_cell_voltage", average, measured_mean)
    if abs(delta - (measured_high - measured_low)) > CONSISTENCY_TOLERANCE:
        raise _disagreeing("delta_cell_voltage", delta, measured_high - measured_low)
    if protocol is Protocol.JK04:
        return _new_cell_info(
            CellInfo,
            (
                protocol,
                cells,
                resistances,
                round(total, 6),
                average,
                delta,
                lowest,
                highest,
                cells.index(lowest) + 1,
                cells.index(highest) + 1,
                action != 0,
                balance_current,
                runtime,
                _cells_above(resistances, WIRE_RESISTANCE_LIMIT),
                *_NOT_ON_JK04,
            ),
        )
    (
        reported_total,
        min_index,
        max_index,
        warnings,
        errors,
        current,
        state_of_charge,
        state_of_health,
        remaining,
        nominal,
        cycles,
        temperature_1,
        temperature_2,
        power_tube,
        charging,
        discharging,
    ) = values[8:]
    if abs(reported_total - total) > 0.1 * total + 1.0:
        raise ImplausibleFrameError(
            f"total voltage {reported_total} V does not match the cells "
            f"({total:.3f} V)",
            field="total_voltage",
            value=str(reported_total),
        )
    if min_index >= len(cells) or max_index >= len(cells):
        raise ImplausibleFrameError(
            f"min/max cell index {min_index}/{max_index} beyond {len(cells)} cells",
            field="max_voltage_cell_index",
            value=str(max_index),
        )
    return _new_cell_info(
        CellInfo,
        (
            protocol,
            cells,
            resistances,
            reported_total,
            average,
            delta,
            lowest,
            highest,
            min_index + 1,
            max_index + 1,
            action != 0,
            balance_current,
            runtime,
            _bits(warnings, len(cells)) if warnings else (),
            current,
            state_of_charge,
            state_of_health,
            remaining,
            nominal,
            cycles,
            temperature_1,
            temperature_2,
            power_tube,
            bool(charging),
            bool(discharging),
            _error_names(errors) if errors else (),
        ),
    )


def _without_unmeasured_top(
    cells: tuple[float, ...], resistances: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Drop cells reading exactly 0 V at the top: they were not measured.

    Seen for one frame while the cell count setting changes.
    """
    count = len(cells)
    while count and not cells[count - 1]:
        count -= 1
    return cells[:count], resistances[:count]


def _cells_above(resistances: tuple[float, ...], limit: float) -> tuple[int, ...]:
    return tuple(cell for cell, value in enumerate(resistances, 1) if value > limit)


def _bits(mask: int, count: int) -> tuple[int, ...]:
    """Numbers (from 1) of the cells whose bit is set."""
    return tuple(cell for cell in range(1, count + 1) if mask >> (cell - 1) & 1)


def _error_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(ERROR_BITS) if mask >> bit & 1)


def _disagreeing(name: str, reported: float, expected: float) -> ImplausibleFrameError:
    return ImplausibleFrameError(
        f"{name} {reported} V disagrees with the cells ({expected:.3f} V)",
        field=name,
        value=str(reported),
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
