"""Diagnostics: what the device said, with every passcode removed."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant

from .config_entry import JKConfigEntry
from .coordinator import BalancerCoordinator
from .pack import PackCoordinator

TO_REDACT = {CONF_PASSWORD}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: JKConfigEntry
) -> dict[str, Any]:
    """Return the entry, the link, the newest snapshot and the last raw data.

    An entry that is not loaded (waiting to retry, disabled) has only its
    configuration and its state to show.
    """
    if entry.state is not ConfigEntryState.LOADED:
        return {"entry": _entry(entry)}
    coordinator = entry.runtime_data
    if isinstance(coordinator, PackCoordinator):
        return _pack_diagnostics(entry, coordinator)
    return _balancer_diagnostics(entry, coordinator)


def _entry(entry: ConfigEntry) -> dict[str, Any]:
    return {
        "title": entry.title,
        "state": entry.state.value,
        "reason": entry.reason,
        "data": async_redact_data(dict(entry.data), TO_REDACT),
        "options": dict(entry.options),
    }


def _balancer_diagnostics(
    entry: ConfigEntry, coordinator: BalancerCoordinator
) -> dict[str, Any]:
    snapshot = coordinator.data
    return {
        "entry": _entry(entry),
        "connection": coordinator.link_diagnostics()
        | {"last_update_success": coordinator.last_update_success},
        "protocol": snapshot.protocol.value,
        "device_info": snapshot.device_info.to_dict(),
        "settings": snapshot.settings.to_dict(),
        "cell_info": snapshot.cell_info.to_dict(),
        "chemistry": _chemistry(coordinator),
    }


def _chemistry(coordinator: BalancerCoordinator) -> dict[str, Any]:
    """The chemistry the owner chose, or what the cells left of the candidates."""
    care = coordinator.care
    known = care.pack_chemistry
    return {
        "chosen": None
        if care.chosen_chemistry is None
        else care.chosen_chemistry.value,
        "candidates": [chemistry.value for chemistry in known.ordered],
        "ruled_out_by_the_cells": care.chemistry_watch.to_data(),
        "middle_cell_voltage": care.chemistry_watch.middle,
    }


def _pack_diagnostics(entry: ConfigEntry, pack: PackCoordinator) -> dict[str, Any]:
    """The pack's balancers in cascade order and what they add up to."""
    return {
        "entry": _entry(entry),
        "balancers": [pack.member_title(entry_id) for entry_id in pack.members],
        "last_update_success": pack.last_update_success,
        "pack": None if pack.data is None else pack.data._asdict(),
    }
