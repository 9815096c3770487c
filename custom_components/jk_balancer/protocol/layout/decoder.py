"""Decoding some fields of a layout: index plans over one ``struct`` unpack.

A :class:`FieldDecoder` picks the raw values out of the unpacked tuple,
range-checks them and converts them with C-level ``itemgetter`` and ``map``
calls, so decoding costs one ``unpack_from`` plus a few calls per kind of
field, not a Python step per field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
import math
from operator import itemgetter, le
from typing import Any, NoReturn

from .field import FLOAT_DIGITS, Field

type Values = tuple[Any, ...]
type Pick = Callable[[Sequence[Any]], Values]
# How a layout unpacks a whole frame: ``unpack(raw, start)``.
type Unpack = Callable[[bytes, int], Values]


class FieldDecoder:
    """Decode some fields of a layout in two steps: check, then convert.

    :meth:`check` unpacks a frame and refuses it when a raw value lies outside
    its field's range: one ``map(le, ...)`` pass per side over the single
    values whose type can leave their range, ``max``/``min`` over each run
    (sized by its mask), and a closer look at fields with an "absent" marker
    only when something below their range shows up. :meth:`convert` turns the
    checked raw values into physical ones, one comprehension per kind of field,
    and never fails. :meth:`decode` does both; its values come in the order of
    ``produced``, from which :meth:`picker` picks.
    """

    __slots__ = (
        "_absent",
        "_checked_runs",
        "_lower",
        "_order",
        "_plain",
        "_rounded",
        "_runs",
        "_scaled",
        "_swapped",
        "_texts",
        "_unpack",
        "_upper",
        "produced",
        "start",
    )

    def __init__(
        self,
        unpack: Unpack,
        start: int,
        table: Mapping[str, Field],
        index: Mapping[str, int],
        names: Sequence[str],
    ) -> None:
        """Plan the decoding of ``names`` of a layout's ``table``.

        ``unpack(raw, start)`` returns every raw value of a frame; ``index``
        says where each field's first one sits among them.
        """
        self._unpack = unpack
        self.start = start
        wanted = [table[name] for name in names]
        kinds: dict[str, list[Field]] = {}
        for item in wanted:
            kinds.setdefault(_kind(item), []).append(item)

        def picked(fields: Sequence[Field]) -> Pick:
            return _pick([index[f.name] for f in fields])

        singles = [
            f for kind in ("plain", "scaled", "float") for f in kinds.get(kind, [])
        ]
        self._lower = _SideCheck.of(singles, index, upper=False)
        self._upper = _SideCheck.of(singles, index, upper=True)
        self._absent = _AbsentCheck.of(singles, index)
        produced = list(kinds.get("plain", []))
        self._plain = picked(produced)
        scaled = []
        for divisor in sorted({f.divisor for f in kinds.get("scaled", [])}):
            group = [f for f in kinds["scaled"] if f.divisor == divisor]
            scaled.append((picked(group), divisor))
            produced += group
        self._scaled = tuple(scaled)
        floats = kinds.get("float", [])
        self._rounded = picked(floats) if floats else None
        produced += floats
        swapped = kinds.get("swapped", [])
        self._swapped = tuple((index[f.name], f.length) for f in swapped)
        produced += swapped
        runs = kinds.get("run", [])
        self._runs = tuple(_Run(f, index, table) for f in runs)
        # Runs whose type cannot leave their range need no check.
        self._checked_runs = tuple(run for run in self._runs if run.checked)
        produced += runs
        texts = kinds.get("text", [])
        self._texts = picked(texts) if texts else None
        produced += texts
        self.produced: tuple[Field, ...] = tuple(produced)
        if self._absent:
            self._absent.locate(self.produced)
        self._order = self.picker(names)

    def picker(self, names: Sequence[str], extra: Sequence[str] = ()) -> Pick:
        """Pick ``names`` from decoded values followed by ``extra`` named ones."""
        positions = [f.name for f in self.produced] + list(extra)
        return _pick([positions.index(name) for name in names])

    def check(self, raw: bytes) -> Values:
        """The frame's raw values; ImplausibleFrameError if one is out of range."""
        values = self._unpack(raw, self.start)
        if (lower := self._lower) and not all(
            map(le, lower.bounds, lower.pick(values))
        ):
            lower.fail(values)
        if (upper := self._upper) and not all(
            map(le, upper.pick(values), upper.bounds)
        ):
            upper.fail(values)
        if (absent := self._absent) and min(absent.pick(values)) < absent.floor:
            absent.check(values)
        for run in self._checked_runs:
            run.check(values)
        return values

    def convert(self, values: Values) -> list[Any]:
        """Physical values of checked raw ones, in the order of ``produced``."""
        result = list(self._plain(values))
        for pick, divisor in self._scaled:
            result += [raw / divisor for raw in pick(values)]
        if self._rounded is not None:
            result += [round(raw, FLOAT_DIGITS) for raw in self._rounded(values)]
        for position, length in self._swapped:
            result.append(int.from_bytes(values[position].to_bytes(length), "little"))
        for run in self._runs:
            result.append(run.convert(values))
        if self._texts is not None:
            result += map(_text, self._texts(values))
        if self._absent:
            self._absent.replace(values, result)
        return result

    def decode(self, raw: bytes) -> list[Any]:
        """Check and convert, in the order of ``produced``."""
        return self.convert(self.check(raw))

    def __call__(self, raw: bytes) -> Values:
        """Check and convert, in the order the values were named."""
        return self._order(self.convert(self.check(raw)))


def _kind(item: Field) -> str:
    if item.code == "s":
        return "text"
    if item.count > 1:
        return "run"
    if item.swapped:
        return "swapped"
    if item.is_float:
        return "float"
    return "plain" if item.divisor == 1 else "scaled"


def _pick(indices: Sequence[int]) -> Pick:
    """A function returning the values at ``indices`` as a tuple (C speed)."""
    if not indices:
        return lambda _values: ()
    if len(indices) == 1:
        (only,) = indices
        return lambda values: (values[only],)
    return itemgetter(*indices)


class _SideCheck:
    """Raw values that must stay at or below (``upper``) or above their bounds."""

    __slots__ = ("bounds", "fields", "pick", "upper")

    @classmethod
    def of(
        cls, fields: Sequence[Field], index: Mapping[str, int], *, upper: bool
    ) -> _SideCheck | None:
        """The check of the fields with a finite bound on this side, if any.

        A float's upper check also catches NaN, which compares as nothing. A
        field with an "absent" marker has its lower bound widened to it.
        """
        group = []
        for item in fields:
            bounds = item.raw_bounds()
            if bounds is None:
                continue
            bound = bounds[upper]
            if not upper and item.absent is not None:
                bound = min(bound, item.absent)
            if math.isfinite(bound) or (upper and item.is_float):
                group.append((item, bound))
        if not group:
            return None
        return cls(
            _pick([index[item.name] for item, _ in group]),
            tuple(bound for _, bound in group),
            tuple(item for item, _ in group),
            upper=upper,
        )

    def __init__(
        self, pick: Pick, bounds: Values, fields: tuple[Field, ...], *, upper: bool
    ) -> None:
        self.pick, self.bounds, self.fields, self.upper = pick, bounds, fields, upper

    def fail(self, values: Values) -> NoReturn:
        """Raise for the first value beyond its bound."""
        picked = self.pick(values)
        for item, raw, bound in zip(self.fields, picked, self.bounds, strict=True):
            if not (raw <= bound if self.upper else bound <= raw):
                raise item.implausible(raw if item.is_float else raw / item.divisor)
        raise AssertionError("no value beyond its bound")  # pragma: no cover


class _AbsentCheck:
    """Fields whose raw "absent" marker means not fitted: None, not a number."""

    __slots__ = ("fields", "floor", "markers", "pick", "places")

    @classmethod
    def of(
        cls, fields: Sequence[Field], index: Mapping[str, int]
    ) -> _AbsentCheck | None:
        """The check for the fields that have a marker, if any."""
        marked = [f for f in fields if f.absent is not None]
        return cls(marked, [index[f.name] for f in marked]) if marked else None

    def __init__(self, fields: Sequence[Field], positions: Sequence[int]) -> None:
        self.fields = tuple(zip(fields, positions, strict=True))
        self.pick = _pick(positions)
        self.markers = {f.absent for f in fields}
        # The side check let values down to the marker pass: below the
        # smallest valid raw value, look closer.
        self.floor = min((f.raw_bounds() or (-math.inf, 0))[0] for f in fields)
        self.places: tuple[int, ...] = ()

    def locate(self, produced: Sequence[Field]) -> None:
        """Learn where the fields end up among the converted values."""
        self.places = tuple(produced.index(item) for item, _ in self.fields)

    def check(self, values: Values) -> None:
        """Refuse a value below its range that is not the marker."""
        for item, position in self.fields:
            raw = values[position]
            bounds = item.raw_bounds()
            if raw != item.absent and bounds is not None and raw < bounds[0]:
                raise item.implausible(raw / item.divisor)

    def replace(self, values: Values, converted: list[Any]) -> None:
        """Markers become None in the converted values."""
        if self.markers.isdisjoint(self.pick(values)):
            return
        for (item, position), place in zip(self.fields, self.places, strict=True):
            if values[position] == item.absent:
                converted[place] = None


class _Run:
    """A run of values sized by its mask field: cells, resistances."""

    __slots__ = (
        "checked",
        "checks_high",
        "checks_low",
        "divisor",
        "first",
        "high",
        "item",
        "low",
        "mask_at",
        "slots",
    )

    def __init__(
        self, item: Field, index: Mapping[str, int], table: Mapping[str, Field]
    ) -> None:
        if item.length_from and table[item.length_from].count != 1:
            raise ValueError(f"{item.name}: its length field must be one value")
        self.item, self.first, self.slots = item, index[item.name], item.count
        self.divisor = item.divisor
        self.mask_at = index.get(item.length_from or "")
        low, high = item.raw_bounds() or (-math.inf, math.inf)
        self.low, self.high = low, high
        # Whole numbers are checked only on a side their type can cross.
        self.checks_low, self.checks_high = math.isfinite(low), math.isfinite(high)
        self.checked = item.is_float or self.checks_low or self.checks_high

    def raws(self, values: Values) -> Values:
        """The run's raw values, as many as its mask says."""
        count = self.slots
        if self.mask_at is not None:
            count = min(values[self.mask_at].bit_length(), count)
        return values[self.first : self.first + count]

    def check(self, values: Values) -> None:
        """Refuse a value outside the range (floats one by one: NaN too)."""
        raws = self.raws(values)
        if not raws:
            return
        low, high = self.low, self.high
        if self.item.is_float:
            if not (
                all(map(le, repeat(low), raws)) and all(map(le, raws, repeat(high)))
            ):
                _fail_run(self.item, raws)
        elif (self.checks_high and max(raws) > high) or (
            self.checks_low and min(raws) < low
        ):
            _fail_run(self.item, raws)

    def convert(self, values: Values) -> Values:
        """The run's physical values."""
        raws = self.raws(values)
        if self.item.is_float:
            return tuple([round(raw, FLOAT_DIGITS) for raw in raws])
        divisor = self.divisor
        return raws if divisor == 1 else tuple([raw / divisor for raw in raws])


def _text(raw: bytes) -> str:
    # Names end up in the device registry: a control byte from a corrupt frame
    # shows as the replacement character rather than breaking the display.
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _fail_run(item: Field, raw: Sequence[float]) -> NoReturn:
    """Raise for the first value of a run outside the field's range."""
    low, high = item.valid or (math.nan, math.nan)
    divisor = 1 if item.is_float else item.divisor
    bad = next(value / divisor for value in raw if not low <= value / divisor <= high)
    raise item.implausible(bad)
