"""What differs between the Home Assistant releases we support (2026.2 to 2026.11).

From 2026.11 Home Assistant validates forms and websocket commands with
``probatio`` (which keeps voluptuous's names) and types a repair flow's steps
as ``RepairsFlowResult``; before, it used voluptuous and ``FlowResult``.
Everything that depends on the release is decided here, once.

At run time the release decides (whether it brought probatio). Type checking
runs against the oldest release we support, on Python 3.13, and the newest,
which needs Python 3.14, so there the Python version tells which it is.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    if sys.version_info >= (3, 14):
        from homeassistant.components.repairs import RepairsFlowResult
        import probatio as vol
    else:
        from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult
        import voluptuous as vol
elif importlib.util.find_spec("probatio") is not None:
    from homeassistant.components.repairs import RepairsFlowResult
    import probatio as vol
else:
    from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult
    import voluptuous as vol

__all__ = ["RepairsFlowResult", "vol"]
