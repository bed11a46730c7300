"""2.0.1 monitoring (N) and display message (O) commands. The OCPP structures
(SetMonitoringData, MessageInfo, ComponentVariable) are taken as the charger expects them."""

from __future__ import annotations

from csms.domain.commands import ParamReader
from csms.node.command_types import Entry, Payload, with_optional


def set_variable_monitoring(p: ParamReader) -> Payload:
    return {"setMonitoringData": p.items("set_monitoring_data")}


def clear_variable_monitoring(p: ParamReader) -> Payload:
    return {"id": p.items("ids")}


def set_monitoring_base(p: ParamReader) -> Payload:
    return {"monitoringBase": p.text("monitoring_base")}


def set_monitoring_level(p: ParamReader) -> Payload:
    return {"severity": p.integer("severity")}


def get_monitoring_report(p: ParamReader) -> Payload:
    return with_optional(
        {"requestId": p.request_id()},
        componentVariable=p.opt_items("component_variable"),
        monitoringCriteria=p.opt_items("monitoring_criteria"),
    )


def set_display_message(p: ParamReader) -> Payload:
    return {"message": p.mapping("message")}


def get_display_messages(p: ParamReader) -> Payload:
    return with_optional(
        {"requestId": p.request_id()},
        id=p.opt_items("ids"),
        priority=p.opt_text("priority"),
        state=p.opt_text("state"),
    )


def clear_display_message(p: ParamReader) -> Payload:
    return {"id": p.integer("id")}


ENTRIES: tuple[Entry, ...] = (
    ("set_variable_monitoring", "SetVariableMonitoring", set_variable_monitoring, None),
    ("clear_variable_monitoring", "ClearVariableMonitoring", clear_variable_monitoring, None),
    ("set_monitoring_base", "SetMonitoringBase", set_monitoring_base, None),
    ("set_monitoring_level", "SetMonitoringLevel", set_monitoring_level, None),
    ("get_monitoring_report", "GetMonitoringReport", get_monitoring_report, None),
    ("set_display_message", "SetDisplayMessage", set_display_message, None),
    ("get_display_messages", "GetDisplayMessages", get_display_messages, None),
    ("clear_display_message", "ClearDisplayMessage", clear_display_message, None),
)
