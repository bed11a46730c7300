"""2.0.1 configuration commands: the device model read and written (GetVariables,
SetVariables, reports, network profiles).

``get_configuration`` / ``set_configuration`` name a variable with a key written
``Component[/instance].Variable[/instance]`` (e.g. ``OCPPCommCtrlr.HeartbeatInterval``,
``TokenReader/front.Enabled``): the component and the variable are separated by the first
``.``, a name and its instance by the first ``/``. Variables of a component on an EVSE, or
attributes other than Actual, are read and written with ``get_variables`` /
``set_variables``.
"""

from __future__ import annotations

from typing import Any

from csms.domain.commands import ParamReader
from csms.domain.reports import DEFAULT_ATTRIBUTE, NO_EVSE, VariableRow
from csms.node.command_types import Entry, Payload, with_optional
from csms.services.reports import ReportService

ACCEPTED = "Accepted"
CHANGED = frozenset({"Accepted", "RebootRequired"})  # SetVariableStatus that took the value


def _named(text: str) -> Payload:
    name, _, instance = text.partition("/")
    return with_optional({"name": name}, instance=instance or None)


def component_variable(p: ParamReader, key: str) -> Payload:
    """``{"component": ..., "variable": ...}`` of a ``Component[/i].Variable[/i]`` key."""
    component, _, variable = key.partition(".")
    if not component or not variable or component.startswith("/") or variable.startswith("/"):
        raise p.error(
            f"{key!r} is not a 2.0.1 key: write Component.Variable or "
            "Component/instance.Variable/instance"
        )
    return {"component": _named(component), "variable": _named(variable)}


def variable_identity(data: Payload) -> tuple[str, str, int, int, str, str, str]:
    """The device_model_variables key of a GetVariableData / SetVariableData / result."""
    component, variable = data["component"], data["variable"]
    evse = component.get("evse") or {}
    return (
        component["name"],
        component.get("instance", ""),
        int(evse.get("id", NO_EVSE)),
        int(evse.get("connectorId", NO_EVSE)),
        variable["name"],
        variable.get("instance", ""),
        data.get("attributeType", DEFAULT_ATTRIBUTE),
    )


def _row(data: Payload, value: str | None) -> VariableRow:
    # GetVariables/SetVariables do not tell mutability or characteristics (NotifyReport does)
    return VariableRow(*variable_identity(data), value, None, None)


async def store_read_variables(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    """Remember every value the charger answered with Accepted."""
    rows = [
        _row(result, result.get("attributeValue"))
        for result in response.get("getVariableResult", [])
        if result["attributeStatus"] == ACCEPTED
    ]
    await reports.variables_reported(charge_point_id, rows)


async def store_written_variables(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    """Remember the values the charger took (Accepted or RebootRequired)."""
    sent: dict[tuple[Any, ...], str] = {
        variable_identity(data): data["attributeValue"] for data in request["setVariableData"]
    }
    rows = []
    for result in response.get("setVariableResult", []):
        identity = variable_identity(result)
        if result["attributeStatus"] in CHANGED and identity in sent:
            rows.append(_row(result, sent[identity]))
    await reports.variables_changed(charge_point_id, rows)


def get_configuration(p: ParamReader) -> Payload:
    if not p.has("keys"):
        raise p.error(
            "keys is required for OCPP 2.0.1 chargers (get_base_report reads the whole "
            "device model)"
        )
    return {"getVariableData": [component_variable(p, key) for key in p.texts("keys")]}


def set_configuration(p: ParamReader) -> Payload:
    data = component_variable(p, p.text("key"))
    return {"setVariableData": [{**data, "attributeValue": p.setting("value")}]}


def get_variables(p: ParamReader) -> Payload:
    return {"getVariableData": p.items("get_variable_data")}


def set_variables(p: ParamReader) -> Payload:
    return {"setVariableData": p.items("set_variable_data")}


def get_base_report(p: ParamReader) -> Payload:
    return {"requestId": p.request_id(), "reportBase": p.text("report_base")}


def get_report(p: ParamReader) -> Payload:
    return with_optional(
        {"requestId": p.request_id()},
        componentVariable=p.opt_items("component_variable"),
        componentCriteria=p.opt_items("component_criteria"),
    )


def set_network_profile(p: ParamReader) -> Payload:
    return {
        "configurationSlot": p.integer("configuration_slot"),
        "connectionData": p.mapping("connection_data"),
    }


ENTRIES: tuple[Entry, ...] = (
    ("get_configuration", "GetVariables", get_configuration, store_read_variables),
    ("set_configuration", "SetVariables", set_configuration, store_written_variables),
    ("get_variables", "GetVariables", get_variables, store_read_variables),
    ("set_variables", "SetVariables", set_variables, store_written_variables),
    ("get_base_report", "GetBaseReport", get_base_report, None),
    ("get_report", "GetReport", get_report, None),
    ("set_network_profile", "SetNetworkProfile", set_network_profile, None),
)
