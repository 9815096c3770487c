"""The balancers' repair issues: raised and cleared on the device's present state.

Every issue of the integration is raised and deleted here. An issue is
raised while its fault is there and deleted once it is gone, so Settings →
Repairs never lists a fault that was. An issue the user ignored is
remembered when its fault goes, and comes back ignored when the fault
returns: ignoring means ignored until the user un-ignores it, across reloads
and restarts.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .battery_care import BatteryCare
from .const import DOMAIN
from .protocol import (
    CELL_VOLTAGE_FORMAT,
    WIRE_RESISTANCE_LIMIT,
    LayoutMismatchError,
    Snapshot,
    low_cell,
    severe_spread,
)

WIRE_RESISTANCE = "wire_resistance"
CELL_COUNT = "cell_count_mismatch"
NO_CELLS = "no_cells"
LOW_CELL = "low_cell"
SEVERE_SPREAD = "severe_spread"
# The repair that confirms a cell count below the cells connected, and the
# refusal that offers it.
CONFIRM_CELL_COUNT = "confirm_cell_count"
PACK_MEMBER_MISSING = "pack_member_missing"
# The frames do not fit the layout chosen under Reconfigure.
LAYOUT_MISMATCH = "layout_mismatch"
# The cells stay above what the pack's chemistry (chosen or inferred) reaches.
CHEMISTRY_CONTRADICTED = "chemistry_contradicted"
BALANCER_ISSUES = (
    WIRE_RESISTANCE,
    CELL_COUNT,
    CONFIRM_CELL_COUNT,
    LOW_CELL,
    SEVERE_SPREAD,
    LAYOUT_MISMATCH,
    CHEMISTRY_CONTRADICTED,
)

_LOGGER = logging.getLogger(__name__)

IGNORED: HassKey[IgnoredIssues] = HassKey(f"{DOMAIN}_ignored_issues")
SAVE_DELAY = 10  # s


# Which fix flow an issue's repair opens: stored in its data.
FIX: Final = "fix"


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """The id of ``entry``'s issue of ``kind``."""
    return f"{kind}_{entry.entry_id}"


@callback
def async_offer_fewer_cells(
    hass: HomeAssistant, entry: ConfigEntry, cells: int, connected: int
) -> None:
    """After rewiring, fewer cells are wanted: a repair confirms it.

    Raised for what the user asked just now, so never ignored from before.
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(CONFIRM_CELL_COUNT, entry),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=CONFIRM_CELL_COUNT,
        translation_placeholders={
            "name": entry.title,
            "cells": str(cells),
            "connected": str(connected),
        },
        data={"entry_id": entry.entry_id, FIX: CONFIRM_CELL_COUNT, "cells": cells},
    )


@callback
def async_withdraw_fewer_cells(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A cell count was written: whatever was asked for before is superseded."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(CONFIRM_CELL_COUNT, entry))


@callback
def async_fixed(hass: HomeAssistant, identifier: str) -> None:
    """A repair did its fix: the issue goes (raised again if the fault stays)."""
    ir.async_delete_issue(hass, DOMAIN, identifier)


class IgnoredIssues:
    """The ids of issues the user ignored, kept while their fault is gone."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Set up the store (loaded by :meth:`async_load`)."""
        self._hass = hass
        self._store: Store[dict[str, Any]] = Store(hass, 1, f"{DOMAIN}.ignored_issues")
        self._ids: set[str] = set()

    async def async_load(self) -> None:
        """Read what was stored; anything else than issue ids is dropped."""
        try:
            data = await self._store.async_load()
        except HomeAssistantError as err:  # a newer format (a downgrade)
            _LOGGER.warning("Ignored repairs cannot be read (%s); none kept", err)
            return
        stored = data.get("issues") if isinstance(data, dict) else None
        if isinstance(stored, list):
            self._ids = {item for item in stored if isinstance(item, str)}

    @callback
    def async_raise(self, kind: str, entry: ConfigEntry, **details: Any) -> None:
        """Raise the issue (or update it); a new one the user ignored stays so."""
        registry = ir.async_get(self._hass)
        identifier = issue_id(kind, entry)
        new = registry.async_get_issue(DOMAIN, identifier) is None
        data = details.pop("data", None) or {"entry_id": entry.entry_id}
        ir.async_create_issue(
            self._hass, DOMAIN, identifier, data={**data, FIX: kind}, **details
        )
        if new and identifier in self._ids:
            ir.async_ignore_issue(self._hass, DOMAIN, identifier, True)

    @callback
    def async_clear(self, kind: str, entry: ConfigEntry) -> None:
        """The fault is gone: delete the issue, remembering whether it was ignored."""
        identifier = issue_id(kind, entry)
        issue = ir.async_get(self._hass).async_get_issue(DOMAIN, identifier)
        if issue is None:
            return
        if issue.dismissed_version is not None:
            self._ids.add(identifier)
        else:
            self._ids.discard(identifier)
        self._save()
        ir.async_delete_issue(self._hass, DOMAIN, identifier)

    @callback
    def async_forget(self, entry: ConfigEntry, kinds: tuple[str, ...]) -> None:
        """The entry was removed: its issues and what was ignored go with it."""
        for kind in kinds:
            identifier = issue_id(kind, entry)
            ir.async_delete_issue(self._hass, DOMAIN, identifier)
            self._ids.discard(identifier)
        self._save()

    def _save(self) -> None:
        self._store.async_delay_save(lambda: {"issues": sorted(self._ids)}, SAVE_DELAY)


def warning(translation_key: str, entry: ConfigEntry, **details: Any) -> dict[str, Any]:
    """The details of a warning issue of ``entry``, named as the user named it."""
    placeholders = details.pop("translation_placeholders", {})
    return {
        "is_fixable": False,
        "severity": ir.IssueSeverity.WARNING,
        "translation_key": translation_key,
        "translation_placeholders": {"name": entry.title, **placeholders},
        "data": {"entry_id": entry.entry_id},
    } | details


@callback
def async_update_issues(
    hass: HomeAssistant, entry: ConfigEntry, snapshot: Snapshot, care: BatteryCare
) -> None:
    """Raise or clear each issue on the snapshot just published."""
    issues = hass.data[IGNORED]
    for kind, details in (
        (WIRE_RESISTANCE, _wire_resistance(entry, snapshot)),
        (CELL_COUNT, _cell_count(entry, snapshot)),
        (LOW_CELL, _low_cell(hass, entry, snapshot, care)),
        (SEVERE_SPREAD, _severe_spread(hass, entry, snapshot, care)),
        (CHEMISTRY_CONTRADICTED, _chemistry_contradicted(hass, entry, care)),
    ):
        if details is None:
            issues.async_clear(kind, entry)
        else:
            issues.async_raise(kind, entry, **details)


@callback
def async_update_layout_issue(
    hass: HomeAssistant, entry: ConfigEntry, failure: BaseException | None
) -> None:
    """Say so while the frames fit another layout than the one chosen.

    ``failure`` is the update's (None: it succeeded, and the issue goes). A
    failure of another kind (the device out of range) tells nothing of it.
    """
    issues = hass.data[IGNORED]
    if failure is None:
        issues.async_clear(LAYOUT_MISMATCH, entry)
        return
    if not isinstance(mismatch := failure.__cause__, LayoutMismatchError):
        return
    issues.async_raise(
        LAYOUT_MISMATCH,
        entry,
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=LAYOUT_MISMATCH,
        translation_placeholders={
            "name": entry.title,
            "layout": mismatch.placeholders["layout"],
            "fits": mismatch.placeholders["fits"],
        },
        data={"entry_id": entry.entry_id},
    )


def _standing(hass: HomeAssistant, kind: str, entry: ConfigEntry) -> bool:
    """Return True when the issue is raised now (a warning clears with a margin)."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id(kind, entry)) is not None


def _wire_resistance(entry: ConfigEntry, snapshot: Snapshot) -> dict[str, Any] | None:
    cells = snapshot.cell_info
    if cells.wire_resistance_warnings:
        return warning(
            WIRE_RESISTANCE,
            entry,
            translation_placeholders={
                "cells": ", ".join(
                    f"{cell}: {cells.cell_resistances[cell - 1]:.2f} Ω"
                    for cell in cells.wire_resistance_warnings
                    if cell <= len(cells.cell_resistances)
                ),
                "limit": f"{WIRE_RESISTANCE_LIMIT:.2f}",
            },
        )
    if cells.wire_resistance_too_high:
        # Over RS485 the balancer says only that some wire is too resistive.
        return warning(f"{WIRE_RESISTANCE}_some_cell", entry)
    return None


def _cell_count(entry: ConfigEntry, snapshot: Snapshot) -> dict[str, Any] | None:
    if not snapshot.cell_count_mismatch:
        return None
    cells, setting = snapshot.cell_info.cell_count, snapshot.settings.cell_count
    # The fix is only clear when fewer cells answer than the setting says,
    # and some do: with none, the balance connector is off.
    fixable = 0 < cells < setting
    if not cells:
        translation_key = NO_CELLS
    else:
        translation_key = CELL_COUNT if fixable else f"{CELL_COUNT}_unknown"
    return warning(
        translation_key,
        entry,
        is_fixable=fixable,
        translation_placeholders={"setting": str(setting), "measured": str(cells)},
    )


def _low_cell(
    hass: HomeAssistant, entry: ConfigEntry, snapshot: Snapshot, care: BatteryCare
) -> dict[str, Any] | None:
    found = low_cell(
        snapshot, care.pack_chemistry, warned=_standing(hass, LOW_CELL, entry)
    )
    if found is None:
        return None
    return warning(
        LOW_CELL,
        entry,
        severity=ir.IssueSeverity.ERROR,
        translation_placeholders={
            "cell": str(found.cell),
            "voltage": CELL_VOLTAGE_FORMAT.format(found.voltage),
            "threshold": f"{found.threshold:g}",
            "limit": f"{found.limit:g}",
            "chemistry": found.chemistry.name,
        },
    )


def _severe_spread(
    hass: HomeAssistant, entry: ConfigEntry, snapshot: Snapshot, care: BatteryCare
) -> dict[str, Any] | None:
    found = severe_spread(
        snapshot, care.pack_chemistry, warned=_standing(hass, SEVERE_SPREAD, entry)
    )
    if found is None:
        return None
    return warning(
        SEVERE_SPREAD,
        entry,
        translation_placeholders={
            "lowest_cell": str(found.lowest_cell),
            "lowest": CELL_VOLTAGE_FORMAT.format(found.lowest),
            "highest_cell": str(found.highest_cell),
            "highest": CELL_VOLTAGE_FORMAT.format(found.highest),
            "spread": f"{(found.highest - found.lowest) * 1000:.0f}",
            "limit": f"{found.limit * 1000:.0f}",
            "chemistry": found.chemistry.name,
        },
    )


def _chemistry_contradicted(
    hass: HomeAssistant, entry: ConfigEntry, care: BatteryCare
) -> dict[str, Any] | None:
    """The cells stayed above what the chemistry reaches: propose what fits."""
    warned = _standing(hass, CHEMISTRY_CONTRADICTED, entry)
    if (contradicted := care.contradicted_chemistry(warned=warned)) is None:
        return None
    fitting = care.chemistry_watch.fitting()
    middle = care.chemistry_watch.middle
    return warning(
        CHEMISTRY_CONTRADICTED,
        entry,
        is_fixable=bool(fitting),
        translation_placeholders={
            "chemistry": contradicted.name,
            "middle": "-" if middle is None else CELL_VOLTAGE_FORMAT.format(middle),
            "highest": f"{contradicted.voltages.highest_middle:g}",
            "fits": "/".join(c.name for c in fitting) or "-",
        },
        data={
            "entry_id": entry.entry_id,
            "proposed": [c.value for c in fitting],
        },
    )
