"""Building blocks of OCPP 2.0.1 payloads shared by the adapter and the handlers."""

from __future__ import annotations

from typing import Any

from simulators.meter import Reading
from simulators.transaction import timestamp

#: 1.6-style connector statuses and their 2.0.1 ConnectorStatusEnumType.
CONNECTOR_STATUS = {
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Finishing": "Occupied",
}

#: 1.6 StopTransaction reasons and their 2.0.1 ReasonEnumType.
STOPPED_REASON = {
    "HardReset": "ImmediateReset",
    "SoftReset": "Reboot",
    "UnlockCommand": "Other",
}

#: triggerReason of the Ended event, by the stop reason as given (1.6 or 2.0.1 name).
TRIGGER_BY_REASON = {
    "Local": "StopAuthorized",
    "MasterPass": "StopAuthorized",
    "Remote": "RemoteStop",
    "EVDisconnected": "EVCommunicationLost",
    "DeAuthorized": "Deauthorized",
    "LocalOutOfCredit": "Deauthorized",
    "ImmediateReset": "ResetCommand",
    "Reboot": "ResetCommand",
    "HardReset": "ResetCommand",
    "SoftReset": "ResetCommand",
    "UnlockCommand": "UnlockCommand",
    "EnergyLimitReached": "EnergyLimitReached",
    "TimeLimitReached": "TimeLimitReached",
    "SOCLimitReached": "ChargingStateChanged",
    "StoppedByEV": "ChargingStateChanged",
    "Timeout": "EVConnectTimeout",
}
DEFAULT_STOP_TRIGGER = "AbnormalCondition"

#: triggerReason of an Updated event carrying meter values, by reading context.
TRIGGER_BY_CONTEXT = {"Sample.Periodic": "MeterValuePeriodic", "Sample.Clock": "MeterValueClock"}


def sampled_value(reading: Reading, context: str) -> dict[str, Any]:
    """A 2.0.1 SampledValueType: numeric value, unit inside unitOfMeasure."""
    value: dict[str, Any] = {
        "value": reading.value,
        "context": context,
        "measurand": reading.measurand,
        "location": reading.location,
        "unitOfMeasure": {"unit": reading.unit},
    }
    if reading.phase:
        value["phase"] = reading.phase
    return value


def meter_value(readings: list[Reading], context: str) -> dict[str, Any]:
    """One 2.0.1 MeterValueType, timestamped now."""
    return {
        "timestamp": timestamp(),
        "sampledValue": [sampled_value(reading, context) for reading in readings],
    }


def id_token_field(value: str, token_type: str) -> dict[str, Any]:
    """An IdTokenType."""
    return {"idToken": value, "type": token_type}
