"""Building blocks of OCPP 1.6 payloads shared by the adapter and the handlers."""

from __future__ import annotations

from typing import Any

from simulators.meter import Reading, decimal_string
from simulators.transaction import timestamp


def sampled_value(reading: Reading, context: str) -> dict[str, Any]:
    """A 1.6 SampledValue: the value is a string, the unit a field of its own."""
    value: dict[str, Any] = {
        "value": decimal_string(reading.value),
        "context": context,
        "format": "Raw",
        "measurand": reading.measurand,
        "location": reading.location,
        "unit": reading.unit,
    }
    if reading.phase:
        value["phase"] = reading.phase
    return value


def meter_value(readings: list[Reading], context: str) -> dict[str, Any]:
    """One 1.6 MeterValue element, timestamped now."""
    return {
        "timestamp": timestamp(),
        "sampledValue": [sampled_value(reading, context) for reading in readings],
    }
