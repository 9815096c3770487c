"""Exit statuses of ``jk-balancer``."""

from __future__ import annotations

from typing import Final

EXIT_DEVICE: Final = 1  # device or file trouble
EXIT_VALUE: Final = 2  # a rejected value or bad usage
EXIT_PASSWORD: Final = 3  # wrong password
