"""L. Firmware management: FirmwareStatusNotification, PublishFirmwareStatusNotification."""

from __future__ import annotations

from csms.node.context import Payload, Session
from csms.node.v201.events import remember
from csms.store import chargers as charger_store


async def firmware_status_notification(session: Session, payload: Payload) -> Payload:
    await charger_store.record_charger_status(
        session.pool, session.charge_point_id, firmware_status=payload["status"]
    )
    await remember(session, "FirmwareStatusNotification", payload, kind=payload["status"])
    return {}


async def publish_firmware_status_notification(session: Session, payload: Payload) -> Payload:
    # L03: a local controller publishing firmware to the stations behind it.
    await remember(session, "PublishFirmwareStatusNotification", payload, kind=payload["status"])
    return {}
