"""1.6 DataTransfer and the status notifications (core and security extension)."""

from __future__ import annotations

from csms.domain.clock import parse_timestamp
from csms.node.context import Payload, Session
from csms.store import charger_events
from csms.store import chargers as charger_store


async def data_transfer(session: Session, payload: Payload) -> Payload:
    # No vendor extensions are registered yet: every vendorId is unknown (1.6 section 4.3).
    await charger_events.record(
        session.pool, session.charge_point_id, "DataTransfer", payload, kind=payload["vendorId"]
    )
    return {"status": "UnknownVendorId"}


async def diagnostics_status_notification(session: Session, payload: Payload) -> Payload:
    await charger_store.record_charger_status(
        session.pool, session.charge_point_id, diagnostics_status=payload["status"]
    )
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        "DiagnosticsStatusNotification",
        payload,
        kind=payload["status"],
    )
    return {}


async def firmware_status_notification(session: Session, payload: Payload) -> Payload:
    await charger_store.record_charger_status(
        session.pool, session.charge_point_id, firmware_status=payload["status"]
    )
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        "FirmwareStatusNotification",
        payload,
        kind=payload["status"],
    )
    return {}


async def signed_firmware_status_notification(session: Session, payload: Payload) -> Payload:
    await charger_store.record_charger_status(
        session.pool, session.charge_point_id, firmware_status=payload["status"]
    )
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        "SignedFirmwareStatusNotification",
        payload,
        kind=payload["status"],
    )
    return {}


async def security_event_notification(session: Session, payload: Payload) -> Payload:
    session.log.warning("security event %s", payload["type"])
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        "SecurityEventNotification",
        payload,
        kind=payload["type"],
        occurred_at=parse_timestamp(payload["timestamp"]),
    )
    return {}


async def log_status_notification(session: Session, payload: Payload) -> Payload:
    await charger_events.record(
        session.pool,
        session.charge_point_id,
        "LogStatusNotification",
        payload,
        kind=payload["status"],
    )
    return {}
