"""How the code is laid out: no import circles, modules of one idea, one definition.

These are rules of the codebase that a reader relies on: a module can be read
without the ones that import it, every shipped module says what it holds,
and what a setting accepts is said once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import importlib.metadata
from pathlib import Path
import re
import sys
import tomllib

from custom_components.jk_balancer.protocol import SETTING_SPECS, SETTINGS_LAYOUTS
from custom_components.jk_balancer.protocol.rs485.codec import REPLY

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("custom_components/jk_balancer", "jk_emulator", "jk_tools")
SHIPPED = ROOT / "custom_components" / "jk_balancer"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the packages, by its dotted name."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project's modules ``name`` imports, ``TYPE_CHECKING`` ones too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = (
                    package.rsplit(".", node.level - 1)[0]
                    if node.level > 1
                    else package
                )
                base = f"{parent}.{base}" if base else parent
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (target for target in targets if target in known)


def test_no_module_imports_itself_through_others() -> None:
    found = modules()
    graph = {
        name: {other for other in imported(name, path, set(found)) if other != name}
        for name, path in found.items()
    }
    # A package's __init__ gathers its modules; importing a module of a package
    # is not importing the package, so edges into a package are left out.
    packages = {name for name, path in found.items() if path.name == "__init__.py"}
    graph = {name: edges - packages for name, edges in graph.items()}
    circles = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                circles.append(" -> ".join([*trail[trail.index(other) :], other]))
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_every_shipped_module_says_in_developers_md_what_it_holds() -> None:
    """Modules are drawn by concept, not cut to a length: each is listed with
    its concept, so a new one comes with its line and a review can read them."""
    text = (ROOT / "DEVELOPERS.md").read_text()
    section = text.split("## What each shipped module holds", 1)[1].split("\n## ")[0]
    listed = re.findall(r"^\| `([^`]+\.py)` \| \S", section, flags=re.MULTILINE)
    shipped = sorted(str(p.relative_to(SHIPPED)) for p in SHIPPED.rglob("*.py"))
    assert sorted(listed) == shipped


# What Home Assistant calls by name: used though nothing shipped names it.
ENTRY_POINTS = frozenset(
    {
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
        "async_migrate_entry",
        "async_remove_entry",
        "async_remove_config_entry_device",
        "async_get_config_entry_diagnostics",
        "async_create_fix_flow",
        "JKBalancerConfigFlow",
        "CONFIG_SCHEMA",
        "PARALLEL_UPDATES",
    }
)


def shipped_uses() -> dict[str, set[Path]]:
    """Every name shipped code reads, imports or reaches as an attribute, and
    where (the protocol package's re-exports do not count as a use)."""
    uses: dict[str, set[Path]] = {}
    for path in SHIPPED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                names = [node.id]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.ImportFrom) and path.name != "__init__.py":
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                uses.setdefault(name, set()).add(path)
    return uses


def test_the_shipped_package_holds_only_what_home_assistant_runs() -> None:
    """Encoders, command parsers and what only the emulator or the tools use
    live with them: every name a shipped module defines, and every name the
    protocol package exports, is used by shipped code."""
    uses = shipped_uses()
    unused = []
    for path in sorted(SHIPPED.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            unused += [
                f"{path.relative_to(SHIPPED)}: {name}"
                for name in names
                if not name.startswith("__")
                and name not in ENTRY_POINTS
                and name not in uses
            ]
    for package in SHIPPED.joinpath("protocol").rglob("__init__.py"):
        tree = ast.parse(package.read_text())
        exported = next(
            (
                ast.literal_eval(node.value)
                for node in tree.body
                if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in node.targets)
            ),
            [],
        )
        unused += [
            f"{package.relative_to(SHIPPED)} exports {name}"
            for name in exported
            if not uses.get(name, set()) - {package}
        ]
    assert unused == []


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in a conftest or a helpers module: a test module
    can be read, moved or deleted without breaking another."""
    reaching = [
        f"{path.relative_to(ROOT)}: {node.module}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.rpartition(".")[2].startswith("test_")
    ]
    assert reaching == []


def test_what_a_device_may_hold_is_the_settings_own_range() -> None:
    """The frames' plausibility check of a setting is its definition, not a copy."""
    for layout in {*SETTINGS_LAYOUTS.values(), REPLY}:
        for name, field in layout.fields.items():
            if name in SETTING_SPECS and name != "cell_count":
                assert field.valid is SETTING_SPECS[name].reported, (layout.name, name)


def test_the_protocol_layer_declares_what_it_imports() -> None:
    """pyproject's dependencies are the libraries the protocol layer imports."""
    protocol = SHIPPED / "protocol"
    imported_roots = set()
    for path in protocol.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported_roots |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                imported_roots.add(node.module.split(".")[0])
    third_party = {
        root
        for root in imported_roots
        if root not in sys.stdlib_module_names and root != "__future__"
    }
    distributions = importlib.metadata.packages_distributions()
    needed = {
        canonical(distribution)
        for root in third_party
        for distribution in distributions[root]
    }
    declared = {
        canonical(re.split(r"[<>=!~ ;\\[]", requirement, maxsplit=1)[0])
        for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())[
            "project"
        ]["dependencies"]
    }
    assert declared == needed


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
