"""Declarative frame layouts: a field table compiled into one decoder function.

A :class:`Layout` turns its table into a ``struct`` format and into the source
of a single decoder function (the way ``dataclasses`` and ``namedtuple`` build
their methods), so decoding a frame is one ``unpack_from`` call plus inline
conversions and range checks: no per-field Python calls on the hot path. The
same table encodes frames for the virtual balancer.

Fields with a ``valid`` range reject values outside it: a value that is
physically impossible means the layout is wrong or the frame is corrupt, and
must never reach a user.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import math
import struct
from typing import Any, NoReturn

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
    decodes to ``None``. A run with ``length_from`` holds only as many values as
    that (bit mask) field has bits, e.g. the connected cells.
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
    length_from: str | None = None

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

    def implausible(self, value: object) -> ImplausibleFrameError:
        """The error for a value outside the field's valid range."""
        low, high = self.valid or (math.nan, math.nan)
        unit = f" {self.unit}" if self.unit else ""
        return ImplausibleFrameError(
            f"{self.name} = {value}{unit} is outside {low}..{high}{unit}: "
            "wrong protocol layout or corrupt frame",
            field=self.name,
            value=str(value),
        )


class Layout:
    """A frame layout compiled from its field table."""

    __slots__ = (
        "_decode",
        "_slots",
        "_struct",
        "fields",
        "frame_type",
        "name",
        "record",
        "source",
    )

    def __init__(self, name: str, frame_type: FrameType, fields: Sequence[Field]):
        """Compile ``fields``; overlapping or out-of-frame fields are a bug."""
        self.name = name
        self.frame_type = frame_type
        self.fields: dict[str, Field] = {item.name: item for item in fields}
        fmt = ["<"]
        position = 6  # after header, frame type and counter
        index = 0
        slots: list[tuple[Field, int]] = []
        for item in sorted(fields, key=lambda f: f.offset):
            if item.offset < position:
                raise ValueError(f"{name}: field {item.name} overlaps its neighbour")
            if item.offset > position:
                fmt.append(f"{item.offset - position}x")
            fmt.append(item.struct_code)
            position = item.offset + item.length
            slots.append((item, index))
            index += 1 if item.code == "s" else item.count
        if position > FRAME_LENGTH - 1:
            raise ValueError(f"{name}: fields run into the checksum byte")
        self._struct = struct.Struct("".join(fmt))
        self._slots = tuple(slots)
        # The decoded values: a named tuple, the cheapest record to build.
        self.record: Any = namedtuple(  # type: ignore[misc]
            f"{name}_values", [item.name for item, _ in slots]
        )
        self.source, self._decode = self._compile(f"decode_{name}")

    def decode(self, raw: bytes) -> Any:
        """Return every field's physical value; raise on an impossible one.

        The result is a named tuple with one attribute per field.
        """
        return self._decode(raw)

    def values_decoder(
        self, names: Sequence[str]
    ) -> Callable[[bytes], tuple[Any, ...]]:
        """A decoder returning a plain tuple of the named values, in that order.

        Every field is still range-checked. For hot paths: it skips building
        the named tuple and picking values out of it.
        """
        return self._compile(f"decode_{self.name}_values", names)[1]

    def _compile(
        self, function: str, names: Sequence[str] | None = None
    ) -> tuple[str, Callable[[bytes], Any]]:
        """Write a decoder function for this table, and build it.

        It returns the values of ``names`` as a tuple, or else the record.
        """
        index_of = {item.name: index for item, index in self._slots}
        lines = [f"def {function}(raw):", "    v = unpack(raw, 6)"]
        # A run sized by a mask holds as many values as the mask has set bits
        # (at most its slots); each such length is worked out once.
        length_of: dict[tuple[str, int], str] = {}
        for item, _ in self._slots:
            key = (item.length_from or "", item.count)
            if item.length_from and key not in length_of:
                length_of[key] = f"n{len(length_of)}"
                mask = f"v[{index_of[item.length_from]}]"
                lines.append(
                    f"    {length_of[key]} = min({mask}.bit_length(), {item.count})"
                )
        value_of: dict[str, str] = {}
        for number, (item, index) in enumerate(self._slots):
            value = value_of[item.name] = f"x{number}"
            if item.code == "s":
                conversion = [f"{value} = text(v[{index}])"]
            elif item.count > 1:
                end = str(index + item.count)
                if item.length_from:
                    end = f"{index} + {length_of[item.length_from, item.count]}"
                conversion = _run_conversion(item, f"v[{index}:{end}]", value)
            else:
                conversion = _conversion(item, f"v[{index}]", value)
            lines.extend(f"    {line}" for line in conversion)
        if names is None:
            lines.append(f"    return new(record, ({', '.join(value_of.values())},))")
        else:
            lines.append(f"    return ({', '.join(value_of[name] for name in names)},)")
        source = "\n".join(lines)
        namespace: dict[str, Any] = {
            "unpack": self._struct.unpack_from,
            "new": tuple.__new__,
            "record": self.record,
            "fields": self.fields,
            "text": _text,
            "fail_run": _fail_run,
        }
        exec(compile(source, f"<layout {self.name}>", "exec"), namespace)  # noqa: S102
        decoder: Callable[[bytes], Any] = namespace[function]
        return source, decoder

    def encode(self, values: Mapping[str, Any], counter: int = 0) -> bytes:
        """Build a checksummed frame; fields missing from ``values`` are zero."""
        raw: list[Any] = []
        for item, _index in self._slots:
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


def _raw_limits(item: Field) -> tuple[float | None, float | None]:
    """The raw bounds of the valid range that the field's type can exceed.

    None where the type cannot: an unsigned 16-bit resistance in mOhm never
    exceeds 100 Ohm, so checking it would only cost time.
    """
    if item.valid is None:
        return None, None
    low, high = (bound * item.divisor for bound in item.valid)
    if item.code == "f":
        return low, high
    # Whole raw bounds: comparing int with int is the fast path.
    low, high = math.ceil(low), math.floor(high)
    bits = 8 * struct.calcsize(item.code)
    signed = item.code.islower()
    smallest = -(1 << (bits - 1)) if signed else 0
    largest = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    return (low if smallest < low else None), (high if largest > high else None)


def _conversion(item: Field, raw: str, value: str) -> list[str]:
    """Source lines that set ``value`` to one field's checked physical value."""
    if item.big_endian:
        raw = f"(({raw} & 0xFF) << 8 | {raw} >> 8)"
    if item.code == "f":
        expression = f"round({raw}, {_FLOAT_DIGITS})"
    elif item.divisor == 1:
        expression = raw
    else:
        expression = f"{raw} / {item.divisor!r}"
    if item.absent is None:
        lines = [f"{value} = {expression}"]
    else:
        lines = [f"{value} = None if {raw} == {item.absent} else {expression}"]
    low, high = _raw_limits(item)
    if item.code == "f":
        # "not low <= x <= high" also rejects NaN.
        test = f"not {low!r} <= {value} <= {high!r}"
    else:
        tests = [f"{raw} < {low!r}"] * (low is not None)
        tests += [f"{raw} > {high!r}"] * (high is not None)
        test = " or ".join(tests)
    if test:
        guard = "" if item.absent is None else f"{value} is not None and ("
        test = f"{guard}{test})" if guard else test
        lines.append(f"if {test}: raise fields[{item.name!r}].implausible({value})")
    return lines


def _run_conversion(item: Field, raw: str, value: str) -> list[str]:
    """Source lines for a run of values (cell voltages, resistances)."""
    lines = [f"{value} = {raw}"]
    check = f"fields[{item.name!r}]"
    low, high = _raw_limits(item)
    if item.code == "f":
        lines.append(f"{value} = tuple([round(e, {_FLOAT_DIGITS}) for e in {value}])")
        if item.valid is not None:
            lines.append(
                f"if not all([{low!r} <= e <= {high!r} for e in {value}]): "
                f"fail_run({check}, {value})"
            )
        return lines
    # Integers: checked raw, with C-speed min() and max(), before converting.
    tests = [f"min({value}) < {low!r}"] * (low is not None)
    tests += [f"max({value}) > {high!r}"] * (high is not None)
    if tests:
        lines.append(
            f"if {value} and ({' or '.join(tests)}): fail_run({check}, {value})"
        )
    if item.divisor != 1:
        lines.append(f"{value} = tuple([e / {item.divisor!r} for e in {value}])")
    return lines


def _text(raw: bytes) -> str:
    # Names end up in the device registry: a control byte from a corrupt frame
    # shows as the replacement character rather than breaking the display.
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _fail_run(item: Field, raw: Sequence[float]) -> NoReturn:
    """Raise for the first value of a run outside the field's range."""
    low, high = item.valid or (math.nan, math.nan)
    divisor = 1 if item.code == "f" else item.divisor
    bad = next(value / divisor for value in raw if not low <= value / divisor <= high)
    raise item.implausible(bad)


def _to_raw(item: Field, value: Any) -> int | float:
    if value is None:
        return item.absent if item.absent is not None else 0
    if item.code == "f":
        return float(value)
    raw = round(float(value) * item.divisor)
    if item.big_endian:
        raw = int.from_bytes(raw.to_bytes(item.length, "big"), "little")
    return raw
