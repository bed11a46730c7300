"""N. Diagnostics: LogStatusNotification, NotifyEvent, NotifyMonitoringReport,
NotifyCustomerInformation."""

from __future__ import annotations

from typing import Any

from csms.node.context import Context, Payload
from csms.node.v201.availability import CONNECTOR_STATUSES, record_connector_status
from csms.node.v201.events import remember
from csms.node.validation import whole

AVAILABILITY_STATE = "AvailabilityState"
EVSE_AS_A_WHOLE = 0


async def log_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.log_status(
        ctx.charge_point_id,
        "LogStatusNotification",
        payload,
        status=payload["status"],
        request_id=payload.get("requestId"),
    )
    return {}


async def notify_event(ctx: Context, payload: Payload) -> Payload:
    """One charger event per eventData, so alerts can be found and cleared one by one."""
    header: Payload = {k: payload[k] for k in ("generatedAt", "seqNo", "tbc") if k in payload}
    for event in payload["eventData"]:
        await remember(
            ctx,
            "NotifyEvent",
            {**header, **event},
            kind=event["trigger"],
            occurred_at=event["timestamp"],
        )
        await _availability(ctx, event)
    return {}


async def _availability(ctx: Context, event: dict[str, Any]) -> None:
    """E02.FR.05 allows a NotifyEvent on Connector.AvailabilityState instead of a
    StatusNotification: keep the connector status the same either way."""
    component = event["component"]
    evse = component.get("evse")
    status = event["actualValue"]
    if (
        event["variable"]["name"] != AVAILABILITY_STATE
        or evse is None
        or status not in CONNECTOR_STATUSES
    ):
        return
    if component["name"] == "EVSE":
        connector_id: int | None = EVSE_AS_A_WHOLE
    elif component["name"] == "Connector":
        connector_id = whole(evse.get("connectorId")) or ctx.link.only_connector(int(evse["id"]))
    else:
        return
    if connector_id is not None:
        await record_connector_status(
            ctx, int(evse["id"]), connector_id, status, event["timestamp"]
        )


async def notify_monitoring_report(ctx: Context, payload: Payload) -> Payload:
    # N02: the answer, in parts (tbc), to our GetMonitoringReportRequest(requestId).
    await remember(
        ctx,
        "NotifyMonitoringReport",
        payload,
        kind=payload["requestId"],
        occurred_at=payload["generatedAt"],
    )
    return {}


async def notify_customer_information(ctx: Context, payload: Payload) -> Payload:
    # N09: the answer, in parts (tbc), to our CustomerInformationRequest(requestId).
    await remember(
        ctx,
        "NotifyCustomerInformation",
        payload,
        kind=payload["requestId"],
        occurred_at=payload["generatedAt"],
    )
    return {}
