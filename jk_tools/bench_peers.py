"""The peers benchmarks compare against, installed by ``scripts/bench`` into .bench/.

requirements/bench.txt lists them; they are installed without their
dependencies beside the environment, never into it, and imported from there.
"""

from __future__ import annotations

import importlib
from pathlib import Path
import sys
from types import ModuleType
from typing import Final

PEERS: Final = Path(__file__).resolve().parents[1] / ".bench" / "peers"


def import_peer(module: str) -> ModuleType | None:
    """Import ``module`` from the peers' folder; None when it is not installed."""
    if str(PEERS) not in sys.path:
        sys.path.insert(0, str(PEERS))
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
