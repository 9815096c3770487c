"""The kinds of config entry: a balancer (over any transport) or a pack of them."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry

from .coordinator import BalancerCoordinator
from .pack import PackCoordinator

# What Home Assistant hands the platforms: ``runtime_data`` says which kind.
type JKConfigEntry = ConfigEntry[BalancerCoordinator | PackCoordinator]
