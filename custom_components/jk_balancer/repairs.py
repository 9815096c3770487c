"""Repair flows: each acts on the device's present state, never on a stale one.

The fault may have gone between the issue being raised and the user pressing
"Submit" (a lead re-seated, a count corrected): a flow then says so and
writes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .compat import RepairsFlowResult, vol
from .config_entry import JKConfigEntry
from .const import CONF_CHEMISTRY, CONF_MEMBERS, CONF_PROTOCOL, PROTOCOL_AUTO
from .coordinator import BalancerCoordinator
from .issues import (
    CELL_COUNT,
    CHEMISTRY_CONTRADICTED,
    CONFIRM_CELL_COUNT,
    FIX,
    LAYOUT_MISMATCH,
    PACK_MEMBER_MISSING,
    async_fixed,
)
from .pack_members import members_problem, members_schema
from .protocol import Chemistry


class _EntryRepairFlow(RepairsFlow, ABC):
    """A repair of one entry's issue, confirmed in one step."""

    def __init__(self, entry_id: str, issue_id: str) -> None:
        """Remember which entry and which issue."""
        self._entry_id = entry_id
        self._issue_id = issue_id

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show what the fix does, or do it once confirmed."""
        entry: JKConfigEntry | None = self.hass.config_entries.async_get_entry(
            self._entry_id
        )
        if entry is None:
            return self.async_abort(reason="device_removed")
        return await self._async_confirm_entry(entry, user_input)

    @abstractmethod
    async def _async_confirm_entry(
        self, entry: JKConfigEntry, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Show what will be done for ``entry``, or do it once confirmed."""

    def _async_store_and_reload(
        self, entry: JKConfigEntry, **changes: Any
    ) -> RepairsFlowResult:
        """Store ``changes`` (data, options) in the entry, and set it up again."""
        self.hass.config_entries.async_update_entry(entry, **changes)
        async_fixed(self.hass, self._issue_id)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return self.async_create_entry(data={})


class _BalancerRepairFlow(_EntryRepairFlow):
    """A repair of one balancer, which must be loaded to be repaired."""

    async def _async_confirm_entry(
        self, entry: JKConfigEntry, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Check the device as it is now, then confirm and write."""
        if entry.state is not ConfigEntryState.LOADED or not isinstance(
            coordinator := entry.runtime_data, BalancerCoordinator
        ):
            return self.async_abort(
                reason="not_loaded", description_placeholders={"name": entry.title}
            )
        return await self._async_confirm(entry, coordinator, user_input)

    @abstractmethod
    async def _async_confirm(
        self,
        entry: JKConfigEntry,
        coordinator: BalancerCoordinator,
        user_input: dict[str, str] | None,
    ) -> RepairsFlowResult:
        """Show what will be written, or write it once confirmed."""

    async def _async_write(
        self, coordinator: BalancerCoordinator, cells: int, *, fewer: bool
    ) -> RepairsFlowResult:
        try:
            await coordinator.async_write_setting(
                "cell_count", cells, fewer_cells_confirmed=fewer
            )
        except HomeAssistantError as err:
            return self.async_abort(
                reason="write_failed", description_placeholders={"error": str(err)}
            )
        async_fixed(self.hass, self._issue_id)
        return self.async_create_entry(data={})


class CellCountRepairFlow(_BalancerRepairFlow):
    """Set the cell count to the number of cells that answer now."""

    _shown: int | None = None

    async def _async_confirm(
        self,
        entry: JKConfigEntry,
        coordinator: BalancerCoordinator,
        user_input: dict[str, str] | None,
    ) -> RepairsFlowResult:
        snapshot = coordinator.data
        cells, setting = snapshot.cell_info.cell_count, snapshot.settings.cell_count
        placeholders = {"name": entry.title, "setting": str(setting)}
        if not snapshot.cell_count_mismatch:
            return self.async_abort(
                reason="already_fixed", description_placeholders=placeholders
            )
        if not 0 < cells < setting:
            return self.async_abort(
                reason="no_clear_fix",
                description_placeholders=placeholders | {"measured": str(cells)},
            )
        # Written only when the count the user read is still the one that answers.
        if user_input is not None and cells == self._shown:
            return await self._async_write(coordinator, cells, fewer=False)
        self._shown = cells
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders=placeholders
            | {"cells": str(cells), "measured": str(cells)},
        )


class ConfirmCellCountFlow(_BalancerRepairFlow):
    """Write the cell count the user asked for, below the cells connected."""

    def __init__(self, entry_id: str, issue_id: str, cells: int) -> None:
        """Remember the count the user asked for."""
        super().__init__(entry_id, issue_id)
        self._cells = cells

    async def _async_confirm(
        self,
        entry: JKConfigEntry,
        coordinator: BalancerCoordinator,
        user_input: dict[str, str] | None,
    ) -> RepairsFlowResult:
        snapshot = coordinator.data
        connected = snapshot.cell_info.cell_count
        placeholders = {
            "name": entry.title,
            "cells": str(self._cells),
            "connected": str(connected),
        }
        if snapshot.settings.cell_count == self._cells or self._cells >= connected:
            # Set meanwhile, or the pack was rewired: nothing left to confirm.
            async_fixed(self.hass, self._issue_id)
            return self.async_abort(
                reason="nothing_to_confirm", description_placeholders=placeholders
            )
        if user_input is not None:
            return await self._async_write(coordinator, self._cells, fewer=True)
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema({}),
            description_placeholders=placeholders,
        )


class PackMembersRepairFlow(RepairsFlow):
    """Choose a pack's balancers again, after one of them was deleted."""

    def __init__(self, entry_id: str) -> None:
        """Remember which pack."""
        self._entry_id = entry_id

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Start with the choice."""
        return await self.async_step_members()

    async def async_step_members(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """The balancers still there are offered; the pack reloads with the choice."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="device_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            members: list[str] = user_input[CONF_MEMBERS]
            if (problem := members_problem(members)) is not None:
                errors[CONF_MEMBERS] = problem
            else:
                self.hass.config_entries.async_update_entry(
                    entry, data={**entry.data, CONF_MEMBERS: members}
                )
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
                return self.async_create_entry(data={})
        present = [
            member
            for member in entry.data[CONF_MEMBERS]
            if self.hass.config_entries.async_get_entry(member) is not None
        ]
        return self.async_show_form(
            step_id="members",
            data_schema=members_schema(self.hass, present, name=None),
            errors=errors,
            description_placeholders={"name": entry.title},
        )


class LayoutRepairFlow(_EntryRepairFlow):
    """Let the layout be detected again, after one that does not fit was chosen."""

    async def _async_confirm_entry(
        self, entry: JKConfigEntry, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Once confirmed, detect the layout automatically and set up again."""
        placeholders = {"name": entry.title}
        if entry.data.get(CONF_PROTOCOL, PROTOCOL_AUTO) == PROTOCOL_AUTO:
            async_fixed(self.hass, self._issue_id)
            return self.async_abort(
                reason="already_automatic", description_placeholders=placeholders
            )
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                data_schema=vol.Schema({}),
                description_placeholders=placeholders,
            )
        return self._async_store_and_reload(
            entry, data={**entry.data, CONF_PROTOCOL: PROTOCOL_AUTO}
        )


class ChemistryRepairFlow(_EntryRepairFlow):
    """Set the chemistry the cells fit, after they contradicted the one in use."""

    def __init__(self, entry_id: str, issue_id: str, proposed: list[str]) -> None:
        """Remember which balancer, which issue and what fits."""
        super().__init__(entry_id, issue_id)
        self._proposed = [c for c in proposed if c in Chemistry._value2member_map_]

    async def _async_confirm_entry(
        self, entry: JKConfigEntry, user_input: dict[str, Any] | None
    ) -> RepairsFlowResult:
        """Once confirmed, store the chemistry as the owner's choice and reload."""
        if not self._proposed:
            return self.async_abort(
                reason="nothing_fits", description_placeholders={"name": entry.title}
            )
        if user_input is not None:
            return self._async_store_and_reload(
                entry,
                options={**entry.options, CONF_CHEMISTRY: user_input[CONF_CHEMISTRY]},
            )
        return self.async_show_form(
            step_id="confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(
                        CONF_CHEMISTRY, default=self._proposed[0]
                    ): SelectSelector(
                        SelectSelectorConfig(
                            options=self._proposed,
                            translation_key=CONF_CHEMISTRY,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            description_placeholders={"name": entry.title},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Create the flow that fixes ``issue_id``: the one its data names."""
    assert data is not None
    entry_id = str(data["entry_id"])
    fix = data.get(FIX)
    if fix == PACK_MEMBER_MISSING:
        return PackMembersRepairFlow(entry_id)
    if fix == LAYOUT_MISMATCH:
        return LayoutRepairFlow(entry_id, issue_id)
    if fix == CHEMISTRY_CONTRADICTED:
        proposed = data.get("proposed")
        return ChemistryRepairFlow(
            entry_id, issue_id, proposed if isinstance(proposed, list) else []
        )
    if fix == CONFIRM_CELL_COUNT:
        return ConfirmCellCountFlow(entry_id, issue_id, int(data["cells"]))
    if fix == CELL_COUNT:
        return CellCountRepairFlow(entry_id, issue_id)
    raise ValueError(f"no repair for {issue_id}")
