"""JK Active Balancer integration for Home Assistant."""
