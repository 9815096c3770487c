"""Loaded before the test harness's plugins (``-p tests.harness`` in pyproject).

The same tests run on the oldest Home Assistant we support and the newest our
users run; the harness (pytest-homeassistant-custom-component) is made for one
release at a time. Two things the newest release needs before the harness
loads, both harmless on the oldest:

- Home Assistant 2026.11 makes ``httpx`` an alias of ``httpx2`` when it is first
  imported, and refuses once ``httpx`` itself was imported (the harness's respx
  does that), so it is imported first.
- 2026.11 moved ``_clear_logger_overwrites`` to ``logger.helpers``, where the
  harness made for 2026.10 does not look.
"""

from __future__ import annotations

import homeassistant  # noqa: F401 - first, for its httpx alias
from homeassistant.components import logger

if not hasattr(logger, "_clear_logger_overwrites"):  # pragma: no cover - 2026.11
    from homeassistant.components.logger import helpers

    logger._clear_logger_overwrites = helpers._clear_logger_overwrites  # type: ignore[attr-defined]
