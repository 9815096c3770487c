"""Coordinator: owns the balancer client and publishes its snapshots."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .care import PackCare
from .const import (
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    ISSUE_CONFIRM_CELL_COUNT,
    ISSUE_CONFIRM_CELL_COUNT_FOR,
)
from .protocol import (
    JKError,
    SettingOutOfRangeError,
    Snapshot,
    UnsafeSettingError,
    validate_write,
)

_LOGGER = logging.getLogger(__name__)

type JKBalancerConfigEntry = ConfigEntry[JKBalancerCoordinator]


class JKBalancerCoordinator(DataUpdateCoordinator[Snapshot]):
    """Keep the newest snapshot of one balancer and write its settings.

    What is common to every transport: looking after the pack, checking a
    write before anything is sent, publishing what the device holds after it.
    """

    config_entry: JKBalancerConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: JKBalancerConfigEntry, device_key: str
    ) -> None:
        """Set up the coordinator of the balancer known as ``device_key``."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=entry.title,
            update_interval=timedelta(
                seconds=entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            ),
        )
        # Identifies the device and prefixes its entities' unique ids.
        self.device_key = device_key
        self.care = PackCare(hass, entry)

    @property
    def connections(self) -> set[tuple[str, str]]:
        """The device registry's connections of the device."""
        return set()

    @property
    def newest_snapshot(self) -> Snapshot | None:
        """What the device said last, also after a failed write."""
        raise NotImplementedError

    def connection_diagnostics(self) -> dict[str, Any]:
        """The link's state and counters, for the diagnostics download."""
        raise NotImplementedError

    async def _async_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool
    ) -> None:
        """Write through the transport; JKError when it fails."""
        raise NotImplementedError

    def error_placeholders(self, err: JKError) -> dict[str, str]:
        """An error's placeholders, naming the device as the user named it.

        ``error`` is the reason unless the error says more precisely (a
        port's cause).
        """
        return {"error": err.reason} | err.placeholders | {"name": self.name}

    def validate_write(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool = False
    ) -> None:
        """Refuse a value the device would not take, or should not, before sending.

        Checked against the newest snapshot, so nothing is connected for it.
        """
        try:
            validate_write(
                self.data,
                key,
                value,
                chemistry=self.care.chemistry(self.data),
                fewer_cells_confirmed=fewer_cells_confirmed,
            )
        except UnsafeSettingError as err:
            if err.translation_key == ISSUE_CONFIRM_CELL_COUNT_FOR:
                self._offer_fewer_cells(int(value))
            raise _refused(err) from err
        except SettingOutOfRangeError as err:
            raise _refused(err) from err

    @callback
    def _offer_fewer_cells(self, cells: int) -> None:
        """After rewiring, fewer cells are wanted: confirm it as a repair.

        The repair states what follows and writes once the user confirms.
        """
        entry = self.config_entry
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{ISSUE_CONFIRM_CELL_COUNT}_{entry.entry_id}",
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_CONFIRM_CELL_COUNT,
            translation_placeholders={
                "name": entry.title,
                "cells": str(cells),
                "connected": str(self.data.cell_info.cell_count),
            },
            data={"entry_id": entry.entry_id, "cells": cells},
        )

    async def async_write_setting(
        self, key: str, value: float | bool, *, fewer_cells_confirmed: bool = False
    ) -> None:
        """Write a setting, confirm it by read-back and publish the result.

        Whatever happens, entities afterwards show what the device holds.
        ``fewer_cells_confirmed``: the user confirmed a cell count below the
        cells connected (after rewiring).
        """
        self.validate_write(key, value, fewer_cells_confirmed=fewer_cells_confirmed)
        try:
            await self._async_write(
                key, value, fewer_cells_confirmed=fewer_cells_confirmed
            )
        except (SettingOutOfRangeError, UnsafeSettingError) as err:
            raise _refused(err) from err
        except JKError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=err.translation_key,
                translation_placeholders=self.error_placeholders(err),
            ) from err
        finally:
            if (snapshot := self.newest_snapshot) is not None:
                self.async_set_updated_data(snapshot)


def _refused(
    err: SettingOutOfRangeError | UnsafeSettingError,
) -> ServiceValidationError:
    """A value the protocol layer refused, as Home Assistant tells the user."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=err.translation_key,
        translation_placeholders=err.placeholders,
    )
