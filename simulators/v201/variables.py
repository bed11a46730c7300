"""The 2.0.1 device model, flattened: ``"Component.Variable[Instance]" -> value``.

Only the Actual attribute is kept; the instance part is absent for variables without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
        # appendix 2.6: ItemsPerMessage of each message is an instance of the variable
        key("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): str(config.items_per_message),
        key("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): str(config.items_per_message),
        key("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): str(config.items_per_message),
        "AuthCtrlr.Enabled": "true",
    }
    read_write = {
        "SecurityCtrlr.OrganizationName": config.organization or "",
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
    tariff_read_only, tariff_read_write = tariff_cost_variables(config)
    variables = read_only | read_write | tariff_read_only | tariff_read_write
    return variables, set(read_only) | set(tariff_read_only)


def key(component: str, variable: str, instance: str | None = None) -> str:
    """The flat key of a component's variable (and instance)."""
    name = f"{component}.{variable}"
    return f"{name}[{instance}]" if instance else name


def split_key(name: str) -> tuple[str, str, str | None]:
    """(component, variable, instance) of a flat key."""
    component, variable = name.split(".", 1)
    if variable.endswith("]") and "[" in variable:
        variable, instance = variable[:-1].split("[", 1)
        return component, variable, instance
    return component, variable, None


def components(variables: dict[str, str]) -> set[str]:
    """The component names present in ``variables``."""
    return {name.split(".", 1)[0] for name in variables}


# -- TariffCostCtrlr (functional block I, appendix 2.10) ------------------------------------

TARIFF_COST = "TariffCostCtrlr"
TARIFF_ENABLED = key(TARIFF_COST, "Enabled", "Tariff")
COST_ENABLED = key(TARIFF_COST, "Enabled", "Cost")
TARIFF_FALLBACK = key(TARIFF_COST, "TariffFallbackMessage")
TOTAL_COST_FALLBACK = key(TARIFF_COST, "TotalCostFallbackMessage")
CURRENCY = key(TARIFF_COST, "Currency")


def tariff_cost_variables(config: StationConfig) -> tuple[dict[str, str], dict[str, str]]:
    """The TariffCostCtrlr variables (none unless ``display_cost_and_price``): read-only and
    read-write ones."""
    if not config.display_cost_and_price:
        return {}, {}
    read_only = {key(TARIFF_COST, "Available", "Tariff"): "true"}
    read_only[key(TARIFF_COST, "Available", "Cost")] = "true"
    read_write = {
        TARIFF_ENABLED: "true",
        COST_ENABLED: "true",
        TARIFF_FALLBACK: "Ask the operator for the price",
        TOTAL_COST_FALLBACK: "The total cost will be on your invoice",
        CURRENCY: config.currency,
    }
    return read_only, read_write


def _boolean(value: str) -> bool:
    return value in ("true", "false")


def _short_text(value: str) -> bool:
    return len(value) <= 255


def _currency(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Z]{3}", value))


#: What SetVariables may write to a variable (others: anything); a refused value is Rejected.
VALUE_RULES: dict[str, Callable[[str], bool]] = {
    TARIFF_ENABLED: _boolean,
    COST_ENABLED: _boolean,
    TARIFF_FALLBACK: _short_text,
    TOTAL_COST_FALLBACK: _short_text,
    CURRENCY: _currency,
}
#: Variables whose data type is string whatever their value looks like.
STRINGS = {TARIFF_FALLBACK, TOTAL_COST_FALLBACK, CURRENCY}


def accepts(name: str, value: str) -> bool:
    """Whether ``value`` may be written to the variable ``name``."""
    rule = VALUE_RULES.get(name)
    return rule is None or rule(value)


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
        component, variable, instance = split_key(name)
        entries.append(
            {
                "component": {"name": component},
                "variable": {"name": variable, **({"instance": instance} if instance else {})},
                "variableAttribute": [
                    {
                        "type": "Actual",
                        "value": value,
                        "mutability": "ReadOnly" if name in read_only else "ReadWrite",
                    }
                ],
                "variableCharacteristics": {
                    "dataType": "string" if name in STRINGS else data_type(value),
                    "supportsMonitoring": False,
                },
            }
        )
    return entries
