"""Handlers of OCPP 2.0.1 device-model CALLs: variables, reports, monitoring, customer data."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.transaction import timestamp
from simulators.v201.variables import accepts, components, key, report_data, split_key

Payload = dict[str, Any]
PRIORITY = "OCPPCommCtrlr.NetworkConfigurationPriority"


def _name(item: Payload) -> str:
    """The flat key a GetVariableData/SetVariableData item addresses."""
    variable = item["variable"]
    return key(item["component"]["name"], variable["name"], variable.get("instance"))


def _lookup_status(ctx: StationContext, item: Payload) -> str:
    name = _name(item)
    if item.get("attributeType", "Actual") != "Actual":
        return "NotSupportedAttributeType"
    if item["component"]["name"] not in components(ctx.state.configuration):
        return "UnknownComponent"
    if name not in ctx.state.configuration:
        return "UnknownVariable"
    return "Accepted"


def get_variables(ctx: StationContext, payload: Payload) -> Payload:
    results = []
    for item in payload["getVariableData"]:
        result = {
            "attributeStatus": _lookup_status(ctx, item),
            "component": item["component"],
            "variable": item["variable"],
        }
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        if result["attributeStatus"] == "Accepted":
            result["attributeValue"] = ctx.state.configuration[_name(item)]
        results.append(result)
    return {"getVariableResult": results}


def set_variables(ctx: StationContext, payload: Payload) -> Payload:
    results = []
    for item in payload["setVariableData"]:
        status = _lookup_status(ctx, item)
        name = _name(item)
        if status == "Accepted" and name in ctx.state.readonly:
            status = "Rejected"
        if status == "Accepted" and not accepts(name, item["attributeValue"]):
            status = "Rejected"
        if name == PRIORITY and not ctx.security.accepts_priority(item["attributeValue"]):
            status = "Rejected"  # a slot that is not set, or cannot be used (A05.FR.02/03)
        if status == "Accepted":
            ctx.state.configuration[name] = item["attributeValue"]
        result = {"attributeStatus": status, "component": item["component"]}
        result["variable"] = item["variable"]
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        results.append(result)
    return {"setVariableResult": results}


def _send_report(ctx: StationContext, request_id: int, names: set[str] | None) -> None:
    variables = {
        name: value
        for name, value in ctx.state.configuration.items()
        if names is None or name in names
    }
    report = report_data(variables, ctx.state.readonly)

    async def notify() -> None:
        await ctx.call(
            "NotifyReport",
            {
                "requestId": request_id,
                "generatedAt": timestamp(),
                "seqNo": 0,
                "tbc": False,
                "reportData": report,
            },
        )

    ctx.after(notify)


def get_base_report(ctx: StationContext, payload: Payload) -> Payload:
    base = payload["reportBase"]
    if base not in ("ConfigurationInventory", "FullInventory", "SummaryInventory"):
        return {"status": "NotSupported"}
    names = None
    if base == "SummaryInventory":
        names = {name for name in ctx.state.configuration if name.endswith("AvailabilityState")}
    elif base == "ConfigurationInventory":
        names = set(ctx.state.configuration) - ctx.state.readonly
    _send_report(ctx, payload["requestId"], names)
    return {"status": "Accepted"}


def get_report(ctx: StationContext, payload: Payload) -> Payload:
    wanted = payload.get("componentVariable")
    names: set[str] | None = None
    if wanted:
        names = {
            name for name in ctx.state.configuration for item in wanted if _matches(name, item)
        }
        if not names:
            return {"status": "EmptyResultSet"}
    _send_report(ctx, payload["requestId"], names)
    return {"status": "Accepted"}


def _matches(name: str, item: Payload) -> bool:
    """Whether the variable ``name`` is one a ComponentVariableType item asks for."""
    component, variable, instance = split_key(name)
    if component != item["component"]["name"]:
        return False
    wanted = item.get("variable")
    if wanted is None:
        return True
    return variable == wanted["name"] and wanted.get("instance") in (None, instance)


def get_monitoring_report(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "EmptyResultSet"}


def set_variable_monitoring(ctx: StationContext, payload: Payload) -> Payload:
    results = [
        {
            "status": "Rejected",
            "type": item["type"],
            "severity": item["severity"],
            "component": item["component"],
            "variable": item["variable"],
        }
        for item in payload["setMonitoringData"]
    ]
    return {"setMonitoringResult": results}


def clear_variable_monitoring(ctx: StationContext, payload: Payload) -> Payload:
    return {"clearMonitoringResult": [{"status": "NotFound", "id": i} for i in payload["id"]]}


def set_network_profile(ctx: StationContext, payload: Payload) -> Payload:
    slot, data = payload["configurationSlot"], payload["connectionData"]
    return {"status": ctx.security.set_network_profile(slot, data)}


def customer_information(ctx: StationContext, payload: Payload) -> Payload:
    request_id = payload["requestId"]
    if payload["report"]:

        async def notify() -> None:
            await ctx.call(
                "NotifyCustomerInformation",
                {
                    "data": "No customer data stored.",
                    "seqNo": 0,
                    "tbc": False,
                    "generatedAt": timestamp(),
                    "requestId": request_id,
                },
            )

        ctx.after(notify)
    return {"status": "Accepted"}
