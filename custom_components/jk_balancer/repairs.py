"""Repairs for the manuals' fault table: wire resistance and cell count."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from .compat import RepairsFlowResult, vol
from .const import DOMAIN, ISSUE_CONFIRM_CELL_COUNT
from .coordinator import BalancerCoordinator
from .entry import JKConfigEntry
from .protocol import WIRE_RESISTANCE_LIMIT

WIRE_RESISTANCE = "wire_resistance"
CELL_COUNT = "cell_count_mismatch"
NO_CELLS = "no_cells"


def _issue_id(kind: str, entry: ConfigEntry) -> str:
    return f"{kind}_{entry.entry_id}"


@callback
def async_update_issues(hass: HomeAssistant, coordinator: BalancerCoordinator) -> None:
    """Raise or clear the issues after each update.

    An issue is deleted only when its fault is gone (or the device is removed):
    one the user ignored stays ignored across reloads and restarts.
    """
    if not coordinator.last_update_success:
        return
    entry = coordinator.config_entry
    snapshot = coordinator.data
    cells = snapshot.cell_info
    if cells.wire_resistance_too_high and not cells.wire_resistance_warnings:
        # Over RS485 the balancer says only that some wire is too resistive.
        _raise(hass, entry, WIRE_RESISTANCE, f"{WIRE_RESISTANCE}_some_cell")
    elif cells.wire_resistance_warnings:
        _raise(
            hass,
            entry,
            WIRE_RESISTANCE,
            WIRE_RESISTANCE,
            cells=", ".join(
                f"{cell}: {cells.cell_resistances[cell - 1]:.2f} Ω"
                for cell in cells.wire_resistance_warnings
                if cell <= len(cells.cell_resistances)
            ),
            limit=f"{WIRE_RESISTANCE_LIMIT:.2f}",
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(WIRE_RESISTANCE, entry))
    if snapshot.cell_count_mismatch:
        # The fix is only clear when fewer cells answer than the setting says,
        # and some do: with none, the balance connector is off.
        fixable = 0 < cells.cell_count < snapshot.settings.cell_count
        if not cells.cell_count:
            translation_key = NO_CELLS
        else:
            translation_key = CELL_COUNT if fixable else f"{CELL_COUNT}_unknown"
        _raise(
            hass,
            entry,
            CELL_COUNT,
            translation_key,
            fixable=fixable,
            setting=str(snapshot.settings.cell_count),
            measured=str(cells.cell_count),
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, _issue_id(CELL_COUNT, entry))


def _raise(
    hass: HomeAssistant,
    entry: ConfigEntry,
    kind: str,
    translation_key: str,
    *,
    fixable: bool = False,
    **placeholders: str,
) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(kind, entry),
        is_fixable=fixable,
        severity=ir.IssueSeverity.WARNING,
        translation_key=translation_key,
        translation_placeholders={"name": entry.title, **placeholders},
        data={
            "entry_id": entry.entry_id,
            "cells": int(placeholders.get("measured", 0)),
        },
    )


@callback
def async_delete_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the entry's issues (the device was removed)."""
    for kind in (WIRE_RESISTANCE, CELL_COUNT, ISSUE_CONFIRM_CELL_COUNT):
        ir.async_delete_issue(hass, DOMAIN, _issue_id(kind, entry))


class CellCountRepairFlow(RepairsFlow):
    """Set the cell count to the number of cells that answer."""

    def __init__(self, entry_id: str, cells: int) -> None:
        """Remember which device and how many cells."""
        self._entry_id = entry_id
        self._cells = cells

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Confirm, then write the cell count."""
        entry: JKConfigEntry | None = self.hass.config_entries.async_get_entry(
            self._entry_id
        )
        if entry is None:
            return self.async_abort(reason="device_removed")
        if entry.state is not ConfigEntryState.LOADED or not isinstance(
            coordinator := entry.runtime_data, BalancerCoordinator
        ):
            return self.async_abort(
                reason="not_loaded", description_placeholders={"name": entry.title}
            )
        if user_input is not None:
            try:
                # The user read what follows and confirmed it.
                await coordinator.async_write_setting(
                    "cell_count", self._cells, fewer_cells_confirmed=True
                )
            except HomeAssistantError as err:
                return self.async_abort(
                    reason="write_failed", description_placeholders={"error": str(err)}
                )
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders={"name": entry.title, "cells": str(self._cells)},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Create the flow that fixes a cell count mismatch."""
    assert data is not None
    return CellCountRepairFlow(str(data["entry_id"]), int(data["cells"]))
