"""1.6 BootNotification, Heartbeat, StatusNotification, Authorize."""

from __future__ import annotations

from csms.domain.chargers import ConnectorStatus
from csms.domain.clock import format_timestamp, parse_timestamp
from csms.node.context import Context, Payload
from csms.node.v16 import pricing
from csms.node.v16.convert import WHOLE_CHARGER_EVSE, id_tag, id_tag_info


async def boot_notification(ctx: Context, payload: Payload) -> Payload:
    outcome = await ctx.services.chargers.boot(
        ctx.link,
        {
            "vendor": payload["chargePointVendor"],
            "model": payload["chargePointModel"],
            "serial_number": payload.get("chargePointSerialNumber")
            or payload.get("chargeBoxSerialNumber"),
            "firmware_version": payload.get("firmwareVersion"),
            "iccid": payload.get("iccid"),
            "imsi": payload.get("imsi"),
            "meter_type": payload.get("meterType"),
            "meter_serial_number": payload.get("meterSerialNumber"),
        },
    )
    return {
        "status": outcome.status,
        "currentTime": format_timestamp(outcome.at),
        "interval": outcome.interval,
    }


async def heartbeat(ctx: Context, payload: Payload) -> Payload:
    return {"currentTime": format_timestamp(ctx.services.chargers.heartbeat(ctx.link))}


async def status_notification(ctx: Context, payload: Payload) -> Payload:
    timestamp = payload.get("timestamp")
    await ctx.services.chargers.connector_status(
        ctx.link,
        ConnectorStatus(
            evse_id=WHOLE_CHARGER_EVSE,
            connector_id=int(payload["connectorId"]),
            status=payload["status"],
            error_code=payload["errorCode"],
            info=payload.get("info"),
            vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"),
            status_at=parse_timestamp(timestamp) if timestamp else ctx.services.clock(),
        ),
    )
    return {}


async def authorize(ctx: Context, payload: Payload) -> Payload:
    token = id_tag(payload["idTag"])
    authorization = await ctx.services.sessions.authorize(token)
    await pricing.safely(ctx, pricing.after_authorize(ctx, token, authorization))
    return {"idTagInfo": id_tag_info(authorization)}
