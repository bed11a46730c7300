"""1.6 BootNotification, Heartbeat, StatusNotification, Authorize."""

from __future__ import annotations

from csms.cluster import events
from csms.domain.clock import format_timestamp, parse_timestamp
from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v16.convert import id_tag_info
from csms.store import chargers as charger_store


async def boot_notification(session: Session, payload: Payload) -> Payload:
    status, interval = await sessions.register_boot(
        session,
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
    now = session.services.clock()
    return {"status": status, "currentTime": format_timestamp(now), "interval": interval}


async def heartbeat(session: Session, payload: Payload) -> Payload:
    now = await sessions.record_heartbeat(session)
    return {"currentTime": format_timestamp(now)}


async def status_notification(session: Session, payload: Payload) -> Payload:
    timestamp = payload.get("timestamp")
    await session.services.batches.connector_status(
        (
            session.charge_point_id,
            charger_store.ConnectorStatus(
                evse_id=0,
                connector_id=payload["connectorId"],
                status=payload["status"],
                error_code=payload["errorCode"],
                info=payload.get("info"),
                vendor_id=payload.get("vendorId"),
                vendor_error_code=payload.get("vendorErrorCode"),
                status_at=parse_timestamp(timestamp) if timestamp else session.services.clock(),
            ),
        )
    )
    session.publish(
        events.STATUS_CHANGED,
        evse_id=0,
        connector_id=payload["connectorId"],
        status=payload["status"],
        error_code=payload["errorCode"],
    )
    return {}


async def authorize(session: Session, payload: Payload) -> Payload:
    authorization = await sessions.authorize_token(session, payload["idTag"])
    return {"idTagInfo": id_tag_info(authorization)}
