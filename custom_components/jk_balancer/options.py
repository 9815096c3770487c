"""A balancer's options as stored, checked like any input.

The options flow writes them, but what Home Assistant hands back at set-up
may have been edited by hand, restored from an old backup or written by
another version. Each option is read here once: a value that cannot be used
is replaced by its default with one warning, and set-up goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import logging
import math
from typing import Any

from homeassistant.config_entries import ConfigEntry

from .const import (
    CHEMISTRY_AUTO,
    CONF_CHEMISTRY,
    CONF_CONNECTION_MODE,
    CONF_IMBALANCE_HOLD,
    CONF_IMBALANCE_THRESHOLD,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    MAX_IMBALANCE_HOLD,
    MAX_IMBALANCE_THRESHOLD,
    MAX_UPDATE_INTERVAL,
    MIN_IMBALANCE_THRESHOLD,
    MIN_UPDATE_INTERVAL,
    ConnectionMode,
)
from .protocol import DEFAULT_IMBALANCE_HOLD, Chemistry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BalancerOptions:
    """What the owner set under Configure, each value usable."""

    update_interval: int = DEFAULT_UPDATE_INTERVAL  # s
    connection_mode: ConnectionMode = ConnectionMode.PERSISTENT
    # None: go by the cells.
    chemistry: Chemistry | None = None
    # mV; None: follow the trigger delta.
    imbalance_threshold: float | None = None
    imbalance_hold: float = DEFAULT_IMBALANCE_HOLD  # s


class EntryOptions:
    """An entry's options, checked again whenever they change."""

    def __init__(self, entry: ConfigEntry) -> None:
        """Read the options of ``entry`` (now, and after each change)."""
        self._entry = entry
        self._read: tuple[object, BalancerOptions] | None = None

    @property
    def current(self) -> BalancerOptions:
        """The options as they are now."""
        stored = self._entry.options
        if self._read is None or self._read[0] is not stored:
            self._read = (stored, balancer_options(self._entry))
        return self._read[1]


def balancer_options(entry: ConfigEntry) -> BalancerOptions:
    """``entry``'s options; what cannot be used is the default, with a warning."""
    stored = entry.options
    dropped: list[str] = []

    def read[T](key: str, parse: Callable[[Any], T], default: T) -> T:
        if stored.get(key) is None:
            return default
        try:
            return parse(stored[key])
        except ValueError:
            dropped.append(f"{key}={stored[key]!r}")
            return default

    options = BalancerOptions(
        update_interval=read(
            CONF_UPDATE_INTERVAL,
            _number(MIN_UPDATE_INTERVAL, MAX_UPDATE_INTERVAL, int),
            DEFAULT_UPDATE_INTERVAL,
        ),
        connection_mode=read(
            CONF_CONNECTION_MODE, _member(ConnectionMode), ConnectionMode.PERSISTENT
        ),
        chemistry=read(CONF_CHEMISTRY, _chemistry, None),
        imbalance_threshold=read(
            CONF_IMBALANCE_THRESHOLD,
            _number(MIN_IMBALANCE_THRESHOLD, MAX_IMBALANCE_THRESHOLD, float),
            None,
        ),
        imbalance_hold=read(
            CONF_IMBALANCE_HOLD,
            _number(0, MAX_IMBALANCE_HOLD, float),
            DEFAULT_IMBALANCE_HOLD,
        ),
    )
    if dropped:
        _LOGGER.warning(
            "%s: stored options that cannot be used, defaults taken instead: %s",
            entry.title,
            ", ".join(dropped),
        )
    return options


def _number[N: (int, float)](
    low: float, high: float, kind: type[N]
) -> Callable[[Any], N]:
    """A finite number within ``low``..``high`` (not a bool), as ``kind``."""

    def parse(value: Any) -> N:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(value)
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(value)
        return kind(value)

    return parse


def _member[E: ConnectionMode](kind: type[E]) -> Callable[[Any], E]:
    def parse(value: Any) -> E:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)

    return parse


def _chemistry(value: Any) -> Chemistry | None:
    """A chemistry, or None for automatic."""
    if value == CHEMISTRY_AUTO:
        return None
    if not isinstance(value, str):
        raise ValueError(value)
    return Chemistry(value)
