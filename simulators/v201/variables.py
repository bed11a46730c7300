"""The 2.0.1 device model, flattened: ``"Component.Variable" -> value`` (Actual attribute)."""

from __future__ import annotations

from typing import Any

from simulators.config import StationConfig

_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"


def default_variables(config: StationConfig) -> tuple[dict[str, str], set[str]]:
    """The initial variables and which of them are read-only."""
    interval = str(max(1, round(config.meter_interval)))
    read_only = {
        "ChargingStation.Model": config.model,
        "ChargingStation.VendorName": config.vendor,
        "ChargingStation.AvailabilityState": "Available",
        "EVSE.Count": str(config.connectors),
        "SecurityCtrlr.SecurityProfile": "1" if config.password else "0",
        "SecurityCtrlr.Identity": config.charge_point_id,
        "DeviceDataCtrlr.ItemsPerMessageGetVariables": "50",
        "DeviceDataCtrlr.ItemsPerMessageSetVariables": "50",
        "DeviceDataCtrlr.ItemsPerMessageGetReport": "50",
        "AuthCtrlr.Enabled": "true",
    }
    read_write = {
        "OCPPCommCtrlr.HeartbeatInterval": "300",
        "OCPPCommCtrlr.OfflineThreshold": "60",
        "OCPPCommCtrlr.MessageTimeout": str(round(config.call_timeout)),
        "OCPPCommCtrlr.MessageAttemptsTransactionEvent": "3",
        "OCPPCommCtrlr.MessageAttemptIntervalTransactionEvent": "60",
        "OCPPCommCtrlr.ResetRetries": "1",
        "OCPPCommCtrlr.WebSocketPingInterval": "20",
        "SampledDataCtrlr.TxUpdatedInterval": interval,
        "SampledDataCtrlr.TxStartedMeasurands": "Energy.Active.Import.Register",
        "SampledDataCtrlr.TxUpdatedMeasurands": _MEASURANDS,
        "SampledDataCtrlr.TxEndedMeasurands": "Energy.Active.Import.Register",
        "AlignedDataCtrlr.Interval": "0",
        "AlignedDataCtrlr.Measurands": "Energy.Active.Import.Register",
        "AuthCtrlr.AuthorizeRemoteStart": "false",
        "AuthCtrlr.LocalAuthorizeOffline": "true",
        "AuthCtrlr.LocalPreAuthorize": "false",
        "AuthCacheCtrlr.Enabled": "false",
        "LocalAuthListCtrlr.Enabled": "true",
        "TxCtrlr.TxStartPoint": "Authorized",
        "TxCtrlr.TxStopPoint": "Authorized",
        "TxCtrlr.EVConnectionTimeOut": "120",
        "TxCtrlr.StopTxOnInvalidId": "true",
    }
    return read_only | read_write, set(read_only)


def key(component: str, variable: str) -> str:
    """The flat key of a component's variable."""
    return f"{component}.{variable}"


def components(variables: dict[str, str]) -> set[str]:
    """The component names present in ``variables``."""
    return {name.split(".", 1)[0] for name in variables}


def data_type(value: str) -> str:
    """A plausible DataEnumType for a stored value."""
    if value in ("true", "false"):
        return "boolean"
    if value.lstrip("-").isdigit():
        return "integer"
    if "," in value:
        return "MemberList"
    return "string"


def report_data(variables: dict[str, str], read_only: set[str]) -> list[dict[str, Any]]:
    """ReportDataType entries for every variable (NotifyReport)."""
    entries = []
    for name, value in sorted(variables.items()):
        component, variable = name.split(".", 1)
        entries.append(
            {
                "component": {"name": component},
                "variable": {"name": variable},
                "variableAttribute": [
                    {
                        "type": "Actual",
                        "value": value,
                        "mutability": "ReadOnly" if name in read_only else "ReadWrite",
                    }
                ],
                "variableCharacteristics": {
                    "dataType": data_type(value),
                    "supportsMonitoring": False,
                },
            }
        )
    return entries
