"""E. Transactions: TransactionEvent, idempotent under replay.

One ``transactions`` row per (charger, transactionId), created by whichever event of the
transaction arrives first; ``transaction_events`` keeps one row per seqNo, so a replayed
event (same seqNo, after a reconnect, E04/E08/E11/E12 offline queues) changes nothing.

What makes an acknowledged event impossible to lose:

1. the meter samples are committed first (a replay stores them again as a no-op: they have
   a unique key);
2. Started/Updated: the seqNo is recorded and the event applied in one database
   transaction, so a crash cannot leave a recorded-but-unapplied event that its replay would
   then skip;
3. Ended: the session is ended first (ending is itself idempotent: an ended session stays as
   it is) and only then is the seqNo recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.cluster import events
from csms.domain.clock import parse_timestamp
from csms.domain.id_tokens import Authorization
from csms.domain.meter_values import MeterSample, first_and_last_register_wh
from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v201 import authorization as auth
from csms.node.v201.availability import only_connector, remember_connector
from csms.node.v201.convert import id_token_info, samples, status_name
from csms.store import transactions as tx_store
from csms.store.executor import Executor

STARTED = "Started"
ENDED = "Ended"
STOP_AUTHORIZED = "StopAuthorized"
CONCURRENT_TX = "ConcurrentTx"
# E06.FR.09 / E07.FR.04: a transaction ended by the driver may omit stoppedReason.
UPDATED = "Updated"
DEFAULT_STOP_REASON = "Local"
_EVENT_TYPES = {
    STARTED: events.TRANSACTION_STARTED,
    UPDATED: events.TRANSACTION_UPDATED,
    ENDED: events.TRANSACTION_ENDED,
}


async def transaction_event(session: Session, payload: Payload) -> Payload:
    info = payload["transactionInfo"]
    event_type = payload["eventType"]
    at = parse_timestamp(payload["timestamp"])
    evse_id, connector_id = _evse(session, payload.get("evse"))
    id_token: dict[str, Any] | None = payload.get("idToken")
    known = _known(session, info["transactionId"])
    if known is not None and event_type == UPDATED and id_token is None:
        # A periodic update of a session this connection has seen: no lookup, one statement.
        pk, known_evse, known_connector = known
        await _store_samples(
            session,
            payload,
            pk,
            known_evse if evse_id is None else evse_id,
            known_connector if connector_id is None else connector_id,
        )
        changes = _changes(payload, at, evse_id, connector_id, None)
        _report(session, payload, await _record_and_apply(session, pk, payload, at, changes))
        return {}
    transaction = await tx_store.open_ocpp201(
        session.pool,
        session.charge_point_id,
        info["transactionId"],
        started_at=at,
        evse_id=evse_id or 0,
        connector_id=connector_id or 0,
    )
    _remember(session, transaction)
    event_samples = await _store_samples(
        session,
        payload,
        transaction.id,
        transaction.evse_id if evse_id is None else evse_id,
        transaction.connector_id if connector_id is None else connector_id,
    )
    authorization = None
    if id_token is not None:
        # E01.FR.11 / E05.FR.01: verify the token even if the charger authorized it locally.
        authorization = await auth.decide(
            session,
            id_token,
            starting=_starting(payload, transaction, id_token["idToken"]),
            excluding_pk=transaction.id,
        )
    changes = _changes(payload, at, evse_id, connector_id, authorization)
    if event_type == ENDED:
        fresh = await _end(session, transaction, payload, at, event_samples, changes)
    else:
        fresh = await _record_and_apply(session, transaction.id, payload, at, changes)
        if fresh and id_token is not None and _stopping(payload):
            await tx_store.set_stop_id_token(session.pool, transaction.id, id_token["idToken"])
    _report(session, payload, fresh)
    response: Payload = {}
    if authorization is not None:
        # E01.FR.12 / E02.FR.02 / E03.FR.02; no totalCost: we do not bill yet.
        response["idTokenInfo"] = id_token_info(authorization)
    return response


_KNOWN = "v201_transactions"
_KNOWN_KEPT = 8


def _known(session: Session, transaction_id: str) -> tuple[int, int, int] | None:
    """(row id, evse id, connector id) of a transaction this connection has seen."""
    known: dict[str, tuple[int, int, int]] = session.extra.get(_KNOWN, {})
    return known.get(transaction_id)


def _remember(session: Session, transaction: tx_store.Transaction) -> None:
    known: dict[str, tuple[int, int, int]] = session.extra.setdefault(_KNOWN, {})
    known.pop(transaction.transaction_id, None)
    known[transaction.transaction_id] = (
        transaction.id,
        transaction.evse_id,
        transaction.connector_id,
    )
    if len(known) > _KNOWN_KEPT:
        del known[next(iter(known))]


async def _store_samples(
    session: Session, payload: Payload, pk: int, evse_id: int, connector_id: int
) -> list[MeterSample]:
    """Store the event's meter values first: a replay after a crash stores them again as
    no-ops, so nothing is lost between this and recording the event."""
    event_samples = samples(payload.get("meterValue", []))
    if event_samples:
        await sessions.store_samples(
            session,
            evse_id=evse_id,
            connector_id=connector_id,
            transaction_pk=pk,
            samples=event_samples,
        )
    return event_samples


def _report(session: Session, payload: Payload, fresh: bool) -> None:
    info = payload["transactionInfo"]
    if not fresh:
        session.log.info(
            "TransactionEvent %s seqNo %d replayed: no change",
            info["transactionId"],
            payload["seqNo"],
        )
        return
    if payload["eventType"] == STARTED:
        session.log.info("transaction %s started", info["transactionId"])
    evse = payload.get("evse")
    session.publish(
        _EVENT_TYPES[payload["eventType"]],
        transaction_id=info["transactionId"],
        evse_id=evse["id"] if evse else None,
        seq_no=payload["seqNo"],
        trigger_reason=payload["triggerReason"],
        charging_state=info.get("chargingState"),
    )


def _evse(session: Session, evse: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(evse id, connector id) of the event; an omitted connector of a one-connector EVSE
    is filled in from what the charger reported before."""
    if evse is None:
        return None, None
    evse_id: int = evse["id"]
    connector_id: int | None = evse.get("connectorId")
    if connector_id is None:
        connector_id = only_connector(session, evse_id)
    else:
        remember_connector(session, evse_id, connector_id)
    return evse_id, connector_id


def _stopping(payload: Payload) -> bool:
    """The idToken of this event is the one that ended the authorization (E07.FR.02)."""
    return bool(payload["triggerReason"] == STOP_AUTHORIZED)


def _starting(payload: Payload, transaction: tx_store.Transaction, token: str) -> bool:
    """Whether the token is being used to start the session: then a token that does not
    allow concurrent sessions and has another one gets ConcurrentTx.

    True for Started, for the first token a session gets, and for the start token of a
    session that got ConcurrentTx (so a replay answers the same, and the answer clears once
    the other session ends). Never for a stop token or for Ended.
    """
    if payload["eventType"] == ENDED or _stopping(payload):
        return False
    return (
        payload["eventType"] == STARTED
        or transaction.id_token is None
        or (transaction.id_token == token and transaction.authorization_status == CONCURRENT_TX)
    )


def _changes(
    payload: Payload,
    at: datetime,
    evse_id: int | None,
    connector_id: int | None,
    authorization: Authorization | None,
) -> dict[str, Any]:
    """The keyword arguments of ``update_ocpp201`` for this event."""
    info = payload["transactionInfo"]
    id_token = payload.get("idToken")
    start_token = None if id_token is None or _stopping(payload) else id_token
    # A stop token's decision is answered but not stored as the session's authorization.
    decided = authorization if start_token is not None else None
    return {
        "seq_no": payload["seqNo"],
        "trigger_reason": payload["triggerReason"],
        "offline": payload.get("offline", False),
        "started_at": at if payload["eventType"] == STARTED else None,
        "evse_id": evse_id,
        "connector_id": connector_id,
        "id_token": start_token["idToken"] if start_token else None,
        "id_token_type": start_token["type"] if start_token else None,
        "authorization_status": status_name(decided.status) if decided else None,
        "parent_id_token": decided.parent_id_token if decided else None,
        "charging_state": info.get("chargingState"),
        "remote_start_id": info.get("remoteStartId"),
        "reservation_id": payload.get("reservationId"),
    }


async def _record_and_apply(
    session: Session, pk: int, payload: Payload, at: datetime, changes: dict[str, Any]
) -> bool:
    # One statement: the event row and what it changes, or neither (a replayed seqNo).
    return await session.services.batches.transaction_event(
        tx_store.EventRecord(pk, payload["eventType"], at, payload, changes)
    )


async def _end(
    session: Session,
    transaction: tx_store.Transaction,
    payload: Payload,
    at: datetime,
    event_samples: list[MeterSample],
    changes: dict[str, Any],
) -> bool:
    # What the Ended event says (a first token, offline flag, state) is applied first, while
    # the session is still active; both steps are no-ops once it has ended.
    await tx_store.update_ocpp201(session.pool, transaction.id, **changes)
    _, meter_stop = first_and_last_register_wh(event_samples)
    id_token = payload.get("idToken")
    ended = await sessions.end_transaction(
        session,
        transaction,
        ended_at=at,
        meter_stop_wh=meter_stop,  # None: the store falls back to the stored samples
        stop_reason=payload["transactionInfo"].get("stoppedReason", DEFAULT_STOP_REASON),
        stop_id_token=(id_token["idToken"] or None) if id_token else None,
    )
    if ended:
        session.log.info("transaction %s ended", transaction.transaction_id)
    return await _record(session.pool, transaction.id, payload, at)


async def _record(db: Executor, pk: int, payload: Payload, at: datetime) -> bool:
    return await tx_store.record_event(
        db,
        pk,
        seq_no=payload["seqNo"],
        event_type=payload["eventType"],
        trigger_reason=payload["triggerReason"],
        occurred_at=at,
        offline=payload.get("offline", False),
        payload=payload,
    )
