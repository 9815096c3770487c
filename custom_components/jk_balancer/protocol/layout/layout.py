"""Declarative frame layouts: a field table compiled into ``struct`` formats.

A :class:`Layout` turns its table into one ``struct.Struct`` for the whole frame
and, for any set of fields a caller wants, a :class:`FieldDecoder` (see
:mod:`.decoder`). The virtual balancer encodes its frames from the same table.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
import struct
from typing import Any

from .decoder import FieldDecoder
from .field import Field


class Layout:
    """A frame layout compiled from its field table.

    ``start`` is the first byte after the frame's header, ``length`` the frame's
    size with the sum-8 checksum in its last byte, ``byte_order`` the
    ``struct`` prefix of its numbers.
    """

    __slots__ = (
        "_index",
        "_struct",
        "byte_order",
        "fields",
        "frame_type",
        "length",
        "name",
        "record",
        "start",
    )

    def __init__(
        self,
        name: str,
        frame_type: int,
        fields: Sequence[Field],
        *,
        start: int = 6,
        length: int = 300,
        byte_order: str = "<",
    ) -> None:
        """Compile ``fields``; overlapping or out-of-frame fields are a bug."""
        self.name = name
        self.frame_type = frame_type
        self.start = start
        self.length = length
        self.byte_order = byte_order
        self.fields: dict[str, Field] = {item.name: item for item in fields}
        fmt = [byte_order]
        position = start
        # Where each field's first raw value sits in the unpacked tuple.
        self._index: dict[str, int] = {}
        index = 0
        for item in sorted(fields, key=lambda f: f.offset):
            if item.offset < position:
                raise ValueError(f"{name}: field {item.name} overlaps its neighbour")
            if item.offset > position:
                fmt.append(f"{item.offset - position}x")
            fmt.append(item.struct_code)
            position = item.offset + item.length
            self._index[item.name] = index
            index += 1 if item.code == "s" else item.count
        if position > length - 1:
            raise ValueError(f"{name}: fields run into the checksum byte")
        self._struct = struct.Struct("".join(fmt))
        self.record: Any = namedtuple(  # type: ignore[misc]
            f"{name}_values", list(self._index)
        )

    @property
    def packer(self) -> struct.Struct:
        """The whole frame's ``struct``, from ``start`` to the checksum."""
        return self._struct

    def index(self, name: str) -> int:
        """Where the field's (first) raw value sits in the unpacked frame."""
        return self._index[name]

    def decoder(self, names: Sequence[str]) -> FieldDecoder:
        """A decoder returning the named values, in that order, as a tuple."""
        return FieldDecoder(
            self._struct.unpack_from, self.start, self.fields, self._index, names
        )

    def decode(self, raw: bytes) -> Any:
        """Return every field's physical value; raise on an impossible one.

        The result is a named tuple with one attribute per field. For hot
        paths, :meth:`decoder` returns only what is used, as a plain tuple.
        """
        return self.record._make(self.decoder(self.record._fields)(raw))
