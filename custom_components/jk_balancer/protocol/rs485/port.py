"""An RS485 line, over pyserial-asyncio-fast: one request at a time on one port.

:class:`Rs485Port` owns one serial port (or a ``socket://host:port`` RS485
gateway) and lets one request at a time onto the wire, so balancers polled by
different callers never interleave. A reply is picked out of whatever the line
carries (another master's requests, replies to them, noise) by its header,
address and checksum.

Every wait has a limit: opening the port (a gateway's TCP connect may hang for
minutes), each reply, and closing. A port that fails is reopened by the next
request; a port that was closed stays closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Final

import serial
import serial_asyncio_fast

from ..errors import DeviceTimeoutError, LinkClosedError, PortError
from .codec import (
    BAUD_RATE,
    READ_ALL,
    REPLY_HEADER,
    REPLY_LENGTH,
    encode_rs485_request,
    rs485_reply_problem,
    unit_name,
)

_LOGGER = logging.getLogger(__name__)

# A reply takes 77 ms at 9600 baud; USB adapters and the device add to that.
DEFAULT_REPLY_TIMEOUT: Final = 0.5
# A local port opens at once; a gateway's TCP connect answers within seconds
# (or hangs for minutes).
OPEN_TIMEOUT: Final = 5.0  # s
# After a write the device needs a moment before it answers a read.
WRITE_SETTLE: Final = 0.2
# How long closing the port may take.
CLOSE_TIMEOUT: Final = 2.0
# Bytes kept while looking for a reply (a chattering bus must not grow them).
_BUFFER_LIMIT: Final = 4 * REPLY_LENGTH


class Rs485Port:
    """One RS485 line: a serial port, one request at a time."""

    def __init__(
        self,
        port: str,
        *,
        baud_rate: int = BAUD_RATE,
        reply_timeout: float = DEFAULT_REPLY_TIMEOUT,
        open_timeout: float | None = None,
    ) -> None:
        """Prepare the line; the port opens with the first request."""
        self.port = port
        self.baud_rate = baud_rate
        self.reply_timeout = reply_timeout
        self.open_timeout = OPEN_TIMEOUT if open_timeout is None else open_timeout
        self._transport: asyncio.Transport | None = None
        # The receiver of the open port: a closed one's last calls are ignored.
        self._receiver: _Receiver | None = None
        self._buffer = bytearray()
        self._wanted: tuple[bytes, asyncio.Future[bytes]] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        # What the line carried that was not the reply looked for.
        self.corrupt_replies = 0
        self.timeouts = 0

    @property
    def is_open(self) -> bool:
        """Return True while the port is open."""
        return self._transport is not None and not self._transport.is_closing()

    async def read(
        self, address: int, *, attempts: int = 2, reply_timeout: float | None = None
    ) -> bytes:
        """Ask the balancer at ``address`` for everything; return its reply.

        A reply lost to a collision is asked for again (``attempts`` in all),
        each waited for ``reply_timeout`` (default: the port's reply timeout).
        DeviceTimeoutError when none comes, PortError when the port fails.
        """
        for attempt in range(1, attempts + 1):
            try:
                return await self._transact(
                    address, READ_ALL, reply_timeout or self.reply_timeout
                )
            except DeviceTimeoutError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(self, address: int, command: int, payload: bytes) -> None:
        """Send a write; the device's answer, if any, is not needed."""
        async with self._lock:
            await self._send(address, encode_rs485_request(address, command, payload))
            # Whatever follows belongs to this write; the next request clears it.
            await asyncio.sleep(WRITE_SETTLE)

    async def close(self) -> None:
        """Close for good and wait until the port is; a waiting request fails."""
        self._closed = True
        await self._drop(LinkClosedError("the port was closed", name=self.port))

    async def _drop(self, error: Exception) -> None:
        """Close the port (the next request opens it again unless closed)."""
        transport, self._transport = self._transport, None
        receiver, self._receiver = self._receiver, None
        self._fail(error)
        if transport is None or receiver is None:
            return
        transport.close()
        # The transport closes the port on a later turn of the event loop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await receiver.closed

    async def _transact(
        self, address: int, command: int, reply_timeout: float
    ) -> bytes:
        async with self._lock:
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._buffer.clear()
            self._wanted = (REPLY_HEADER + bytes((address, command)), future)
            try:
                await self._send(address, encode_rs485_request(address, command))
                async with asyncio.timeout(reply_timeout):
                    return await future
            except TimeoutError:
                self.timeouts += 1
                raise DeviceTimeoutError(
                    f"no reply within {reply_timeout:g} s",
                    name=unit_name(self.port, address),
                    frame="reply",
                ) from None
            finally:
                self._wanted = None

    async def _send(self, address: int, request: bytes) -> None:
        if self._closed:
            raise LinkClosedError(
                "the port was closed", name=unit_name(self.port, address)
            )
        if not self.is_open:
            # A port closing under us is done with: what it reports is not news.
            self._transport = self._receiver = None
            await self._open()
        assert self._transport is not None
        try:
            self._transport.write(request)
        except (OSError, serial.SerialException) as err:
            failure = PortError(
                f"cannot write to {self.port}: {err}", port=self.port, error=str(err)
            )
            await self._drop(failure)
            raise failure from err

    async def _open(self) -> None:
        receiver = _Receiver(self)
        try:
            async with asyncio.timeout(self.open_timeout):
                transport, _ = await serial_asyncio_fast.create_serial_connection(
                    asyncio.get_running_loop(),
                    lambda: receiver,
                    self.port,
                    baudrate=self.baud_rate,
                )
        except TimeoutError:
            cause = f"no answer within {self.open_timeout:g} s"
            raise PortError(
                f"cannot open {self.port}: {cause}", port=self.port, error=cause
            ) from None
        except (OSError, ValueError, serial.SerialException) as err:
            # pyserial's message repeats the port; its errno says it plainly.
            errno = getattr(err, "errno", None)
            cause = os.strerror(errno) if isinstance(errno, int) else str(err)
            raise PortError(
                f"cannot open {self.port}: {cause}", port=self.port, error=cause
            ) from err
        if self._closed:  # closed while it opened
            transport.close()
            raise LinkClosedError("the port was closed", name=self.port)
        _LOGGER.debug("%s: open at %s baud", self.port, self.baud_rate)
        self._transport, self._receiver = transport, receiver

    def _received(self, receiver: _Receiver, data: bytes) -> None:
        if receiver is not self._receiver:
            return
        self._buffer += data
        if self._wanted is None:
            del self._buffer[:-_BUFFER_LIMIT]
            return
        header, future = self._wanted
        while (start := self._buffer.find(header)) >= 0:
            if len(self._buffer) - start < REPLY_LENGTH:
                del self._buffer[:start]
                return
            candidate = bytes(self._buffer[start : start + REPLY_LENGTH])
            if rs485_reply_problem(candidate) is None:
                del self._buffer[: start + REPLY_LENGTH]
                if not future.done():
                    future.set_result(candidate)
                return
            # A header inside garbage, or a reply hit by a collision.
            self.corrupt_replies += 1
            del self._buffer[: start + 1]
        # Keep what may be the start of a header.
        del self._buffer[: max(len(self._buffer) - len(header) + 1, 0)]

    def _lost(self, receiver: _Receiver, err: Exception | None) -> None:
        if receiver is not self._receiver:
            return
        _LOGGER.debug("%s: port lost: %s", self.port, err)
        self._transport = self._receiver = None
        self._fail(
            PortError(
                f"{self.port} went away: {err or 'closed'}",
                port=self.port,
                error=str(err or "closed"),
            )
        )

    def _fail(self, error: Exception) -> None:
        if self._wanted is not None and not self._wanted[1].done():
            self._wanted[1].set_exception(error)


class _Receiver(asyncio.Protocol):
    """Hands the bytes of the line to the port."""

    def __init__(self, port: Rs485Port) -> None:
        self._port = port
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._port._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        self._port._lost(self, exc)
