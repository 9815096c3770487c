"""One field of a frame layout: where it sits, its type, scale and valid range.

Fields with a ``valid`` range reject values outside it: a value that is
physically impossible means the layout is wrong or the frame is corrupt, and
must never reach a user.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import struct

from ..errors import ImplausibleFrameError

# float32 carries about seven significant digits; more would only show noise.
FLOAT_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Field:
    """One value (or a run of ``count`` equal values) at a byte offset.

    ``code`` is a ``struct`` code (``B H h I i f``) or ``s`` for a NUL-terminated
    text of ``size`` bytes. The physical value is ``raw / divisor``. A raw value
    equal to ``absent`` means "not fitted" and decodes to ``None``. ``swapped``
    marks a value stored in the other byte order than the rest of the frame. A
    run with ``length_from`` holds only as many values as that (bit mask) field
    has bits, e.g. the connected cells.
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
    swapped: bool = False
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

    @property
    def is_float(self) -> bool:
        """Return True for IEEE-754 values (JK04)."""
        return self.code == "f"

    def raw_bounds(self) -> tuple[float, float] | None:
        """The valid range in raw units, where the field's type can leave it.

        None when it cannot: an unsigned 16-bit resistance in mOhm never
        exceeds 100 Ohm, so checking it would only cost time. A bound the type
        cannot cross becomes an infinity.
        """
        if self.valid is None:
            return None
        low, high = (bound * self.divisor for bound in self.valid)
        if self.is_float:
            return low, high
        # Whole raw bounds: comparing int with int is the fast path.
        low, high = math.ceil(low), math.floor(high)
        bits = 8 * struct.calcsize(self.code)
        signed = self.code.islower()
        smallest = -(1 << (bits - 1)) if signed else 0
        largest = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        if smallest >= low and largest <= high:
            return None
        return (low if smallest < low else -math.inf), (
            high if largest > high else math.inf
        )

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
