"""What every transport's client offers: read, a confirmed write, diagnostics, close.

A balancer is reached over Bluetooth or on an RS485 bus; either way its owner
reads a :class:`Snapshot`, writes a setting and learns what the device holds
afterwards, downloads the diagnostics, and closes the client when it is done.
The write is the same sequence on every transport, written once here: check
the value against what the device said last and, before sending, against
the device as it is now (a unit that stopped answering is sent nothing), send
it, read the settings back until the device holds it (or say what it holds
instead), all within a limit.
A transport says only how bytes move (:meth:`_send_write`, :meth:`_read_back`).

A closed client stays closed: whatever is still in flight fails, and nothing
opens a link or a port for it again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
import logging
from typing import Any, ClassVar, Final

from .chemistry import Chemistry, PackChemistry
from .errors import DeviceTimeoutError, LinkClosedError
from .model import Settings, Snapshot
from .writes import (
    PreparedWrite,
    held_value,
    is_confirmed,
    not_confirmed,
    validate_write,
)

_LOGGER = logging.getLogger(__name__)

# A write, its confirmation included, fails after this long.
WRITE_TIMEOUT: Final = 15.0  # s


class BalancerClient(ABC):
    """One balancer, whichever way it is reached."""

    # How often the settings are read back before a write counts as not
    # taken, and the pause before each further read (the device may need it).
    confirm_reads: ClassVar[int] = 2
    confirm_pause: ClassVar[float] = 0.2

    def __init__(self, *, write_timeout: float = WRITE_TIMEOUT) -> None:
        """Start open, with no write under way."""
        self._write_timeout = write_timeout
        self._write_lock = asyncio.Lock()
        self._closed = False

    @property
    @abstractmethod
    def name(self) -> str:
        """How errors name the balancer."""

    @property
    @abstractmethod
    def snapshot(self) -> Snapshot | None:
        """The newest complete state, or None before the first read."""

    @property
    def closed(self) -> bool:
        """Return True once :meth:`close` was called."""
        return self._closed

    async def read(self) -> Snapshot:
        """A current snapshot of the balancer (JKError when it cannot be had)."""
        self._check_open()
        return await self._read()

    async def write_setting(
        self,
        key: str,
        value: float | bool,
        *,
        chemistry: Chemistry | PackChemistry | None = None,
        fewer_cells_confirmed: bool = False,
    ) -> Settings:
        """Write a setting and return the settings the device holds afterwards.

        The value is checked against the device's range, and against harm to
        the pack as it is now, before anything is sent (SettingOutOfRangeError,
        UnsafeSettingError; see ``validate_write``). Then the settings are read
        back; WriteNotConfirmedError when the device holds another value,
        DeviceTimeoutError when all this takes longer than the write timeout.
        """
        async with self._write_lock:
            self._check_open()
            try:
                async with asyncio.timeout(self._write_timeout):
                    return await self._write(
                        key, value, chemistry, fewer_cells_confirmed
                    )
            except TimeoutError:
                raise DeviceTimeoutError(
                    f"the write was not confirmed within {self._write_timeout:g} s",
                    name=self.name,
                    frame="settings",
                ) from None

    async def _write(
        self,
        key: str,
        value: float | bool,
        chemistry: Chemistry | PackChemistry | None,
        fewer_cells_confirmed: bool,
    ) -> Settings:
        def check(snapshot: Snapshot) -> PreparedWrite:
            return validate_write(
                snapshot,
                key,
                value,
                chemistry=chemistry,
                fewer_cells_confirmed=fewer_cells_confirmed,
            )

        if (known := self.snapshot) is not None:
            # What the device would refuse, or should not take, is refused
            # before anything goes on the wire.
            check(known)
        write = check(await self._current_snapshot())
        _LOGGER.debug("%s: writing %s = %s", self.name, key, write.value)
        await self._send_write(write)
        held: float | None = None
        for attempt in range(self.confirm_reads):
            if attempt:
                await asyncio.sleep(self.confirm_pause)
            fresh = await self._read_back(write)
            held = held_value(write.spec, fresh.settings, fresh.cell_info)
            if is_confirmed(write, held):
                return fresh.settings
        raise not_confirmed(write, held, self.name)

    async def close(self) -> None:
        """Close for good: in-flight requests fail, nothing is opened again."""
        if self._closed:
            return
        self._closed = True
        await self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise LinkClosedError("the client was closed", name=self.name)

    @abstractmethod
    def diagnostics(self) -> dict[str, Any]:
        """The link's state, its counters and the last raw data received."""

    @abstractmethod
    async def _read(self) -> Snapshot:
        """A current snapshot, reaching the device as the transport does."""

    @abstractmethod
    async def _current_snapshot(self) -> Snapshot:
        """The state a write is checked against (the device must be reachable)."""

    @abstractmethod
    async def _send_write(self, write: PreparedWrite) -> None:
        """Put a checked write on the wire."""

    @abstractmethod
    async def _read_back(self, write: PreparedWrite) -> Snapshot:
        """Read what the device holds now, as a write of ``write`` shows it."""

    @abstractmethod
    async def _close(self) -> None:
        """Release the link; in-flight requests fail."""
