"""Start Home Assistant for development on any Python 3.13.

Home Assistant 2026.2 refuses Python below 3.13.2; it runs fine on 3.13.0, the
version some development machines have, so the version check is skipped. The
configuration folder stays on the import path: its ``custom_components`` holds
the development-only virtual proxy, next to the repository's own integration.
"""

from __future__ import annotations

import argparse
import sys

from homeassistant import __main__ as hass_main


def main() -> int:
    """Run Home Assistant with the command line it was given."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-c", "--config")
    known, _ = parser.parse_known_args()
    if known.config:
        sys.path.insert(0, known.config)
    hass_main.validate_python = lambda: None
    return hass_main.main()


if __name__ == "__main__":
    sys.exit(main())
