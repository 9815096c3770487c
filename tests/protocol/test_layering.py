"""The protocol layer's boundary: one public surface for the integration.

The integration uses the package as a whole. The virtual balancer and the
tools use it too, and take the device's side of the wire, which does not
ship, from their own modules (``jk_emulator.device_codec``); where they need
more of the protocol layer than the integration does, they import it from
its modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from custom_components.jk_balancer import protocol

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "custom_components.jk_balancer.protocol"
# Everything that builds on the protocol layer (tests may look inside it).
USERS = [
    path
    for folder in ("custom_components/jk_balancer", "jk_emulator", "jk_tools", "dev")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if "protocol" not in path.relative_to(ROOT).parts[2:3]
]


def protocol_imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import of the protocol layer in ``path``."""
    in_integration = path.parent == ROOT / "custom_components" / "jk_balancer"
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        module = node.module or ""
        if node.level == 1 and in_integration:
            module = f"custom_components.jk_balancer.{module}"
        if module.startswith(PACKAGE):
            yield module, [alias.name for alias in node.names]


def test_the_integration_imports_the_package_not_its_modules() -> None:
    integration = ROOT / "custom_components" / "jk_balancer"
    reaching_in = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in USERS
        if path.is_relative_to(integration)
        for module, _ in protocol_imports(path)
        if module != PACKAGE
    ]
    assert reaching_in == []


def test_the_package_exports_exactly_what_its_users_use() -> None:
    used = {
        name
        for path in USERS
        for module, names in protocol_imports(path)
        if module == PACKAGE
        for name in names
    }
    assert used == set(protocol.__all__)
