"""record_and_apply_many against a real PostgreSQL: a batch of sequenced transaction
messages (2.0.1 TransactionEvents) must leave what recording and applying them one by one
would leave (E02/E03 ff.: events update their session; a replayed seqNo changes nothing)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import oracles
import pytest

from csms.domain.transactions import EventRecord, SessionChanges
from csms.store import chargers
from csms.store import transactions as tx

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
_COMPARED = (
    "last_seq_no", "last_trigger_reason", "offline", "started_at", "evse_id", "connector_id",
    "id_token", "id_token_type", "authorization_status", "charging_state", "remote_start_id",
    "reservation_id", "ended_at",
)  # fmt: skip


def changes(seq_no: int, **values: Any) -> SessionChanges:
    base: dict[str, Any] = dict.fromkeys(SessionChanges.__dataclass_fields__)
    base.update(seq_no=seq_no, trigger_reason="MeterValuePeriodic", offline=False)
    base.update(values)
    return SessionChanges(**base)


def event(pk: int, seq_no: int, **values: Any) -> EventRecord:
    return EventRecord(
        pk,
        "Updated",
        T0 + timedelta(seconds=seq_no),
        {"seqNo": seq_no, "note": values.pop("note", "")},
        changes(seq_no, **values),
    )


async def sessions(pool: asyncpg.Pool, count: int) -> list[int]:
    """``count`` pairs of identical 2.0.1 sessions: (batched, one by one) per index."""
    cp = f"CPT-{secrets.token_hex(5)}"
    await chargers.add_charger(pool, cp, password_hash=None)
    pks = []
    for i in range(count * 2):
        t = await tx.open_named(
            pool, cp, f"T{i}", protocol="ocpp2.0.1", started_at=T0, evse_id=1, connector_id=1
        )
        pks.append(t.id)
    return pks


async def state(pool: asyncpg.Pool, pk: int) -> tuple[Any, ...]:
    row = await pool.fetchrow(f"SELECT {', '.join(_COMPARED)} FROM transactions WHERE id = $1", pk)
    events = await pool.fetch(
        "SELECT seq_no, trigger_reason, payload FROM transaction_events"
        " WHERE transaction_pk = $1 ORDER BY seq_no",
        pk,
    )
    assert row is not None
    return tuple(row.values()), [tuple(e.values()) for e in events]


async def one_by_one(pool: asyncpg.Pool, events: list[EventRecord]) -> list[bool]:
    return [await oracles.record_and_apply(pool, e) for e in events]


async def same_as_one_by_one(pool: asyncpg.Pool, script: list[tuple[int, int, dict[str, Any]]]):
    """Run ``script`` (session index, seq_no, values) batched on one copy of the sessions
    and one by one on the other; return the batched results after comparing."""
    count = max(i for i, _, _ in script) + 1
    pks = await sessions(pool, count)
    batched = [event(pks[2 * i], seq, **dict(v)) for i, seq, v in script]
    single = [event(pks[2 * i + 1], seq, **dict(v)) for i, seq, v in script]
    got = await tx.record_and_apply_many(pool, batched)
    want = await one_by_one(pool, single)
    assert got == want
    for i in range(count):
        assert await state(pool, pks[2 * i]) == await state(pool, pks[2 * i + 1])
    return got


async def test_events_of_many_sessions_in_one_batch(pool: asyncpg.Pool) -> None:
    script = [
        (0, 1, {"charging_state": "Charging", "id_token": "A"}),
        (1, 1, {"charging_state": "EVConnected", "remote_start_id": 7}),
        (2, 3, {"offline": True, "trigger_reason": "ChargingStateChanged"}),
    ]
    assert await same_as_one_by_one(pool, script) == [True, True, True]


async def test_several_events_of_one_session_apply_in_order(pool: asyncpg.Pool) -> None:
    script = [
        (0, 1, {"charging_state": "Charging", "id_token": "FIRST"}),
        (0, 2, {"charging_state": "SuspendedEV", "id_token": "SECOND"}),  # first token stays
        (1, 1, {"charging_state": "Charging"}),
        (0, 3, {"charging_state": "Charging", "trigger_reason": "ChargingStateChanged"}),
    ]
    assert await same_as_one_by_one(pool, script) == [True, True, True, True]


async def test_a_replayed_seq_no_in_the_same_batch_changes_nothing(pool: asyncpg.Pool) -> None:
    script = [
        (0, 5, {"charging_state": "Charging", "note": "original"}),
        (0, 5, {"charging_state": "Idle", "note": "replay"}),
    ]
    assert await same_as_one_by_one(pool, script) == [True, False]


async def test_a_replay_of_an_earlier_batch_is_not_fresh(pool: asyncpg.Pool) -> None:
    [pk, _] = await sessions(pool, 1)
    assert await tx.record_and_apply_many(pool, [event(pk, 1)]) == [True]
    again = event(pk, 1, charging_state="Idle")
    assert await tx.record_and_apply_many(pool, [again, event(pk, 2)]) == [False, True]
    (row, events) = await state(pool, pk)
    assert [e[0] for e in events] == [1, 2]
    assert row[_COMPARED.index("charging_state")] is None  # the replay applied nothing


async def test_an_ended_session_keeps_its_state_but_records_the_event(
    pool: asyncpg.Pool,
) -> None:
    [pk, _] = await sessions(pool, 1)
    await pool.execute(
        "UPDATE transactions SET ended_at = $2, closed_by = 'charger' WHERE id = $1", pk, T0
    )
    assert await tx.record_and_apply_many(pool, [event(pk, 9, charging_state="X")]) == [True]
    (row, events) = await state(pool, pk)
    assert row[_COMPARED.index("charging_state")] is None
    assert [e[0] for e in events] == [9]
