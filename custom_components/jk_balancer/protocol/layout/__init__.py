"""Declarative frame layouts: fields, their compiled layout and its decoders.

Nothing here knows a transport: the Bluetooth frames (``..ble.layouts``) and
the RS485 reply (``..rs485.codec``) are tables of these fields.
"""

from .decoder import FieldDecoder
from .field import FLOAT_DIGITS, Field
from .layout import Layout

__all__ = ["FLOAT_DIGITS", "Field", "FieldDecoder", "Layout"]
