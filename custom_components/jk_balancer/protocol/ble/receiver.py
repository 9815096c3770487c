"""What a Bluetooth link receives: frames out of notifications, and who waits for them.

The device answers requests and streams cell-info frames through one
characteristic. :class:`FrameReceiver` reassembles the notifications, checks
every frame with the layout decoder, keeps the newest of each kind, hands a
frame to whoever waits for its type and each new snapshot to the listeners,
and tells the gap listeners of every frame that was torn or refused: what it
carried is not known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging

from ..const import FrameType, Protocol
from ..errors import (
    DeviceTimeoutError,
    FrameError,
    LayoutMismatchError,
    UnsupportedDeviceError,
)
from ..model import DeviceInfo, Settings, Snapshot
from .cell_info import CheckedCellInfo
from .decode import FrameDecoder
from .frame import FrameAssembler

_LOGGER = logging.getLogger(__name__)

SnapshotListener = Callable[[Snapshot], None]
# What the receiver hands the callers waiting for a frame.
type Checked = DeviceInfo | Settings | CheckedCellInfo


class FrameReceiver:
    """The frames of one device, as its notifications bring them."""

    def __init__(self, name: Callable[[], str], protocol: Protocol | None) -> None:
        """Receive for the device ``name()`` names; ``protocol`` forces a layout."""
        self._name = name
        self.assembler = FrameAssembler()
        self.decoder = FrameDecoder(protocol)
        self._chosen = protocol
        self._settings: Settings | None = None
        # Every cell-info frame is checked; it is converted when it is read.
        self._checked_cell_info: CheckedCellInfo | None = None
        self._snapshot: Snapshot | None = None
        self.cell_info_at: float | None = None
        self._waiters: dict[int, list[asyncio.Future[Checked]]] = {}
        self.listeners: list[SnapshotListener] = []
        self.gap_listeners: list[Callable[[], None]] = []
        # Why the latest frame of each type was dropped (cleared when one decodes).
        self._rejections: dict[FrameType, FrameError] = {}
        self.rejected_frames = 0
        self.last_frames: dict[FrameType, bytes] = {}

    @property
    def snapshot(self) -> Snapshot | None:
        """Newest complete state, or None before all three frames arrived."""
        if self._snapshot is not None:
            return self._snapshot
        device_info, protocol = self.decoder.device_info, self.decoder.protocol
        checked, settings = self._checked_cell_info, self._settings
        if device_info is None or protocol is None or settings is None:
            return None
        if checked is None:
            return None
        self._snapshot = Snapshot(protocol, device_info, settings, checked.cell_info())
        return self._snapshot

    @property
    def has_cell_info(self) -> bool:
        """Return True once a cell-info frame of this link arrived."""
        return self._checked_cell_info is not None

    def start(self) -> None:
        """A new link: what the last one brought no longer counts."""
        self.assembler.reset()
        self._rejections.clear()
        self._settings = self._checked_cell_info = self._snapshot = None

    def expect(self, answer: FrameType) -> asyncio.Future[Checked]:
        """A future for the next frame of type ``answer``."""
        future: asyncio.Future[Checked] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(answer, []).append(future)
        return future

    async def wait(
        self, future: asyncio.Future[Checked], answer: FrameType, within: float
    ) -> Checked:
        """Await a device's answer; its absence becomes a DeviceTimeoutError.

        UnsupportedDeviceError instead when frames of that type came but fit
        no layout.
        """
        try:
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            if (rejection := self._rejections.get(answer)) is not None:
                raise UnsupportedDeviceError(
                    f"its {answer.key} frames fit no known layout: {rejection}",
                    name=self._name(),
                ) from rejection
            raise DeviceTimeoutError(
                f"no {answer.key} frame within {within:g} s",
                name=self._name(),
                frame=answer.key,
            ) from None
        finally:
            waiters = self._waiters.get(answer, [])
            if future in waiters:
                waiters.remove(future)

    def _mismatch(
        self, frame_type: FrameType, chosen: Protocol, fits: Protocol
    ) -> LayoutMismatchError:
        return LayoutMismatchError(
            f"its {frame_type.key} frames fit {fits.value}, not {chosen.value} "
            "as chosen",
            name=self._name(),
            layout=chosen.value,
            fits=fits.value,
        )

    def _fail(self, frame_type: int, error: Exception) -> None:
        for future in self._waiters.pop(frame_type, []):
            if not future.done():
                future.set_exception(error)

    def fail_waiters(self, error: Exception) -> None:
        """Everyone waiting gets ``error`` (the link is gone)."""
        for frame_type in list(self._waiters):
            self._fail(frame_type, error)

    def on_notification(self, _sender: object, data: bytearray) -> None:
        """Take one notification of the device."""
        torn = self.assembler.stats.bad_frames
        frames = self.assembler.feed(data)
        if self.assembler.stats.bad_frames != torn:
            self._gap()
        for frame in frames:
            try:
                frame_type = FrameType(frame.frame_type)
                self.last_frames[frame_type] = frame.raw
                decoded = self.decoder.check(frame)
            except ValueError:
                self.rejected_frames += 1
                self._gap()
                _LOGGER.debug(
                    "%s: unknown frame type %#04x", self._name(), frame.frame_type
                )
                continue
            except FrameError as err:
                self.rejected_frames += 1
                self._gap()
                self._rejections[frame_type] = err
                if self._chosen is not None and (
                    fits := self.decoder.fitting_protocol(frame)
                ):
                    # No frame of the chosen layout is coming: say so at once.
                    self._fail(
                        frame_type, self._mismatch(frame_type, self._chosen, fits)
                    )
                _LOGGER.debug(
                    "%s: %s frame dropped: %s", self._name(), frame_type.key, err
                )
                continue
            self._rejections.pop(frame_type, None)
            self._accept(frame_type, decoded)

    def _gap(self) -> None:
        for listener in list(self.gap_listeners):
            try:
                listener()
            except Exception:
                _LOGGER.exception("%s: gap listener failed", self._name())

    def _accept(self, frame_type: FrameType, decoded: Checked) -> None:
        self._snapshot = None
        if isinstance(decoded, Settings):
            self._settings = decoded
        elif isinstance(decoded, CheckedCellInfo):
            self._checked_cell_info = decoded
            # The event loop's clock, which the timeouts and the coordinator use.
            self.cell_info_at = asyncio.get_running_loop().time()
        for future in self._waiters.pop(frame_type, []):
            if not future.done():
                future.set_result(decoded)
        if (
            isinstance(decoded, CheckedCellInfo)
            and self.listeners
            and (snapshot := self.snapshot) is not None
        ):
            for listener in list(self.listeners):
                try:
                    listener(snapshot)
                except Exception:
                    _LOGGER.exception("%s: snapshot listener failed", self._name())
