"""1.6 DataTransfer and the status notifications (core and security extension)."""

from __future__ import annotations

from csms.domain.clock import parse_timestamp
from csms.node.context import Handler, Payload, Session
from csms.store import charger_events
from csms.store import chargers as charger_store


async def data_transfer(session: Session, payload: Payload) -> Payload:
    # No vendor extensions are registered yet: every vendorId is unknown (1.6 section 4.3).
    await charger_events.record(
        session.pool, session.charge_point_id, "DataTransfer", payload, kind=payload["vendorId"]
    )
    return {"status": "UnknownVendorId"}


def _status_notification(action: str, column: str | None) -> Handler:
    """A handler that keeps the notification and, if ``column`` is set, the latest status
    on the charger (``firmware_status`` / ``diagnostics_status``)."""

    async def handler(session: Session, payload: Payload) -> Payload:
        status = payload["status"]
        if column is not None:
            await charger_store.record_charger_status(
                session.pool, session.charge_point_id, **{column: status}
            )
        await charger_events.record(
            session.pool, session.charge_point_id, action, payload, kind=status
        )
        return {}

    handler.__name__ = action
    return handler


diagnostics_status_notification = _status_notification(
    "DiagnosticsStatusNotification", "diagnostics_status"
)
firmware_status_notification = _status_notification("FirmwareStatusNotification", "firmware_status")
signed_firmware_status_notification = _status_notification(
    "SignedFirmwareStatusNotification", "firmware_status"
)
log_status_notification = _status_notification("LogStatusNotification", None)


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


async def sign_certificate(session: Session, payload: Payload) -> Payload:
    # Security whitepaper A02/A03 (1.6 edition 3): no certificate authority is integrated
    # yet, so the CSR cannot be processed; say so rather than accept and never sign.
    await charger_events.record(
        session.pool, session.charge_point_id, "SignCertificate", payload, kind="Rejected"
    )
    session.log.warning("SignCertificate rejected: no certificate authority configured")
    return {"status": "Rejected"}
