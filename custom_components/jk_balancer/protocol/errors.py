"""Errors of the protocol layer.

Every error carries a stable ``translation_key`` and ``placeholders`` so a user
interface can show it in the user's language; messages never contain the device
passcode. An error about one device has its name in the ``name`` placeholder and
a ``reason`` without it, so a translated message names the device once.
"""

from __future__ import annotations


class JKError(Exception):
    """Base class of every error raised by the protocol layer."""

    translation_key = "device_error"

    def __init__(self, reason: str, **placeholders: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.placeholders: dict[str, str] = placeholders

    def __str__(self) -> str:
        """The reason, after the device's name when there is one."""
        if (name := self.placeholders.get("name")) is not None:
            return f"{name}: {self.reason}"
        return self.reason


class FrameError(JKError):
    """A frame that cannot be trusted: unknown type or corrupt content."""

    translation_key = "bad_frame"


class ImplausibleFrameError(FrameError):
    """Decoded values are physically impossible: wrong layout or corrupt frame."""

    translation_key = "implausible_frame"


class ProtocolDetectionError(FrameError):
    """No known frame layout explains what the device sends."""

    translation_key = "unsupported_device"


class UnsupportedDeviceError(JKError):
    """The device is not a JK balancer this library can talk to."""

    translation_key = "unsupported_device"


class LayoutMismatchError(UnsupportedDeviceError):
    """The frames do not fit the layout the user chose, but another one.

    Placeholders: ``layout`` (the one chosen) and ``fits`` (the one they fit).
    """

    translation_key = "layout_mismatch"


class SettingError(JKError):
    """A setting cannot be written."""

    translation_key = "setting_error"


class UnknownSettingError(SettingError):
    """The name does not denote a writable setting."""

    translation_key = "unknown_setting"


class SettingNotSupportedError(SettingError):
    """The device's protocol has no register for this setting."""

    translation_key = "setting_not_supported"


class SettingOutOfRangeError(SettingError):
    """The value lies outside what the device accepts; nothing was sent."""

    translation_key = "value_out_of_range"


class SettingBetweenStepsError(SettingOutOfRangeError):
    """The value falls between the setting's steps; the nearest ones are named."""

    translation_key = "value_between_steps"


class UnsafeSettingError(SettingError):
    """The value would harm the pack or the balancer as it is now; nothing was sent.

    Each kind of harm has its own ``translation_key``, so the user is told the
    consequence.
    """

    def __init__(self, translation_key: str, reason: str, **placeholders: str) -> None:
        super().__init__(reason, **placeholders)
        self.translation_key = translation_key


class WriteNotConfirmedError(SettingError):
    """The device did not take the value: its read-back differs."""

    translation_key = "write_not_confirmed"


class DeviceConnectionError(JKError):
    """The device cannot be reached or the link was lost."""

    translation_key = "cannot_connect"


class DeviceTimeoutError(DeviceConnectionError):
    """The device did not answer in time."""

    translation_key = "timeout"


class NotConnectedError(DeviceConnectionError):
    """An operation needs a connection that is not there (any more)."""

    translation_key = "not_connected"


class LinkClosedError(NotConnectedError):
    """The client was closed (its owner is gone): it opens nothing any more."""

    translation_key = "link_closed"


class PortError(DeviceConnectionError):
    """A serial port cannot be opened or used (unplugged, in use, no access)."""

    translation_key = "port_unavailable"
