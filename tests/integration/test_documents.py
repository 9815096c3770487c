"""The README says what the code does: every entity and every option, by its UI name."""

from __future__ import annotations

import json
from pathlib import Path
import re

from tests.integration.descriptions import DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
STRINGS = json.loads(
    (ROOT / "custom_components" / "jk_balancer" / "strings.json").read_text()
)


def table(heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading``, header row left out."""
    section = README.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def shown(name: str) -> str:
    """A table's name as the UI shows it (``Cell *n* voltage``: any cell)."""
    return name.replace("*n*", "{cell}").replace("*", "")


def test_the_entity_table_names_every_entity_and_nothing_else() -> None:
    names = STRINGS["entity"]
    described = {
        names[platform][description.translation_key]["name"]
        for platform, descriptions in DESCRIPTIONS.items()
        for description in descriptions
        if description.translation_key is not None
    }
    listed = [shown(row[0]) for row in table("## What you get")]
    assert len(listed) == len(set(listed))
    assert set(listed) == described


def test_the_options_table_names_every_option() -> None:
    steps = STRINGS["options"]["step"]
    options = {name for step in steps.values() for name in step["data"].values()}
    listed = {row[0] for row in table("Options (*Configure* on the integration entry)")}
    assert listed == options


def test_every_entity_kind_in_the_table_is_one_home_assistant_has() -> None:
    kinds = {row[1] for row in table("## What you get")}
    assert kinds <= {"sensor", "binary sensor", "switch", "number"}
    assert all(re.fullmatch(r"[A-Z][^|]*", row[0]) for row in table("## What you get"))
