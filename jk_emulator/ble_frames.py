"""The Bluetooth frames of the virtual balancer: device info and cell info.

What a measurement turns into on the wire, by the protocol layer's own layout
tables, so the emulator encodes exactly what the decoder decodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custom_components.jk_balancer.protocol import (
    CELL_INFO_LAYOUTS,
    DEVICE_INFO,
    WIRE_RESISTANCE_LIMIT,
    DeviceInfo,
    encode_frame,
)

if TYPE_CHECKING:
    from .device import Measurement, VirtualBalancer


def device_info_frame(info: DeviceInfo, counter: int) -> bytes:
    """Frame 0x03, the answer to the device-info request."""
    values = {
        "vendor_id": info.vendor_id,
        "hardware_version": info.hardware_version,
        "software_version": info.software_version,
        "uptime": info.uptime,
        "power_on_count": info.power_on_count,
        "device_name": info.device_name,
        "passcode": info.passcode,
        "manufacturing_date": info.manufacturing_date,
        "serial_number": info.serial_number,
    }
    return encode_frame(DEVICE_INFO, values, counter)


def cell_info_frame(
    device: VirtualBalancer, measurement: Measurement, runtime: int, counter: int
) -> bytes:
    """Frame 0x02, the streamed measurements, with the device's own figures."""
    voltages, resistances = measurement.cell_voltages, measurement.cell_resistances
    present = [v for v in voltages if v > 0] or [0.0]
    highest, lowest = max(present), min(present)
    values: dict[str, Any] = {
        "cell_voltages": voltages,
        "cell_resistances": resistances,
        "connected_cells_mask": (1 << len(voltages)) - 1,
        "average_cell_voltage": sum(present) / len(present),
        "delta_cell_voltage": highest - lowest,
        "max_voltage_cell_index": voltages.index(highest) if voltages else 0,
        "min_voltage_cell_index": voltages.index(lowest) if voltages else 0,
        "balancing_action": 2 if measurement.balancing else 0,
        "balancing_current": measurement.balancing_current,
        "total_runtime": runtime,
    }
    if device.protocol.is_jk02:
        values |= _bms_values(device, voltages)
    return encode_frame(CELL_INFO_LAYOUTS[device.protocol], values, counter)


def _bms_values(device: VirtualBalancer, voltages: list[float]) -> dict[str, Any]:
    """What a JK BMS adds: pack current, charge, temperatures, error bits."""
    pack, count = device.pack, device.settings.cell_count
    remaining = min(cell.charge for cell in pack.cells)
    warnings = sum(
        1 << index
        for index, cell in enumerate(pack.cells[:count])
        if cell.wire_resistance > WIRE_RESISTANCE_LIMIT
    )
    errors = (1 << 10) if len(voltages) != len(pack.cells) else 0  # cell count
    errors |= (1 << 8) if warnings else 0  # wire resistance
    jitter = device.jitter
    return {
        "total_voltage": sum(voltages),
        "current": round(pack.pack_current, 3),
        "temperature_sensor_1": 24.0 + device.rng.uniform(-1, 1) * jitter,
        "temperature_sensor_2": 24.5 + device.rng.uniform(-1, 1) * jitter,
        "power_tube_temperature": 27.0 + abs(pack.pack_current) / 4,
        "errors_mask": errors,
        "wire_resistance_warning_mask": warnings,
        "state_of_charge": round(100 * remaining / pack.capacity),
        "remaining_capacity": round(remaining, 3),
        "estimated_capacity": device.settings.battery_capacity,
        "cycle_count": device.cycle_count,
        "state_of_health": 100,
        "charging": 1,
        "discharging": 1,
    }
