"""G. Availability: StatusNotification, and which connectors each EVSE has."""

from __future__ import annotations

from csms.cluster import events
from csms.domain.clock import parse_timestamp
from csms.node.context import Payload, Session
from csms.store import chargers as charger_store

_CONNECTORS = "connectors"  # Session.extra key: evse id -> connector ids seen
# 2.0.1 has no error code: a fault is a "Faulted" status plus a NotifyEvent.
NO_ERROR = "NoError"
CONNECTOR_STATUSES = frozenset({"Available", "Occupied", "Reserved", "Unavailable", "Faulted"})


def remember_connector(session: Session, evse_id: int, connector_id: int) -> None:
    """Note that ``evse_id`` has ``connector_id`` (to fill it in when a message omits it)."""
    if evse_id > 0 and connector_id > 0:
        session.extra.setdefault(_CONNECTORS, {}).setdefault(evse_id, set()).add(connector_id)


def only_connector(session: Session, evse_id: int) -> int | None:
    """The connector of an EVSE that has exactly one known connector, else None."""
    connectors = session.extra.get(_CONNECTORS, {}).get(evse_id, set())
    return next(iter(connectors)) if len(connectors) == 1 else None


async def record_connector_status(
    session: Session, evse_id: int, connector_id: int, status: str, timestamp: str
) -> None:
    remember_connector(session, evse_id, connector_id)
    await session.services.batches.connector_status(
        (
            session.charge_point_id,
            charger_store.ConnectorStatus(
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
    )
    session.publish(
        events.STATUS_CHANGED, evse_id=evse_id, connector_id=connector_id, status=status
    )


async def status_notification(session: Session, payload: Payload) -> Payload:
    await record_connector_status(
        session,
        payload["evseId"],
        payload["connectorId"],
        payload["connectorStatus"],
        payload["timestamp"],
    )
    return {}
