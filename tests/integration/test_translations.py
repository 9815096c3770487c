"""Every user-facing string exists in English, German and Chinese."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest

from custom_components.jk_balancer.const import PROTOCOL_OPTIONS, ConnectionMode
from custom_components.jk_balancer.protocol import BLUETOOTH_PROTOCOLS, errors
from tests.integration.conftest import Proxy, setup_entry
from tests.integration.descriptions import DESCRIPTIONS

INTEGRATION = Path(__file__).resolve().parents[2] / "custom_components" / "jk_balancer"
STRINGS = json.loads((INTEGRATION / "strings.json").read_text())
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            result |= flatten(value, f"{path}.")
        else:
            result[path] = value
    return result


# hassfest's rule for translation keys (it cannot run outside Home Assistant's
# own repository, so the rule is applied here).
TRANSLATION_KEY = re.compile(r"^[a-z0-9-_]+$")


def test_every_translation_key_is_one_hassfest_accepts() -> None:
    bad = [
        path
        for path in flatten(STRINGS)
        if not all(TRANSLATION_KEY.match(part) for part in path.split("."))
    ]
    assert bad == []


def test_every_translation_file_has_exactly_the_keys_of_strings_json() -> None:
    files = sorted((INTEGRATION / "translations").glob("*.json"))
    assert [path.stem for path in files] == ["de", "en", "zh-Hans"]
    for path in files:
        assert set(flatten(json.loads(path.read_text()))) == set(flatten(STRINGS))


@pytest.mark.parametrize("language", ["en", "de", "zh-Hans"])
def test_translation_has_every_key_with_the_same_placeholders(language: str) -> None:
    source = flatten(STRINGS)
    translated = flatten(
        json.loads((INTEGRATION / "translations" / f"{language}.json").read_text())
    )
    assert set(translated) == set(source)
    for key, text in source.items():
        assert set(PLACEHOLDER.findall(translated[key])) == set(
            PLACEHOLDER.findall(text)
        ), key
        assert translated[key].strip(), key


def test_english_translation_is_strings_json() -> None:
    assert json.loads((INTEGRATION / "translations" / "en.json").read_text()) == STRINGS


def test_every_entity_has_a_name() -> None:
    entity = STRINGS["entity"]
    for platform, items in DESCRIPTIONS.items():
        keys = {item.translation_key for item in items}
        assert keys == set(entity[platform]), platform


def test_every_error_message_exists() -> None:
    keys = {
        item.translation_key
        for item in vars(errors).values()
        if isinstance(item, type) and issubclass(item, errors.JKError)
    }
    refusals_of_harmful_settings = {
        "cell_count_below_connected",
        "power_off_above_chemistry",
        "power_off_above_inferred_chemistry",
        "power_off_at_cells",
        "power_off_without_cells",
        "start_voltage_unreachable",
    }
    raised_by_the_integration = refusals_of_harmful_settings | {
        "device_not_found",
        "lend_minutes_out_of_range",
        "lent_while_unreachable",
        "link_lent",
        "pack_unit_deleted",
        "pack_unit_no_cells",
        "pack_unit_not_reached",
        "password_changed",
        "stored_data_unusable",
        "stream_stalled",
        "write_unreachable",
    }
    assert keys | raised_by_the_integration == set(STRINGS["exceptions"])


def test_every_message_sits_where_home_assistant_looks_for_it() -> None:
    assert all(set(text) == {"message"} for text in STRINGS["exceptions"].values())
    assert all(
        "title" in issue and ("description" in issue or "fix_flow" in issue)
        for issue in STRINGS["issues"].values()
    )


def test_selectors_cover_every_choice() -> None:
    selectors = STRINGS["selector"]
    assert set(selectors["protocol"]["options"]) == {"auto", *PROTOCOL_OPTIONS}
    assert set(PROTOCOL_OPTIONS.values()) == set(BLUETOOTH_PROTOCOLS)
    assert set(selectors["connection_mode"]["options"]) == {
        m.value for m in ConnectionMode
    }


def test_icons_belong_to_known_entities() -> None:
    icons = json.loads((INTEGRATION / "icons.json").read_text())["entity"]
    for platform, entries in icons.items():
        assert set(entries) <= set(STRINGS["entity"][platform]), platform


def test_every_entity_has_an_icon_of_its_own_that_the_frontend_draws() -> None:
    """On the device page no two rows look alike, and no icon is blank."""
    icons = json.loads((INTEGRATION / "icons.json").read_text())["entity"]
    defaults = [
        entry["default"] for entries in icons.values() for entry in entries.values()
    ]
    assert sorted(defaults) == sorted(set(defaults))
    # Entities of a device class Home Assistant draws itself need none of ours.
    drawn_by_class = {
        "temperature_sensor_1",
        "temperature_sensor_2",
        "power_tube_temperature",
        "rssi",
        "cell_voltage",
    }
    for platform, entries in STRINGS["entity"].items():
        assert set(entries) - set(icons.get(platform, {})) <= drawn_by_class, platform
    import hass_frontend  # noqa: PLC0415

    names = json.loads(
        (Path(hass_frontend.__file__).parent / "static/mdi/iconList.json").read_text()
    )
    known = {f"mdi:{icon['name']}" for icon in names}
    used = {
        icon
        for entries in icons.values()
        for entry in entries.values()
        for icon in (entry["default"], *entry.get("state", {}).values())
    }
    assert used <= known


async def test_entity_names_follow_a_change_of_the_system_language(
    hass: HomeAssistant, proxy: Proxy
) -> None:
    entry = await setup_entry(hass, proxy.add())
    entity_id = "sensor.jk_b2a16s_cell_voltage_difference"
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["friendly_name"] == "JK-B2A16S Cell voltage difference"
    await hass.config.async_update(language="de")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.attributes["friendly_name"] == "JK-B2A16S Zellspannungsdifferenz"
