"""What hassfest and the HACS action check, applied here (neither runs here)."""

from __future__ import annotations

import json
from pathlib import Path
import re

from PIL import Image

from custom_components.jk_balancer.protocol.ble.advertisement import (
    ADVERTISEMENT_MATCHERS,
)
from jk_tools import brand

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "custom_components" / "jk_balancer"
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text())


def test_manifest_discovers_what_the_protocol_layer_calls_a_jk_device() -> None:
    """One definition: the manifest states the protocol layer's matchers."""
    assert MANIFEST["bluetooth"] == [
        {"manufacturer_id": matcher.manufacturer_id}
        | (
            {"manufacturer_data_start": list(matcher.data_start)}
            if matcher.data_start
            else {}
        )
        | {"connectable": True}
        for matcher in ADVERTISEMENT_MATCHERS
    ]


def test_manifest_is_as_hassfest_wants_it() -> None:
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert MANIFEST["domain"] == INTEGRATION.name
    assert {"version", "documentation", "issue_tracker", "codeowners"} <= set(keys)
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["integration_type"] == "device"


def test_hacs_metadata() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert set(hacs) <= {
        "name",
        "content_in_root",
        "zip_release",
        "filename",
        "hide_default_branch",
        "country",
        "homeassistant",
        "hacs",
        "persistent_directory",
        "render_readme",
    }
    assert hacs["name"] == MANIFEST["name"]
    # HACS offers it from the oldest release the tests run on.
    oldest = re.search(
        r"^homeassistant==(\d+\.\d+)\.",
        (ROOT / "requirements" / "test.txt").read_text(),
        re.M,
    )
    assert oldest is not None
    assert hacs["homeassistant"] == f"{oldest.group(1)}.0"
    # Only the integration's folder ships: nothing of the tools or emulator.
    assert not (INTEGRATION / "jk_emulator").exists()
    assert not list(INTEGRATION.rglob("test_*.py"))


def test_license_is_the_one_pyproject_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


def test_brand_images_are_drawn_from_their_geometry() -> None:
    """Home Assistant 2026.3+ serves brand/ for a custom integration."""
    drawn = brand.images()
    folder = INTEGRATION / "brand"
    assert sorted(path.name for path in folder.iterdir()) == sorted(drawn)
    for name, image in drawn.items():
        assert (folder / name).read_bytes() == brand.png(image), (
            f"{name} is not what jk_tools/brand.py draws: run scripts/brand"
        )
    with Image.open(folder / "icon.png") as icon:
        assert icon.size == (256, 256)
    with Image.open(folder / "icon@2x.png") as icon:
        assert icon.size == (512, 512)
    with Image.open(folder / "logo.png") as logo:
        assert logo.height == 128
        assert logo.width > logo.height


def test_quality_scale_claims_brands_only_with_brand_images() -> None:
    scale = (INTEGRATION / "quality_scale.yaml").read_text()
    assert "  brands: done\n" in scale
    assert (INTEGRATION / "brand" / "icon.png").exists()
