"""G. Availability: StatusNotification."""

from __future__ import annotations

from csms.domain.chargers import NO_ERROR, ConnectorStatus
from csms.domain.clock import parse_timestamp
from csms.node.context import Context, Payload

# 2.0.1 has no error code: a fault is a "Faulted" status plus a NotifyEvent.
CONNECTOR_STATUSES = frozenset({"Available", "Occupied", "Reserved", "Unavailable", "Faulted"})


async def record_connector_status(
    ctx: Context, evse_id: int, connector_id: int, status: str, timestamp: str
) -> None:
    await ctx.services.chargers.connector_status(
        ctx.link,
        ConnectorStatus(
            evse_id=evse_id,
            connector_id=connector_id,
            status=status,
            error_code=NO_ERROR,
            info=None,
            vendor_id=None,
            vendor_error_code=None,
            status_at=parse_timestamp(timestamp),
        ),
    )


async def status_notification(ctx: Context, payload: Payload) -> Payload:
    await record_connector_status(
        ctx,
        int(payload["evseId"]),
        int(payload["connectorId"]),
        payload["connectorStatus"],
        payload["timestamp"],
    )
    return {}
