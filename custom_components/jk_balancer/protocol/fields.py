"""Declarative frame layouts: a field table compiled into one ``struct`` layout.

A :class:`Layout` decodes a 300-byte frame with a single ``unpack_from`` call and
encodes values back into a frame, so the decoder and the virtual balancer read the
same table. Fields with a ``valid`` range reject values outside it: a value that
is physically impossible means the layout is wrong or the frame is corrupt, and
must never reach a user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math
import struct
from typing import Any

from .const import FRAME_LENGTH, RESPONSE_HEADER, FrameType
from .errors import ImplausibleFrameError
from .frame import checksum

# float32 carries about seven significant digits; more would only show noise.
_FLOAT_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Field:
    """One value (or a run of ``count`` equal values) at a byte offset.

    ``code`` is a little-endian ``struct`` code (``B H h I i f``) or ``s`` for a
    NUL-terminated text of ``size`` bytes. The physical value is
    ``raw / divisor``. A raw value equal to ``absent`` means "not fitted" and
    decodes to ``None``.
    """

    name: str
    offset: int
    code: str
    divisor: float = 1
    unit: str | None = None
    count: int = 1
    size: int = 0
    valid: tuple[float, float] | None = None
    absent: int | None = None
    big_endian: bool = False

    @property
    def struct_code(self) -> str:
        """The field's part of the compiled struct format."""
        if self.code == "s":
            return f"{self.size}s"
        return f"{self.count}{self.code}" if self.count > 1 else self.code

    @property
    def length(self) -> int:
        """Bytes the field occupies in the frame."""
        return struct.calcsize("<" + self.struct_code)


@dataclass(frozen=True, slots=True)
class _Slot:
    field: Field
    start: int
    stop: int


class Layout:
    """A frame layout compiled from its field table."""

    __slots__ = ("_slots", "_struct", "fields", "frame_type", "name")

    def __init__(self, name: str, frame_type: FrameType, fields: Sequence[Field]):
        """Compile ``fields``; overlapping or out-of-frame fields are a bug."""
        self.name = name
        self.frame_type = frame_type
        self.fields: dict[str, Field] = {item.name: item for item in fields}
        fmt = ["<"]
        position = 6  # after header, frame type and counter
        index = 0
        slots = []
        for item in sorted(fields, key=lambda f: f.offset):
            if item.offset < position:
                raise ValueError(f"{name}: field {item.name} overlaps its neighbour")
            if item.offset > position:
                fmt.append(f"{item.offset - position}x")
            fmt.append(item.struct_code)
            position = item.offset + item.length
            items = 1 if item.code == "s" else item.count
            slots.append(_Slot(item, index, index + items))
            index += items
        if position > FRAME_LENGTH - 1:
            raise ValueError(f"{name}: fields run into the checksum byte")
        self._struct = struct.Struct("".join(fmt))
        self._slots = tuple(slots)

    def decode(self, raw: bytes) -> dict[str, Any]:
        """Return every field's physical value; raise on an impossible one."""
        values = self._struct.unpack_from(raw, 6)
        result: dict[str, Any] = {}
        for slot in self._slots:
            item = slot.field
            if item.code == "s":
                text = values[slot.start].split(b"\0", 1)[0]
                result[item.name] = text.decode("ascii", "replace").strip()
            elif item.count == 1:
                result[item.name] = _convert(item, values[slot.start])
            else:
                result[item.name] = _convert_run(item, values[slot.start : slot.stop])
        return result

    def encode(self, values: Mapping[str, Any], counter: int = 0) -> bytes:
        """Build a checksummed frame; fields missing from ``values`` are zero."""
        raw: list[Any] = []
        for slot in self._slots:
            item = slot.field
            value = values.get(item.name)
            if item.code == "s":
                raw.append(str(value or "").encode("ascii")[: item.size])
            elif item.count == 1:
                raw.append(_to_raw(item, value))
            else:
                sequence = list(value or ())
                sequence += [None] * (item.count - len(sequence))
                raw.extend(_to_raw(item, element) for element in sequence)
        frame = bytearray(FRAME_LENGTH)
        frame[:4] = RESPONSE_HEADER
        frame[4] = self.frame_type
        frame[5] = counter & 0xFF
        self._struct.pack_into(frame, 6, *raw)
        frame[-1] = checksum(frame[:-1])
        return bytes(frame)


def _convert(item: Field, raw: int | float) -> float | int | None:
    if item.absent is not None and raw == item.absent:
        return None
    if item.big_endian:
        raw = int.from_bytes(int(raw).to_bytes(item.length, "little"), "big")
    value: float | int
    if item.code == "f":
        value = round(raw, _FLOAT_DIGITS) if math.isfinite(raw) else raw
    elif item.divisor == 1:
        value = raw
    else:
        value = raw / item.divisor
    if item.valid is not None and not item.valid[0] <= value <= item.valid[1]:
        # "not low <= value" also catches NaN.
        raise _implausible(item, value)
    return value


def _convert_run(item: Field, raw: tuple[Any, ...]) -> tuple[Any, ...]:
    """Convert an array field (cell voltages, resistances) in one pass."""
    if item.code == "f":
        values = tuple(
            round(value, _FLOAT_DIGITS) if math.isfinite(value) else value
            for value in raw
        )
    elif item.divisor == 1:
        values = raw
    else:
        divisor = item.divisor
        values = tuple(value / divisor for value in raw)
    if item.valid is not None:
        low, high = item.valid
        for value in values:
            if not low <= value <= high:
                raise _implausible(item, value)
    return values


def _implausible(item: Field, value: float) -> ImplausibleFrameError:
    low, high = item.valid or (math.nan, math.nan)
    unit = f" {item.unit}" if item.unit else ""
    return ImplausibleFrameError(
        f"{item.name} = {value}{unit} is outside {low}..{high}{unit}: "
        "wrong protocol layout or corrupt frame",
        field=item.name,
        value=str(value),
    )


def _to_raw(item: Field, value: Any) -> int | float:
    if value is None:
        return item.absent if item.absent is not None else 0
    if item.code == "f":
        return float(value)
    raw = round(float(value) * item.divisor)
    if item.big_endian:
        raw = int.from_bytes(raw.to_bytes(item.length, "big"), "little")
    return raw
