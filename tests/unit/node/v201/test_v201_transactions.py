"""E. TransactionEvent: one session per transactionId, replays change nothing, energy from
the register readings. Scenarios follow part 2 E01-E15 and the part 6 TC_E_*_CSMS cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from v201_harness import NOW, Harness

from csms.domain.clock import parse_timestamp
from csms.node.context import Context, Payload
from csms.node.v201 import SCHEMAS
from csms.node.v201.availability import status_notification
from csms.node.v201.transactions import transaction_event

TX = "tx-1"
TAG = {"idToken": "TAG-1", "type": "ISO14443"}


def event(
    event_type: str,
    seq_no: int,
    trigger: str,
    *,
    at: str = "2026-01-01T10:00:00Z",
    transaction_id: str = TX,
    info: dict[str, Any] | None = None,
    **fields: Any,
) -> Payload:
    payload: Payload = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **(info or {})},
        **fields,
    }
    SCHEMAS.validate("TransactionEvent", payload)
    return payload


def energy(value: float, context: str, at: str, unit: str = "Wh") -> list[dict[str, Any]]:
    sampled = {"value": value, "context": context, "unitOfMeasure": {"unit": unit}}
    return [{"timestamp": at, "sampledValue": [sampled]}]


async def send(ctx: Context, payload: Payload) -> Payload:
    response = await transaction_event(ctx, payload)
    SCHEMAS.validate("TransactionEvent", response, response=True)
    return response


async def test_e02_cable_plugged_in_first_then_authorized(ctx: Context, store: Harness) -> None:
    """E02.FR.01/02 (TC_E_03_CSMS): the session exists from Started; the Authorized event
    brings the token, which is verified and answered."""
    store.add_token("TAG-1")
    started = event(
        "Started",
        0,
        "CablePluggedIn",
        evse={"id": 1, "connectorId": 1},
        meterValue=energy(1000, "Transaction.Begin", "2026-01-01T10:00:00Z"),
    )
    assert await send(ctx, started) == {}
    response = await send(ctx, event("Updated", 1, "Authorized", idToken=TAG))
    assert response == {"idTokenInfo": {"status": "Accepted"}}
    tx = store.transaction(TX)
    assert (tx.evse_id, tx.connector_id) == (1, 1)
    assert (tx.id_token, tx.id_token_type, tx.authorization_status) == (
        "TAG-1",
        "ISO14443",
        "Accepted",
    )
    assert tx.started_at == parse_timestamp("2026-01-01T10:00:00Z")
    assert tx.last_seq_no == 1 and tx.last_trigger_reason == "Authorized"
    [sample] = store.samples_of(tx.id)
    assert sample[1:4] == (1, 1, tx.id)  # evse, connector, transaction


async def test_e03_id_token_first_then_evse_known(ctx: Context, store: Harness) -> None:
    """E03.FR.02 (TC_E_04_CSMS): Started carries the token; the EVSE comes later
    (E01.FR.16), and so does the charging state (E01.FR.18)."""
    store.add_token("TAG-1", parent_id_token="GROUP-1")
    response = await send(ctx, event("Started", 0, "Authorized", idToken=TAG))
    assert response["idTokenInfo"]["groupIdToken"] == {"idToken": "GROUP-1", "type": "Central"}
    await send(
        ctx,
        event(
            "Updated",
            1,
            "CablePluggedIn",
            evse={"id": 2, "connectorId": 1},
            info={"chargingState": "Charging", "remoteStartId": 42},
            reservationId=5,
        ),
    )
    tx = store.transaction(TX)
    assert (tx.evse_id, tx.connector_id, tx.charging_state) == (2, 1, "Charging")
    assert (tx.parent_id_token, tx.remote_start_id, tx.reservation_id) == ("GROUP-1", 42, 5)


async def test_replayed_seq_no_is_answered_and_changes_nothing(
    ctx: Context, store: Harness
) -> None:
    """A replay (same seqNo, e.g. after a reconnect) gets a valid answer, no change."""
    await send(ctx, event("Started", 0, "CablePluggedIn"))
    first = event("Updated", 1, "ChargingStateChanged", info={"chargingState": "Charging"})
    await send(ctx, first)
    await send(
        ctx, event("Updated", 2, "ChargingStateChanged", info={"chargingState": "SuspendedEV"})
    )
    assert await send(ctx, first) == {}
    tx = store.transaction(TX)
    assert (tx.charging_state, tx.last_seq_no) == ("SuspendedEV", 2)
    assert len(store.transactions) == 1


async def test_started_and_updated_record_and_apply_atomically_with_samples(
    ctx: Context, store: Harness
) -> None:
    """Nothing acknowledged is lost: the samples, the seqNo and its changes are one write
    (record_and_apply with the samples: all or nothing), one round trip per event."""
    await send(
        ctx,
        event(
            "Started",
            0,
            "CablePluggedIn",
            evse={"id": 1, "connectorId": 1},
            meterValue=energy(5, "Transaction.Begin", "2026-01-01T10:00:00Z"),
        ),
    )
    assert store.calls[:2] == ["open_named", "record_and_apply"]
    assert "add_samples" not in store.calls
    store.calls.clear()
    await send(
        ctx,
        event(
            "Updated",
            1,
            "MeterValuePeriodic",
            meterValue=energy(9, "Sample.Periodic", "2026-01-01T10:01:00Z"),
        ),
    )
    assert store.calls == ["record_and_apply"]  # a known session: the one write alone
    tx = store.transaction(TX)
    samples = store.samples_of(tx.id)
    assert [s[1:4] for s in samples] == [(1, 1, tx.id)] * 2  # evse, connector, session


async def test_e06_ended_energy_from_the_ended_register_reading(
    ctx: Context, store: Harness
) -> None:
    """E06.FR.11: Transaction.End reading (here in kWh) is the meter stop; the start is the
    Transaction.Begin reading stored earlier. E06.FR.09: no stoppedReason means Local."""
    await send(
        ctx,
        event(
            "Started",
            0,
            "CablePluggedIn",
            meterValue=energy(1000, "Transaction.Begin", "2026-01-01T10:00:00Z"),
        ),
    )
    store.calls.clear()
    ended = event(
        "Ended",
        1,
        "StopAuthorized",
        at="2026-01-01T11:00:00Z",
        idToken=TAG,
        meterValue=energy(13.5, "Transaction.End", "2026-01-01T11:00:00Z", unit="kWh"),
    )
    await send(ctx, ended)
    tx = store.transaction(TX)
    assert tx.ended_at == parse_timestamp("2026-01-01T11:00:00Z")
    assert (tx.meter_start_wh, tx.meter_stop_wh, tx.energy_wh) == (
        Decimal(1000),
        Decimal(13500),
        Decimal(12500),
    )
    assert (tx.stop_reason, tx.stop_id_token) == ("Local", "TAG-1")
    assert tx.id_token is None  # a stop token is not the session's start token
    # Ended: samples, then the (idempotent) end, and only then the seqNo.
    assert store.calls == [
        "open_named",
        "add_samples",
        "apply",
        "register_readings_wh",
        "finish",
        "record_event",
    ]


async def test_e06_stopped_reason_and_ended_replay(ctx: Context, store: Harness) -> None:
    """TC_E_21_CSMS: stoppedReason Remote is kept; a replayed Ended changes nothing."""
    await send(ctx, event("Started", 0, "RemoteStart"))
    ended = event(
        "Ended", 1, "RemoteStop", info={"stoppedReason": "Remote"}, at="2026-01-01T10:30:00Z"
    )
    await send(ctx, ended)
    again = dict(ended, timestamp="2026-01-01T10:45:00Z")
    await send(ctx, again)
    tx = store.transaction(TX)
    assert tx.stop_reason == "Remote"
    assert tx.ended_at == parse_timestamp("2026-01-01T10:30:00Z")


async def test_ended_without_reading_falls_back_to_stored_samples(
    ctx: Context, store: Harness
) -> None:
    at = "2026-01-01T10:00:00Z"
    await send(
        ctx,
        event("Started", 0, "CablePluggedIn", meterValue=energy(1000, "Transaction.Begin", at)),
    )
    periodic = energy(4, "Sample.Periodic", "2026-01-01T10:15:00Z", unit="kWh")
    await send(ctx, event("Updated", 1, "MeterValuePeriodic", meterValue=periodic))
    await send(
        ctx, event("Ended", 2, "EVCommunicationLost", info={"stoppedReason": "EVDisconnected"})
    )
    tx = store.transaction(TX)
    assert (tx.meter_stop_wh, tx.energy_wh) == (Decimal(4000), Decimal(3000))
    assert tx.stop_reason == "EVDisconnected"


async def test_e07_stop_token_is_answered_but_not_the_start_token(
    ctx: Context, store: Harness
) -> None:
    """E07.FR.02 / TC_C_39_CSMS: a group member stops the session with its own token."""
    store.add_token("TAG-1", parent_id_token="G")
    store.add_token("TAG-2", parent_id_token="G")
    await send(ctx, event("Started", 0, "Authorized", idToken=TAG))
    other = {"idToken": "TAG-2", "type": "ISO14443"}
    response = await send(ctx, event("Updated", 1, "StopAuthorized", idToken=other))
    assert response["idTokenInfo"]["status"] == "Accepted"
    assert store.transaction(TX).id_token == "TAG-1"


async def test_tc_e_31_updated_after_ended_changes_nothing(ctx: Context, store: Harness) -> None:
    """TC_E_31_CSMS: queued events arrive after Ended (skipped seqNos): answered, recorded,
    but the ended session stays as it is."""
    await send(ctx, event("Started", 0, "CablePluggedIn", info={"chargingState": "Charging"}))
    await send(
        ctx,
        event("Ended", 3, "EVCommunicationLost", offline=True, info={"chargingState": "Idle"}),
    )
    ended = store.transaction(TX)
    await send(ctx, event("Updated", 1, "StopAuthorized", offline=True, idToken=TAG))
    late = event(
        "Updated", 2, "ChargingStateChanged", offline=True, info={"chargingState": "EVConnected"}
    )
    assert await send(ctx, late) == {}
    assert store.transaction(TX) == ended
    assert (ended.charging_state, ended.offline, ended.last_seq_no) == ("Idle", True, 3)
    assert (store.transaction(TX).id, 1) in store.seq_nos


async def test_e05_unknown_token_is_unknown(ctx: Context, store: Harness) -> None:
    """E05.FR.01 / TC_E_16_CSMS: invalid_idtoken -> Invalid or Unknown."""
    response = await send(ctx, event("Started", 0, "Authorized", idToken=TAG))
    assert response == {"idTokenInfo": {"status": "Unknown"}}
    assert store.transaction(TX).authorization_status == "Unknown"


async def test_e04_blocked_token_started_offline_is_blocked_and_kept(
    ctx: Context, store: Harness
) -> None:
    """E04.FR.03: an offline start is recorded whatever the token; the answer says Blocked
    so the station can stop it (E05.FR.09/10)."""
    store.add_token("TAG-1", status="Blocked")
    started = event("Started", 0, "Authorized", offline=True, idToken=TAG)
    assert (await send(ctx, started))["idTokenInfo"]["status"] == "Blocked"
    tx = store.transaction(TX)
    assert (tx.offline, tx.authorization_status, tx.id_token) == (True, "Blocked", "TAG-1")


async def test_concurrent_tx_when_the_token_has_another_active_session(
    ctx: Context, store: Harness
) -> None:
    store.add_token("TAG-1")
    await send(ctx, event("Started", 0, "Authorized", idToken=TAG, transaction_id="tx-a"))
    second = event("Updated", 1, "Authorized", idToken=TAG, transaction_id="tx-b")
    await send(ctx, event("Started", 0, "CablePluggedIn", transaction_id="tx-b"))
    assert (await send(ctx, second))["idTokenInfo"]["status"] == "ConcurrentTx"
    assert store.transaction("tx-b").authorization_status == "ConcurrentTx"
    # the replay answers the same; the first session's later events stay Accepted
    assert (await send(ctx, second))["idTokenInfo"]["status"] == "ConcurrentTx"
    later = event("Updated", 1, "ChargingStateChanged", idToken=TAG, transaction_id="tx-a")
    assert (await send(ctx, later))["idTokenInfo"]["status"] == "Accepted"


async def test_concurrent_sessions_allowed_for_the_token(ctx: Context, store: Harness) -> None:
    store.add_token("TAG-1", allow_concurrent=True)
    await send(ctx, event("Started", 0, "Authorized", idToken=TAG, transaction_id="tx-a"))
    response = await send(
        ctx, event("Started", 0, "Authorized", idToken=TAG, transaction_id="tx-b")
    )
    assert response["idTokenInfo"]["status"] == "Accepted"


async def test_c02_no_authorization_token_is_accepted(ctx: Context, store: Harness) -> None:
    """C02.FR.01/02: a start button sends idToken "" of type NoAuthorization -> Accepted."""
    token = {"idToken": "", "type": "NoAuthorization"}
    response = await send(ctx, event("Started", 0, "Authorized", idToken=token))
    assert response == {"idTokenInfo": {"status": "Accepted"}}
    assert store.transaction(TX).id_token_type == "NoAuthorization"


async def test_first_event_received_may_be_ended(ctx: Context, store: Harness) -> None:
    """Whichever event comes first creates the session (E12: an offline transaction)."""
    ended = event(
        "Ended",
        5,
        "EVCommunicationLost",
        offline=True,
        evse={"id": 1, "connectorId": 2},
        info={"stoppedReason": "EVDisconnected"},
    )
    await send(ctx, ended)
    tx = store.transaction(TX)
    assert (tx.evse_id, tx.connector_id, tx.offline) == (1, 2, True)
    assert tx.ended_at is not None and "no_meter_reading" in tx.flags


async def test_e53_seq_no_restarts_at_zero_for_each_transaction(
    ctx: Context, store: Harness
) -> None:
    """TC_E_53_CSMS: seqNo 0 again for a new transaction is a new event, not a replay."""
    for transaction_id in ("tx-a", "tx-b"):
        await send(ctx, event("Started", 0, "CablePluggedIn", transaction_id=transaction_id))
    assert len(store.seq_nos) == 2
    assert store.transaction("tx-b").last_seq_no == 0


async def test_omitted_connector_is_filled_in_for_a_one_connector_evse(
    ctx: Context, store: Harness
) -> None:
    await status_notification(
        ctx,
        {
            "timestamp": "2026-01-01T09:59:00Z",
            "connectorStatus": "Occupied",
            "evseId": 3,
            "connectorId": 1,
        },
    )
    await send(ctx, event("Started", 0, "CablePluggedIn", evse={"id": 3}))
    tx = store.transaction(TX)
    assert (tx.evse_id, tx.connector_id) == (3, 1)
    assert tx.started_at < NOW
