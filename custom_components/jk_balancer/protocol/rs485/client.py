"""One balancer at an address on an RS485 line, as a :class:`BalancerClient`.

It reads the 74-byte reply at every :meth:`read` and writes a setting with the
same checks and read-back confirmation as over Bluetooth. The port is shared
with the other balancers on the line and belongs to whoever opened it: closing
the client stops its own requests, not the port.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..client import WRITE_TIMEOUT, BalancerClient
from ..errors import FrameError
from ..model import Snapshot
from ..writes import PreparedWrite
from .codec import decode_rs485_reply, unit_name
from .port import WRITE_SETTLE, Rs485Port


class Rs485Client(BalancerClient):
    """The balancer at ``address`` on ``port``."""

    # The device may answer a read or two with the old value after a write.
    confirm_reads: ClassVar[int] = 3
    confirm_pause: ClassVar[float] = WRITE_SETTLE

    def __init__(
        self, port: Rs485Port, address: int, *, write_timeout: float = WRITE_TIMEOUT
    ) -> None:
        """Talk to the balancer at ``address``; nothing is sent yet."""
        super().__init__(write_timeout=write_timeout)
        self.port = port
        self.address = address
        self._snapshot: Snapshot | None = None
        self.last_reply: bytes | None = None
        self.rejected_replies = 0

    @property
    def name(self) -> str:
        """The port and the address, as errors name the balancer."""
        return unit_name(self.port.port, self.address)

    @property
    def snapshot(self) -> Snapshot | None:
        """The newest reply, decoded."""
        return self._snapshot

    def diagnostics(self) -> dict[str, Any]:
        """The port, the address, the line's counters and the last reply."""
        port = self.port
        return {
            "port": port.port,
            "address": self.address,
            "open": port.is_open,
            "rejected_replies": self.rejected_replies,
            "corrupt_replies_on_bus": port.corrupt_replies,
            "timeouts_on_bus": port.timeouts,
            "last_reply": None if self.last_reply is None else self.last_reply.hex(" "),
        }

    async def _read(self) -> Snapshot:
        """Read everything; FrameError when the reply cannot be trusted."""
        raw = await self.port.read(self.address)
        self.last_reply = raw
        try:
            snapshot = decode_rs485_reply(raw, self.address)
        except FrameError as err:
            self.rejected_replies += 1
            err.placeholders["name"] = self.name
            raise
        self._snapshot = snapshot
        return snapshot

    async def _current_snapshot(self) -> Snapshot:
        # A write is checked against the unit as it is now, and a unit that
        # stopped answering is sent nothing: one read costs 80 ms on the wire.
        return await self._read()

    async def _send_write(self, write: PreparedWrite) -> None:
        await self.port.write(self.address, write.register.address, write.payload)

    async def _read_back(self, write: PreparedWrite) -> Snapshot:
        return await self._read()

    async def _close(self) -> None:
        """Nothing to release: the port is its opener's."""
