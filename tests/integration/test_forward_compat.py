"""Everything the integration imports from Home Assistant exists in 2026.11.

Tests run on Home Assistant 2026.2; users run up to 2026.11, which needs
Python 3.14 and cannot be installed here. So its wheel (downloaded by
scripts/setup into .venv/forward) is read, not imported: every
``from homeassistant.x import y`` of ours must find ``y`` defined in ``x``,
and every ``vol.Name`` we use must be one the voluptuous shim of probatio
(which 2026.11 validates with) provides.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
import re
import zipfile

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORWARD = ROOT / ".venv" / "forward"
OURS = [
    *sorted((ROOT / "custom_components" / "jk_balancer").rglob("*.py")),
    *sorted((ROOT / "dev" / "config" / "custom_components").rglob("*.py")),
]


def wheel(name: str) -> zipfile.ZipFile:
    found = sorted(FORWARD.glob(f"{name}-*.whl"))
    if not found:
        pytest.skip(f"no {name} wheel in {FORWARD}: run scripts/setup")
    return zipfile.ZipFile(found[-1])


@cache
def home_assistant() -> zipfile.ZipFile:
    return wheel("homeassistant")


def module_source(module: str) -> str | None:
    """Source of ``homeassistant.x.y`` in the wheel, None if there is none."""
    base = module.replace(".", "/")
    names = set(home_assistant().namelist())
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in names:
            return home_assistant().read(candidate).decode()
    return None


def is_package(module: str) -> bool:
    return f"{module.replace('.', '/')}/__init__.py" in home_assistant().namelist()


def defines(source: str, name: str) -> bool:
    """Whether a module defines or imports ``name`` at its top level.

    Parsed when this Python can; 3.14-only syntax falls back to patterns.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A definition, an assignment, or a line of a parenthesized import.
        pattern = rf"^(async def|def|class|type) {name}\b|^{name}\s*[:=]|^\s+{name},?$"
        return re.search(pattern, source, re.MULTILINE) is not None
    for node in tree.body:
        targets: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign | ast.TypeAlias) and isinstance(
            node.target if isinstance(node, ast.AnnAssign) else node.name, ast.Name
        ):
            target = node.target if isinstance(node, ast.AnnAssign) else node.name
            targets = [target.id]  # type: ignore[union-attr]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            targets = [alias.asname or alias.name for alias in node.names]
        if name in targets:
            return True
    return False


def imported_names() -> Iterator[tuple[str, str, str]]:
    """(our file, module, name) for every import from homeassistant."""
    for path in OURS:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "homeassistant"
            ):
                for alias in node.names:
                    yield path.name, node.module or "", alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("homeassistant"):
                        yield path.name, alias.name, ""


def test_every_home_assistant_import_exists_in_2026_11() -> None:
    missing = []
    for where, module, name in imported_names():
        if name and is_package(module) and is_package(f"{module}.{name}"):
            continue  # a sub-package: from homeassistant.components import x
        if name and module_source(f"{module}.{name}") is not None:
            continue  # a submodule
        source = module_source(module)
        if source is None or (name and not defines(source, name)):
            missing.append(f"{where}: from {module} import {name}")
    assert missing == []


def test_every_voluptuous_name_exists_behind_probatio() -> None:
    with wheel("probatio") as probatio:
        surface = probatio.read("probatio/_vol_shim/_surface.py").decode()
    top = ast.literal_eval(
        next(
            node.value
            for node in ast.parse(surface).body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "TOP" for t in node.targets)
        )
    )
    used = {
        match
        for path in OURS
        for match in re.findall(r"\bvol\.([A-Za-z_]+)", path.read_text())
    }
    assert used
    assert used <= set(top)


def test_the_checker_finds_what_is_missing() -> None:
    """The check itself: a name 2026.11 does not have is reported."""
    source = module_source("homeassistant.const")
    assert source is not None
    assert defines(source, "Platform")
    assert not defines(source, "NoSuchConstantInHomeAssistant")
