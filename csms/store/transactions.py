"""Charging sessions of both OCPP versions in one table.

Idempotency lives in the schema: ``UNIQUE (charge_point_id, start_key)`` makes a replayed 1.6
StartTransaction find its transaction, ``ended_at IS NULL`` guards make a second stop a no-op,
and ``transaction_events`` keyed by ``(transaction, seq_no)`` makes a replayed 2.0.1
TransactionEvent change nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.store.executor import Executor

_COLUMNS = """id, charge_point_id, protocol, transaction_id, evse_id, connector_id, id_token,
    id_token_type, parent_id_token, authorization_status, remote_start_id, reservation_id,
    started_at, ended_at, meter_start_wh, meter_stop_wh, energy_wh, stop_reason, stop_id_token,
    charging_state, last_seq_no, last_trigger_reason, offline, flags"""

# 1.6 transactionId is a signed 32-bit integer; ours are random so none can be guessed.
_MAX_OCPP16_ID = 2**31 - 1
_ID_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int
    charge_point_id: str
    protocol: str
    transaction_id: str
    evse_id: int
    connector_id: int
    id_token: str | None
    id_token_type: str | None
    parent_id_token: str | None
    authorization_status: str | None
    remote_start_id: int | None
    reservation_id: int | None
    started_at: datetime
    ended_at: datetime | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    stop_reason: str | None
    stop_id_token: str | None
    charging_state: str | None
    last_seq_no: int | None
    last_trigger_reason: str | None
    offline: bool
    flags: list[str]

    @property
    def active(self) -> bool:
        return self.ended_at is None


def _tx(record: asyncpg.Record) -> Transaction:
    return Transaction(**dict(record))


async def start_ocpp16(
    db: Executor,
    charge_point_id: str,
    *,
    connector_id: int,
    id_token: str,
    started_at: datetime,
    meter_start_wh: int,
    reservation_id: int | None,
    authorization_status: str,
    parent_id_token: str | None,
) -> tuple[Transaction, bool]:
    """Create the session, or find the one this very StartTransaction created before.

    Returns ``(transaction, created)``.
    """
    start_key = ocpp16_start_key(connector_id, id_token, started_at, meter_start_wh)
    for _ in range(_ID_ATTEMPTS):
        transaction_id = str(secrets.randbelow(_MAX_OCPP16_ID) + 1)
        try:
            record = await db.fetchrow(
                f"""INSERT INTO transactions (charge_point_id, protocol, transaction_id,
                        start_key, evse_id, connector_id, id_token, id_token_type,
                        parent_id_token, authorization_status, reservation_id, started_at,
                        meter_start_wh)
                    VALUES ($1, 'ocpp1.6', $2, $3, 0, $4, $5, 'Central', $6, $7, $8, $9, $10)
                    ON CONFLICT (charge_point_id, start_key) DO NOTHING
                    RETURNING {_COLUMNS}""",
                charge_point_id,
                transaction_id,
                start_key,
                connector_id,
                id_token,
                parent_id_token,
                authorization_status,
                reservation_id,
                started_at,
                meter_start_wh,
            )
        except asyncpg.UniqueViolationError:
            continue  # the random id is taken by another charger's session: draw again
        if record is not None:
            return _tx(record), True
        existing = await find_ocpp16_start(db, charge_point_id, start_key)
        assert existing is not None
        return existing, False
    raise RuntimeError("could not draw a free transaction id")


def ocpp16_start_key(
    connector_id: int, id_token: str, started_at: datetime, meter_start_wh: int
) -> str:
    """What identifies one 1.6 StartTransaction across replays (1.6 has no transaction id
    until we answer)."""
    instant = started_at.astimezone(UTC).isoformat()  # the same instant, however written
    return f"{connector_id}|{id_token.lower()}|{instant}|{meter_start_wh}"


async def find_ocpp16_start(
    db: Executor, charge_point_id: str, start_key: str
) -> Transaction | None:
    record = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM transactions WHERE charge_point_id = $1 AND start_key = $2",
        charge_point_id,
        start_key,
    )
    return _tx(record) if record else None


async def get(db: Executor, charge_point_id: str, transaction_id: str) -> Transaction | None:
    record = await db.fetchrow(
        f"""SELECT {_COLUMNS} FROM transactions
            WHERE charge_point_id = $1 AND transaction_id = $2""",
        charge_point_id,
        transaction_id,
    )
    return _tx(record) if record else None


async def get_by_pk(db: Executor, pk: int) -> Transaction | None:
    record = await db.fetchrow(f"SELECT {_COLUMNS} FROM transactions WHERE id = $1", pk)
    return _tx(record) if record else None


async def finish(
    db: Executor,
    pk: int,
    *,
    ended_at: datetime,
    meter_stop_wh: Decimal | None,
    energy_wh: Decimal | None,
    flags: tuple[str, ...],
    stop_reason: str | None,
    stop_id_token: str | None,
    meter_start_wh: Decimal | None = None,
) -> bool:
    """End an active session. False (and nothing changed) if it had ended already."""
    result = await db.execute(
        """UPDATE transactions SET ended_at = $2, meter_stop_wh = $3, energy_wh = $4,
               flags = flags || $5::text[], stop_reason = $6,
               stop_id_token = coalesce($7, stop_id_token),
               meter_start_wh = coalesce(meter_start_wh, $8), updated_at = now()
           WHERE id = $1 AND ended_at IS NULL""",
        pk,
        ended_at,
        meter_stop_wh,
        energy_wh,
        list(flags),
        stop_reason,
        stop_id_token,
        meter_start_wh,
    )
    return result == "UPDATE 1"


async def set_stop_id_token(db: Executor, pk: int, stop_id_token: str) -> None:
    """Who ended the authorization (2.0.1 StopAuthorized may come before Ended)."""
    await db.execute(
        """UPDATE transactions SET stop_id_token = $2, updated_at = now()
           WHERE id = $1 AND ended_at IS NULL""",
        pk,
        stop_id_token,
    )


async def open_ocpp201(
    db: Executor,
    charge_point_id: str,
    transaction_id: str,
    *,
    started_at: datetime,
    evse_id: int,
    connector_id: int,
) -> Transaction:
    """The 2.0.1 session with this id, created by whichever of its events arrives first."""
    record = await db.fetchrow(
        f"""INSERT INTO transactions (charge_point_id, protocol, transaction_id, evse_id,
                connector_id, started_at)
            VALUES ($1, 'ocpp2.0.1', $2, $3, $4, $5)
            ON CONFLICT (charge_point_id, transaction_id) DO UPDATE
                SET updated_at = transactions.updated_at
            RETURNING {_COLUMNS}""",
        charge_point_id,
        transaction_id,
        evse_id,
        connector_id,
        started_at,
    )
    assert record is not None
    return _tx(record)


async def record_event(
    db: Executor,
    pk: int,
    *,
    seq_no: int,
    event_type: str,
    trigger_reason: str,
    occurred_at: datetime,
    offline: bool,
    payload: dict[str, Any],
) -> bool:
    """Remember one TransactionEvent; False if this seqNo was recorded before (a replay)."""
    result = await db.execute(
        """INSERT INTO transaction_events (transaction_pk, seq_no, event_type, trigger_reason,
               occurred_at, offline, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (transaction_pk, seq_no) DO NOTHING""",
        pk,
        seq_no,
        event_type,
        trigger_reason,
        occurred_at,
        offline,
        payload,
    )
    return result == "INSERT 0 1"


# What a TransactionEvent changes on its session, one rule per column: {old} is the column's
# current value, {new} what the event says. Both SET clauses below are made from these.
_UPDATE_RULES = (  # column, argument name, type, rule
    ("last_seq_no", "seq_no", "int", "greatest(coalesce({old}, {new}), {new})"),
    ("last_trigger_reason", "trigger_reason", "text", "{new}"),
    ("offline", "offline", "bool", "{old} OR {new}"),
    ("started_at", "started_at", "timestamptz", "least({old}, coalesce({new}, {old}))"),
    ("evse_id", "evse_id", "int", "coalesce({new}, {old})"),
    ("connector_id", "connector_id", "int", "coalesce({new}, {old})"),
    ("id_token", "id_token", "text", "coalesce({old}, {new})"),
    ("id_token_type", "id_token_type", "text", "coalesce({old}, {new})"),
    ("authorization_status", "authorization_status", "text", "coalesce({old}, {new})"),
    ("parent_id_token", "parent_id_token", "text", "coalesce({old}, {new})"),
    ("charging_state", "charging_state", "text", "coalesce({new}, {old})"),
    ("remote_start_id", "remote_start_id", "int", "coalesce({old}, {new})"),
    ("reservation_id", "reservation_id", "int", "coalesce({old}, {new})"),
)
_UPDATE_ARGS = tuple(arg for _, arg, _, _ in _UPDATE_RULES)
# unnest column types, in _UPDATE_ARGS order
_UPDATE_TYPES = tuple(type_ for _, _, type_, _ in _UPDATE_RULES)
# $1 = id, $2.. = _UPDATE_ARGS in order
_UPDATE_SET = ",\n    ".join(
    [
        f"{column} = {rule.format(old=column, new=f'${i}')}"
        for i, (column, _, _, rule) in enumerate(_UPDATE_RULES, start=2)
    ]
    + ["updated_at = now()"]
)
# the values from the unnest row ``v``, the session as ``t``
_MANY_SET = ",\n    ".join(
    [
        f"{column} = {rule.format(old=f't.{column}', new=f'v.{arg}')}"
        for column, arg, _, rule in _UPDATE_RULES
    ]
    + ["updated_at = now()"]
)


async def update_ocpp201(db: Executor, pk: int, **changes: Any) -> None:
    """Apply what an event says to a session that has not ended (an ended one stays as is).

    ``changes``: every name of ``_UPDATE_ARGS`` (None where the event says nothing).
    """
    await db.execute(
        f"UPDATE transactions SET {_UPDATE_SET} WHERE id = $1 AND ended_at IS NULL",
        pk,
        *(changes[name] for name in _UPDATE_ARGS),
    )


async def record_and_update_ocpp201(
    db: Executor,
    pk: int,
    *,
    event_type: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    **changes: Any,
) -> bool:
    """Record one TransactionEvent and apply it, in one statement (one round trip).

    False, and nothing changed, if this seqNo was recorded before (a replay); a session
    that has ended is left as it is, but the event is still kept.
    """
    fresh = await db.fetchval(
        f"""WITH recorded AS (
                INSERT INTO transaction_events (transaction_pk, seq_no, event_type,
                    trigger_reason, occurred_at, offline, payload)
                VALUES ($1, $2, $15, $3, $16, $4, $17)
                ON CONFLICT (transaction_pk, seq_no) DO NOTHING
                RETURNING 1
            ), applied AS (
                UPDATE transactions SET {_UPDATE_SET}
                WHERE id = $1 AND ended_at IS NULL AND EXISTS (SELECT 1 FROM recorded)
            )
            SELECT EXISTS (SELECT 1 FROM recorded)""",
        pk,
        *(changes[name] for name in _UPDATE_ARGS),
        event_type,
        occurred_at,
        payload,
    )
    return bool(fresh)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One TransactionEvent for record_and_update_ocpp201_many; ``changes`` as for
    update_ocpp201."""

    pk: int
    event_type: str
    occurred_at: datetime
    payload: dict[str, Any]
    changes: dict[str, Any]


async def record_and_update_ocpp201_many(db: Executor, events: Sequence[EventRecord]) -> list[bool]:
    """record_and_update_ocpp201 for many events, one statement per round; in order, one
    result per event. A session with several events in the batch gets one round each, so
    each applies after the one before, as one by one."""
    results: list[bool] = [False] * len(events)
    rounds: list[list[int]] = []
    seen: dict[int, int] = {}  # pk -> rounds it is in
    for index, event in enumerate(events):
        n = seen.get(event.pk, 0)
        seen[event.pk] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(index)
    for members in rounds:
        batch = [events[i] for i in members]
        fresh = await _record_and_update_round(db, batch)
        for i in members:
            event = events[i]
            results[i] = (event.pk, event.changes["seq_no"]) in fresh
    return results


async def _record_and_update_round(
    db: Executor, events: Sequence[EventRecord]
) -> set[tuple[int, int]]:
    """One statement for events of distinct sessions; the (pk, seq_no) recorded fresh."""
    columns = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_UPDATE_TYPES, start=2))
    n = len(_UPDATE_TYPES) + 2
    records = await db.fetch(
        f"""WITH v AS (
                SELECT * FROM unnest($1::bigint[], {columns}, ${n}::text[],
                                     ${n + 1}::timestamptz[], ${n + 2}::jsonb[])
                    AS v(pk, {", ".join(_UPDATE_ARGS)}, event_type, occurred_at, payload)
            ), recorded AS (
                INSERT INTO transaction_events (transaction_pk, seq_no, event_type,
                    trigger_reason, occurred_at, offline, payload)
                SELECT pk, seq_no, event_type, trigger_reason, occurred_at, offline, payload
                FROM v
                ON CONFLICT (transaction_pk, seq_no) DO NOTHING
                RETURNING transaction_pk, seq_no
            ), applied AS (
                UPDATE transactions t SET {_MANY_SET}
                FROM v JOIN recorded r ON r.transaction_pk = v.pk AND r.seq_no = v.seq_no
                WHERE t.id = v.pk AND t.ended_at IS NULL
            )
            SELECT transaction_pk, seq_no FROM recorded""",
        [e.pk for e in events],
        *([e.changes[name] for e in events] for name in _UPDATE_ARGS),
        [e.event_type for e in events],
        [e.occurred_at for e in events],
        [e.payload for e in events],
    )
    return {(r["transaction_pk"], r["seq_no"]) for r in records}


async def list_transactions(
    db: Executor,
    *,
    charge_point_id: str | None = None,
    id_token: str | None = None,
    active: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_pk: int | None = None,
) -> list[Transaction]:
    """Newest first; page with ``before_pk`` = the last id of the previous page."""
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM transactions
            WHERE ($1::text IS NULL OR charge_point_id = $1)
              AND ($2::text IS NULL OR lower(id_token) = lower($2))
              AND ($3::boolean IS NULL OR (ended_at IS NULL) = $3)
              AND ($4::timestamptz IS NULL OR started_at >= $4)
              AND ($5::timestamptz IS NULL OR started_at < $5)
              AND ($6::bigint IS NULL OR id < $6)
            ORDER BY id DESC LIMIT $7""",
        charge_point_id,
        id_token,
        active,
        since,
        until,
        before_pk,
        limit,
    )
    return [_tx(r) for r in records]
