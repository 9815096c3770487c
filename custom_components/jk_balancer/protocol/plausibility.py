"""What any decoded measurement must satisfy, whichever transport brought it.

A frame read with the wrong layout, or damaged on the way, yields values that
cannot be: cells above 5 V, a device's own average far from its cells, a pack
voltage that is not their sum. These checks are shared by the Bluetooth frames
and the RS485 reply, so both refuse the same impossibilities.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

from .errors import ImplausibleFrameError
from .layout import FLOAT_DIGITS, Field

CELL_VOLTAGE_RANGE: Final = (0.0, 5.0)
TEMPERATURE_RANGE: Final = (-40.0, 120.0)
# The device's own figures may lag the cell values by a sample; a difference
# beyond this means the bytes are not what the layout says.
CONSISTENCY_TOLERANCE: Final = 0.25  # V


class FigureScale(NamedTuple):
    """How a layout's raw cell figures compare: their divisors and tolerance."""

    cell_divisor: float
    average_divisor: float
    delta_divisor: float

    @property
    def tolerance(self) -> float:
        """The lag allowed between the device's figures and its cells (raw)."""
        return CONSISTENCY_TOLERANCE * self.cell_divisor


def cell_decimals(cells: Field) -> int:
    """The decimals of a layout's cell voltages: their resolution in V."""
    return FLOAT_DIGITS if cells.is_float else round(math.log10(cells.divisor))


def check_figures(
    scale: FigureScale,
    cells: tuple[float, ...],
    average: float,
    delta: float,
    min_index: int | None = None,
    max_index: int | None = None,
) -> None:
    """The device's own figures lag the cells by a sample at most (raw units).

    Where it names the lowest and highest cell (from 0), they must hold about
    that.
    """
    lowest, highest = min(cells), max(cells)
    tolerance = scale.tolerance
    if abs(average - sum(cells) / len(cells)) > tolerance:
        raise _disagreeing(scale, "average_cell_voltage", average, cells)
    if abs(delta - (highest - lowest)) > tolerance:
        raise _disagreeing(scale, "delta_cell_voltage", delta, cells)
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


def check_total_voltage(volts: float, cells_total: float) -> None:
    """A measured pack voltage is about the sum of its cells (in V)."""
    if abs(volts - cells_total) > 0.1 * cells_total + 1.0:
        raise ImplausibleFrameError(
            f"total voltage {volts} V does not match the cells ({cells_total:.3f} V)",
            field="total_voltage",
            value=str(volts),
        )


def _disagreeing(
    scale: FigureScale, name: str, raw: float, cells: tuple[float, ...]
) -> ImplausibleFrameError:
    divisor = (
        scale.average_divisor if name == "average_cell_voltage" else scale.delta_divisor
    )
    reported = raw / divisor
    mean = sum(cells) / len(cells) / scale.cell_divisor
    return ImplausibleFrameError(
        f"{name} {reported:g} V disagrees with the cells (average {mean:.3f} V)",
        field=name,
        value=f"{reported:g}",
    )
