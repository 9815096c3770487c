"""Decoding of frames into typed results, and detection of the frame layout.

A device does not say which layout it speaks. The software version hints (JK02_32S
from version 11 on), but version 8 exists as JK04 (JK-B5A24S) and as JK02_24S
(JK-BD6A24S10P). So the layout is decided from content: a cell-info frame read
with the wrong layout yields impossible cells, masks or averages, and is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
import functools
from operator import itemgetter
from typing import Any, Final, NamedTuple

from .const import FRAME_LENGTH, FrameType, Protocol
from .errors import FrameError, ImplausibleFrameError, ProtocolDetectionError
from .fields import FLOAT_DIGITS
from .frame import Frame, checksum
from .layouts import (
    CELL_INFO_LAYOUTS,
    DEVICE_INFO,
    ERROR_BITS,
    PASSCODE_FIELDS,
    SETTINGS_LAYOUTS,
)
from .model import CellInfo, DeviceFigures, DeviceInfo, Settings, summarize

# The device's own figures may lag the cell values by a sample; a difference
# beyond this means the bytes are not what the layout says.
CONSISTENCY_TOLERANCE: Final = 0.25  # V
# JK04 reports no warning bits; the app marks a wire above about this as too high.
WIRE_RESISTANCE_LIMIT: Final = 1.0  # Ohm
# A JK BMS derives its state of charge from remaining / estimated capacity; the
# captures agree within 1.5 points (it rounds and updates them apart).
STATE_OF_CHARGE_TOLERANCE: Final = 5  # percentage points

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


class _CellInfoPlan:
    """How one layout's cell-info frame is checked and converted."""

    def __init__(self, protocol: Protocol) -> None:
        layout = CELL_INFO_LAYOUTS[protocol]
        cells = layout.fields["cell_voltages"]
        self.protocol = protocol
        names = _COMMON_VALUES + (_JK02_VALUES if protocol.is_jk02 else ())
        self.decoder = layout.decoder(names)
        self.values = self.decoder.picker(names)
        # Raw values the checks compare, straight from the unpacked frame.
        checked = _CHECKED_RAW + (_CHECKED_RAW_JK02 if protocol.is_jk02 else ())
        self.raw = itemgetter(*(layout.index(name) for name in checked))
        self.divisors = {name: layout.fields[name].divisor for name in checked}
        fields = layout.fields
        self.total_divisor = fields.get("total_voltage", cells).divisor
        self.capacity_divisor = fields.get("remaining_capacity", cells).divisor
        self.first_cell = layout.index("cell_voltages")
        self.cell_block = (cells.offset, cells.offset + cells.length)
        self.slots = cells.count
        self.cell_divisor = cells.divisor
        self.tolerance = CONSISTENCY_TOLERANCE * cells.divisor


# The cell-info values the record is built from, per layout.
_COMMON_VALUES: Final = (
    "cell_voltages",
    "cell_resistances",
    "average_cell_voltage",
    "delta_cell_voltage",
    "balancing_action",
    "balancing_current",
    "total_runtime",
)
_JK02_VALUES: Final = (
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "total_voltage",
    "wire_resistance_warning_mask",
    "errors_mask",
    "current",
    "state_of_charge",
    "state_of_health",
    "remaining_capacity",
    "estimated_capacity",
    "cycle_count",
    "temperature_sensor_1",
    "temperature_sensor_2",
    "power_tube_temperature",
    "charging",
    "discharging",
)
# The raw values the checks compare, per layout.
_CHECKED_RAW: Final = (
    "connected_cells_mask",
    "average_cell_voltage",
    "delta_cell_voltage",
    "total_runtime",
)
_CHECKED_RAW_JK02: Final = (
    "min_voltage_cell_index",
    "max_voltage_cell_index",
    "total_voltage",
    "state_of_charge",
    "remaining_capacity",
    "estimated_capacity",
)
_PLANS: Final = {protocol: _CellInfoPlan(protocol) for protocol in CELL_INFO_LAYOUTS}
# Records are built without their keyword-argument constructors: this runs
# twice a second per device.
_new: Final = tuple.__new__
# What JK04 frames do not carry: the record's defaults (None, no errors).
_NOT_ON_JK04: Final = tuple(CellInfo._field_defaults.values())


class CheckedCellInfo(NamedTuple):
    """A cell-info frame that passed every check, not yet converted.

    Checking is what every frame of the half-second stream needs; converting
    into a :class:`CellInfo` only what is read (:meth:`cell_info`).
    """

    protocol: Protocol
    values: tuple[Any, ...]  # the frame's raw values, as the layout unpacks them
    cells: int  # cells measured (0: none)

    def cell_info(self) -> CellInfo:
        """The measurements in physical units, summarized from the cells."""
        protocol, plan = self.protocol, _PLANS[self.protocol]
        values = plan.values(plan.decoder.convert(self.values))
        cells, resistances, average, delta, action, balancing_current, runtime = values[
            :7
        ]
        cells, resistances = cells[: self.cells], resistances[: self.cells]
        summary = summarize(cells)
        if protocol is Protocol.JK04:
            return _new(
                CellInfo,
                (
                    protocol,
                    cells,
                    resistances,
                    round(sum(cells), FLOAT_DIGITS) if cells else None,
                    *summary,
                    action != 0,
                    balancing_current,
                    runtime,
                    _cells_above(resistances, WIRE_RESISTANCE_LIMIT),
                    _new(DeviceFigures, (average, delta, None, None)),
                    *_NOT_ON_JK04,
                ),
            )
        min_index, max_index, total, warnings, errors, *bms, charging, discharging = (
            values[7:]
        )
        return _new(
            CellInfo,
            (
                protocol,
                cells,
                resistances,
                total,
                *summary,
                action != 0,
                balancing_current,
                runtime,
                _cells_in_mask(warnings, self.cells),
                _new(DeviceFigures, (average, delta, min_index + 1, max_index + 1)),
                *bms,
                charging == 1,
                discharging == 1,
                _error_names(errors),
            ),
        )


def check_cell_info(frame: Frame, protocol: Protocol) -> CheckedCellInfo:
    """Check a cell-info frame; raise ImplausibleFrameError on a wrong layout.

    Three steps, on raw values: every field is range-checked as it is
    unpacked; the measured cells are taken from the connected-cells mask; and
    the device's own figures (and, on JK02, its pack voltage or charge
    figures) must agree with those cells. A frame without cells says less, so
    it must at least carry the device's clock (its runtime is never 0).
    """
    plan = _PLANS[protocol]
    raw = frame.raw
    values = plan.decoder.check(raw)
    if protocol.is_jk02:
        (mask, average, delta, runtime, min_index, max_index, *pack) = plan.raw(values)
    else:
        mask, average, delta, runtime = plan.raw(values)
        min_index = max_index = None
    cells = _measured_cells(plan, raw, values, mask)
    if cells:
        _check_figures(plan, cells, average, delta, min_index, max_index)
    elif not runtime:
        raise ImplausibleFrameError(
            "no cell measured and no runtime: the frame says nothing",
            field="total_runtime",
            value="0",
        )
    if protocol.is_jk02:
        _check_pack(plan, cells, pack)
    return _new(CheckedCellInfo, (protocol, values, len(cells)))


def decode_cell_info(frame: Frame, protocol: Protocol) -> CellInfo:
    """Check a cell-info frame and convert it (see :func:`check_cell_info`)."""
    return check_cell_info(frame, protocol).cell_info()


def _measured_cells(
    plan: _CellInfoPlan, raw: bytes, values: tuple[Any, ...], mask: int
) -> tuple[Any, ...]:
    """The cells the device measured (raw), from its connected-cells mask.

    Cells are wired from B1 upwards, so the mask is a run of ones from bit 0.
    A frame with every cell slot at zero measured no cell (balance leads
    unplugged): valid, with no cells. Cells reading 0 V at the top of the mask
    were not measured (seen while the cell-count setting changes); a 0 V cell
    below a measured one is impossible.
    """
    slots = plan.slots
    if mask & (mask + 1) or mask.bit_length() > slots:
        raise ImplausibleFrameError(
            f"connected-cells mask {mask:#x} is not a run of 0..{slots} cells",
            field="connected_cells_mask",
            value=hex(mask),
        )
    start, end = plan.cell_block
    if raw.count(0, start, end) == end - start:
        return ()
    if not mask:
        raise ImplausibleFrameError(
            "cells are measured outside the connected-cells mask 0x0",
            field="connected_cells_mask",
            value="0x0",
        )
    first = plan.first_cell
    count = mask.bit_length()
    while not values[first + count - 1]:
        count -= 1
    cells = values[first : first + count]
    if 0 in cells:
        raise ImplausibleFrameError(
            "a cell below a measured one reads 0 V", field="cell_voltages", value="0"
        )
    return cells


def _check_figures(
    plan: _CellInfoPlan,
    cells: tuple[float, ...],
    average: float,
    delta: float,
    min_index: int | None = None,
    max_index: int | None = None,
) -> None:
    """The device's own figures lag the cells by a sample at most (raw units).

    JK02 also names the lowest and highest cell: they must hold about that.
    """
    lowest, highest = min(cells), max(cells)
    tolerance = plan.tolerance
    if abs(average - sum(cells) / len(cells)) > tolerance:
        raise _disagreeing(plan, "average_cell_voltage", average, cells)
    if abs(delta - (highest - lowest)) > tolerance:
        raise _disagreeing(plan, "delta_cell_voltage", delta, cells)
    if min_index is None or max_index is None:
        return
    if (
        min_index >= len(cells)
        or max_index >= len(cells)
        or abs(cells[min_index] - lowest) > tolerance
        or abs(cells[max_index] - highest) > tolerance
    ):
        raise ImplausibleFrameError(
            f"min/max cell index {min_index}/{max_index} does not point at "
            f"the lowest and highest of {len(cells)} cells",
            field="max_voltage_cell_index",
            value=str(max_index),
        )


def _check_pack(plan: _CellInfoPlan, cells: tuple[float, ...], pack: list[int]) -> None:
    """A JK02 pack voltage is about the sum of its cells (raw values).

    With no cell measured, the BMS's charge figures must agree instead: that
    and the runtime are what tell a frame without cells from another
    layout's bytes. ``pack`` holds the raw total voltage, state of charge,
    remaining and estimated capacity.
    """
    total, state_of_charge, remaining, estimated = pack
    if cells:
        volts = total / plan.total_divisor
        cells_total = sum(cells) / plan.cell_divisor
        if abs(volts - cells_total) > 0.1 * cells_total + 1.0:
            raise ImplausibleFrameError(
                f"total voltage {volts} V does not match the cells "
                f"({cells_total:.3f} V)",
                field="total_voltage",
                value=str(volts),
            )
        return
    if remaining > estimated * 1.05 + 1 or (
        estimated > 0
        and abs(state_of_charge - 100 * remaining / estimated)
        > STATE_OF_CHARGE_TOLERANCE
    ):
        divisor = plan.capacity_divisor
        raise ImplausibleFrameError(
            f"state of charge {state_of_charge} % disagrees with "
            f"{remaining / divisor} Ah of {estimated / divisor} Ah",
            field="state_of_charge",
            value=str(state_of_charge),
        )


def _cells_above(resistances: tuple[float, ...], limit: float) -> tuple[int, ...]:
    return tuple(cell for cell, value in enumerate(resistances, 1) if value > limit)


# A device repeats the same few masks frame after frame.
@functools.lru_cache(maxsize=256)
def _cells_in_mask(mask: int, count: int) -> tuple[int, ...]:
    """Numbers (from 1) of the cells whose bit is set."""
    return tuple(cell for cell in range(1, count + 1) if mask >> (cell - 1) & 1)


@functools.lru_cache(maxsize=256)
def _error_names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(ERROR_BITS) if mask >> bit & 1)


def _disagreeing(
    plan: _CellInfoPlan, name: str, raw: float, cells: tuple[float, ...]
) -> ImplausibleFrameError:
    reported = raw / plan.divisors[name]
    mean = sum(cells) / len(cells) / plan.cell_divisor
    return ImplausibleFrameError(
        f"{name} {reported:g} V disagrees with the cells (average {mean:.3f} V)",
        field=name,
        value=f"{reported:g}",
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
    the first cell-info frame with measured cells that decodes plausibly fixes
    the layout for good. A frame without cells fits with less evidence, so it
    is decoded with the likeliest layout but decides nothing.
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
