"""Choosing a pack's balancers: in the config flow and in the repair after one went."""

from __future__ import annotations

import unicodedata

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from .compat import vol
from .const import CONF_MEMBERS, DOMAIN, Transport, entry_transport


def balancer_entries(hass: HomeAssistant) -> list[ConfigEntry]:
    """The balancers set up, over any transport (not packs, not ignored ones)."""
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry_transport(entry.data) is not Transport.PACK
    ]


def members_schema(
    hass: HomeAssistant, members: list[str], name: str | None
) -> vol.Schema:
    """The pick of balancers in cell order, ``members`` preselected.

    With a ``name``, the pack's name is asked too (adding or reconfiguring).
    """
    fields: dict[vol.Marker, object] = {}
    if name is not None:
        fields[vol.Required(CONF_NAME, default=name)] = TextSelector()
    fields[vol.Required(CONF_MEMBERS, default=members)] = SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=entry.entry_id, label=entry.title)
                for entry in balancer_entries(hass)
            ],
            multiple=True,
            mode=SelectSelectorMode.DROPDOWN,
        )
    )
    return vol.Schema(fields)


# Longer than any name a device page shows.
MAX_NAME_LENGTH = 100


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a pack (an error key), or None.

    A name is shown on every page and stored with the entry: text that is no
    UTF-8, control characters and absurd lengths are refused.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        return "invalid_name"
    if any(unicodedata.category(character) == "Cc" for character in name):
        return "invalid_name"
    try:
        name.encode()
    except UnicodeEncodeError:
        return "invalid_name"
    return None


def members_problem(members: list[str]) -> str | None:
    """Why these balancers cannot make a pack (an error key), or None.

    One balancer given twice would count its cells twice (double voltage).
    """
    if len(set(members)) != len(members):
        return "duplicate_member"
    if len(members) < 2:
        return "pick_two"
    return None
