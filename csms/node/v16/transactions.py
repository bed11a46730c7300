"""1.6 StartTransaction, StopTransaction, MeterValues: idempotent under replay."""

from __future__ import annotations

from decimal import Decimal

from csms.cluster import events
from csms.domain.clock import parse_timestamp
from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v16.convert import id_tag_info, samples
from csms.store import transactions as tx_store


async def start_transaction(session: Session, payload: Payload) -> Payload:
    connector_id = payload["connectorId"]
    id_tag = payload["idTag"]
    started_at = parse_timestamp(payload["timestamp"])
    meter_start = payload["meterStart"]
    key = tx_store.ocpp16_start_key(connector_id, id_tag, started_at, meter_start)
    replayed = await tx_store.find_ocpp16_start(session.pool, session.charge_point_id, key)
    if replayed is not None:
        session.log.info("StartTransaction replayed: transaction %s", replayed.transaction_id)
        return _start_response(replayed)
    # A session is recorded whatever the decision: the charger may have started it offline
    # and will stop it itself when told the tag is not Accepted (1.6 section 5.19).
    authorization = await sessions.authorize_token(session, id_tag, starting=True)
    info = id_tag_info(authorization)
    transaction, created = await tx_store.start_ocpp16(
        session.pool,
        session.charge_point_id,
        connector_id=connector_id,
        id_token=id_tag,
        started_at=started_at,
        meter_start_wh=meter_start,
        reservation_id=payload.get("reservationId"),
        authorization_status=info["status"],
        parent_id_token=info.get("parentIdTag"),
    )
    sessions.remember_transaction(session, transaction.transaction_id, transaction.id)
    if created:
        session.publish(
            events.TRANSACTION_STARTED,
            transaction_id=transaction.transaction_id,
            connector_id=connector_id,
            id_token=id_tag,
            authorization=info["status"],
        )
        session.log.info(
            "transaction %s started on connector %d (%s)",
            transaction.transaction_id,
            connector_id,
            info["status"],
        )
    return _start_response(transaction, info if created else None)


def _start_response(transaction: tx_store.Transaction, info: Payload | None = None) -> Payload:
    if info is None:
        info = {"status": transaction.authorization_status or "Invalid"}
        if transaction.parent_id_token:
            info["parentIdTag"] = transaction.parent_id_token
    return {"transactionId": int(transaction.transaction_id), "idTagInfo": info}


async def stop_transaction(session: Session, payload: Payload) -> Payload:
    response: Payload = {}
    id_tag = payload.get("idTag")
    if id_tag is not None:
        response["idTagInfo"] = id_tag_info(await sessions.authorize_token(session, id_tag))
    transaction = await tx_store.get(
        session.pool, session.charge_point_id, str(payload["transactionId"])
    )
    if transaction is None:
        # Unknown here, or another charger's: answered so the charger drops it, not applied.
        session.log.warning("StopTransaction for unknown transaction %s", payload["transactionId"])
        return response
    transaction_data = payload.get("transactionData")
    if transaction_data:
        # Samples first: if we fail before the stop is recorded the replay stores them again,
        # and the unique index makes that a no-op.
        await sessions.store_samples(
            session,
            evse_id=0,
            connector_id=transaction.connector_id,
            transaction_pk=transaction.id,
            samples=samples(transaction_data),
        )
    applied = await sessions.end_transaction(
        session,
        transaction,
        ended_at=parse_timestamp(payload["timestamp"]),
        meter_stop_wh=Decimal(payload["meterStop"]),
        stop_reason=payload.get("reason", "Local"),
        stop_id_token=id_tag,
    )
    if applied:
        session.publish(events.TRANSACTION_ENDED, transaction_id=transaction.transaction_id)
        session.log.info("transaction %s stopped", transaction.transaction_id)
    else:
        session.log.info("StopTransaction %s replayed: no change", transaction.transaction_id)
    return response


async def meter_values(session: Session, payload: Payload) -> Payload:
    transaction_pk = None
    transaction_id = payload.get("transactionId")
    if transaction_id is not None:
        transaction_pk = await sessions.transaction_pk(session, str(transaction_id))
        if transaction_pk is None:
            session.log.warning("MeterValues for unknown transaction %s", transaction_id)
        else:
            session.publish(events.TRANSACTION_UPDATED, transaction_id=str(transaction_id))
    await sessions.store_samples(
        session,
        evse_id=0,
        connector_id=payload["connectorId"],
        transaction_pk=transaction_pk,
        samples=samples(payload["meterValue"]),
    )
    return {}
