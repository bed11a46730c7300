"""Charging sessions of both OCPP versions in one table.

Idempotency lives in the schema: ``UNIQUE (charge_point_id, start_key)`` makes a replayed
start the CSMS named find its session, ``ended_at IS NULL`` guards make a second stop a no-op,
and ``transaction_events`` keyed by ``(transaction, seq_no)`` makes a replayed sequenced
message change nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import (
    CLOSED_BY_CSMS,
    ENDING_FLAGS,
    Ending,
    EventRecord,
    NewSession,
    SessionChanges,
    Transaction,
)
from csms.errors import NotFound
from csms.store import meter_values
from csms.store.batching import Row
from csms.store.executor import Executor

_COLUMNS = """id, charge_point_id, protocol, transaction_id, evse_id, connector_id, id_token,
    id_token_type, parent_id_token, authorization_status, remote_start_id, reservation_id,
    started_at, ended_at, meter_start_wh, meter_stop_wh, energy_wh, stop_reason, stop_id_token,
    charging_state, last_seq_no, last_trigger_reason, offline, flags, closed_by, close_reason"""

# A transaction id the CSMS draws is a signed 32-bit integer in 1.6; ours are random so none
# can be guessed, and unique across chargers (partial unique index).
_MAX_DRAWN_ID = 2**31 - 1
_ID_ATTEMPTS = 8


def _tx(record: asyncpg.Record) -> Transaction:
    return Transaction(**dict(record))


async def create_started(
    db: Executor, charge_point_id: str, new: NewSession
) -> tuple[Transaction, bool]:
    """Create a session the CSMS names (a random transaction id), or find the one this very
    start created before (same ``start_key``). Returns ``(transaction, created)``."""
    for _ in range(_ID_ATTEMPTS):
        transaction_id = str(secrets.randbelow(_MAX_DRAWN_ID) + 1)
        try:
            record = await db.fetchrow(
                f"""INSERT INTO transactions (charge_point_id, protocol, transaction_id,
                        start_key, evse_id, connector_id, id_token, id_token_type,
                        parent_id_token, authorization_status, reservation_id, started_at,
                        meter_start_wh)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                    ON CONFLICT (charge_point_id, start_key) DO NOTHING
                    RETURNING {_COLUMNS}""",
                charge_point_id,
                new.protocol,
                transaction_id,
                new.start_key,
                new.evse_id,
                new.connector_id,
                new.id_token,
                new.id_token_type,
                new.parent_id_token,
                new.authorization_status,
                new.reservation_id,
                new.started_at,
                new.meter_start_wh,
            )
        except asyncpg.UniqueViolationError:
            continue  # the random id is taken by another charger's session: draw again
        if record is not None:
            return _tx(record), True
        existing = await find_started(db, charge_point_id, new.start_key)
        assert existing is not None
        return existing, False
    raise RuntimeError("could not draw a free transaction id")


async def find_started(db: Executor, charge_point_id: str, start_key: str) -> Transaction | None:
    """The session a start with this key created, if any."""
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


async def finish(db: Executor, pk: int, ending: Ending) -> bool:
    """End a session: one that has not ended, or one the CSMS closed (the charger's own stop
    has the true readings and wins, once: it is then ended by the charger). False, and
    nothing changed, otherwise. A CSMS close (``ending.close_reason``) applies only to a
    session that has not ended."""
    result = await db.execute(
        f"""UPDATE transactions SET ended_at = $2, meter_stop_wh = $3, energy_wh = $4,
               flags = ARRAY(SELECT f FROM unnest(flags) AS f WHERE f <> ALL($9::text[]))
                       || $5::text[],
               stop_reason = $6, stop_id_token = coalesce($7, stop_id_token),
               meter_start_wh = coalesce(meter_start_wh, $8),
               closed_by = $10, close_reason = coalesce($11, close_reason),
               updated_at = now()
           WHERE id = $1 AND (ended_at IS NULL
                              OR ($11::text IS NULL AND closed_by = '{CLOSED_BY_CSMS}'))""",
        pk,
        ending.ended_at,
        ending.meter_stop_wh,
        ending.energy_wh,
        list(ending.flags),
        ending.stop_reason,
        ending.stop_id_token,
        ending.meter_start_wh,
        list(ENDING_FLAGS),
        ending.closed_by,
        ending.close_reason,
    )
    return result == "UPDATE 1"


async def open_sessions_of(
    db: Executor, charge_point_ids: Sequence[str]
) -> dict[str, list[Transaction]]:
    """The sessions of these chargers that have not ended, oldest first (every id is a
    key)."""
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM transactions
            WHERE charge_point_id = ANY($1::text[]) AND ended_at IS NULL
            ORDER BY started_at, id""",
        list(charge_point_ids),
    )
    found: dict[str, list[Transaction]] = {cp: [] for cp in charge_point_ids}
    for record in records:
        found[record["charge_point_id"]].append(_tx(record))
    return found


_LAST_ACTIVITY = """greatest(t.started_at,
    (SELECT max(sampled_at) FROM meter_values WHERE transaction_pk = t.id),
    (SELECT max(occurred_at) FROM transaction_events WHERE transaction_pk = t.id))"""


async def last_activity(db: Executor, pk: int) -> datetime | None:
    """The latest time a session's messages carry: its start, meter samples, events."""
    value: datetime | None = await db.fetchval(
        f"SELECT {_LAST_ACTIVITY} FROM transactions t WHERE t.id = $1", pk
    )
    return value


async def open_after_boot(db: Executor, booted_before: datetime) -> list[Transaction]:
    """Sessions not ended, of chargers that booted before ``booted_before``, with no
    activity since that boot (their charger has rebooted without ending them)."""
    records = await db.fetch(
        f"""SELECT {", ".join(f"t.{c.strip()}" for c in _COLUMNS.split(","))}
            FROM transactions t JOIN chargers c USING (charge_point_id)
            WHERE t.ended_at IS NULL AND c.last_boot_at < $1
              AND {_LAST_ACTIVITY} < c.last_boot_at
            ORDER BY t.id""",
        booted_before,
    )
    return [_tx(r) for r in records]


async def open_named(
    db: Executor,
    charge_point_id: str,
    transaction_id: str,
    *,
    protocol: str,
    started_at: datetime,
    evse_id: int,
    connector_id: int,
) -> Transaction:
    """The session the charger named ``transaction_id``, created by whichever of its
    messages arrives first."""
    record = await db.fetchrow(
        f"""INSERT INTO transactions (charge_point_id, protocol, transaction_id, evse_id,
                connector_id, started_at)
            VALUES ($1, $6, $2, $3, $4, $5)
            ON CONFLICT (charge_point_id, transaction_id) DO UPDATE
                SET updated_at = transactions.updated_at
            RETURNING {_COLUMNS}""",
        charge_point_id,
        transaction_id,
        evse_id,
        connector_id,
        started_at,
        protocol,
    )
    assert record is not None
    return _tx(record)


async def count_active_for_token(
    db: Executor, id_token: str, *, excluding_pk: int | None = None
) -> int:
    """Sessions of ``id_token`` that have not ended and that the CSMS authorized (a session
    it refused is not the token's), on any charger."""
    count = await db.fetchval(
        """SELECT count(*) FROM transactions
           WHERE lower(id_token) = lower($1) AND ended_at IS NULL AND id IS DISTINCT FROM $2
             AND authorization_status = 'Accepted'""",
        id_token,
        excluding_pk,
    )
    return int(count or 0)


async def record_event(db: Executor, event: EventRecord) -> bool:
    """Remember one sequenced message without applying it; False if this seqNo was
    recorded before (a replay)."""
    changes = event.changes
    result = await db.execute(
        """INSERT INTO transaction_events (transaction_pk, seq_no, event_type, trigger_reason,
               occurred_at, offline, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (transaction_pk, seq_no) DO NOTHING""",
        event.pk,
        changes.seq_no,
        event.event_type,
        changes.trigger_reason,
        event.occurred_at,
        changes.offline,
        event.payload,
    )
    return result == "INSERT 0 1"


# What a message changes on its session, one rule per column: {old} is the column's current
# value, {new} what the message says (a SessionChanges field of the same name). Both SET
# clauses below are made from these.
_UPDATE_RULES = (  # column, type, rule
    ("last_seq_no", "int", "greatest(coalesce({old}, {new}), {new})"),
    ("last_trigger_reason", "text", "coalesce({new}, {old})"),
    ("offline", "bool", "{old} OR {new}"),
    ("started_at", "timestamptz", "least({old}, coalesce({new}, {old}))"),
    ("evse_id", "int", "coalesce({new}, {old})"),
    ("connector_id", "int", "coalesce({new}, {old})"),
    ("id_token", "text", "coalesce({old}, {new})"),
    ("id_token_type", "text", "coalesce({old}, {new})"),
    ("authorization_status", "text", "coalesce({old}, {new})"),
    ("parent_id_token", "text", "coalesce({old}, {new})"),
    ("charging_state", "text", "coalesce({new}, {old})"),
    ("remote_start_id", "int", "coalesce({old}, {new})"),
    ("reservation_id", "int", "coalesce({old}, {new})"),
    ("stop_id_token", "text", "coalesce({new}, {old})"),
)
# the SessionChanges field each column takes its new value from
_CHANGE_FIELDS = {"last_seq_no": "seq_no", "last_trigger_reason": "trigger_reason"}
_UPDATE_ARGS = tuple(_CHANGE_FIELDS.get(column, column) for column, _, _ in _UPDATE_RULES)
_UPDATE_TYPES = tuple(type_ for _, type_, _ in _UPDATE_RULES)
# $1 = id, $2.. = _UPDATE_ARGS in order
_UPDATE_SET = ",\n    ".join(
    [
        f"{column} = {rule.format(old=column, new=f'${i}')}"
        for i, (column, _, rule) in enumerate(_UPDATE_RULES, start=2)
    ]
    + ["updated_at = now()"]
)
# the values from the unnest row ``v``, the session as ``t``
_MANY_SET = ",\n    ".join(
    [
        f"{column} = {rule.format(old=f't.{column}', new=f'v.{arg}')}"
        for (column, _, rule), arg in zip(_UPDATE_RULES, _UPDATE_ARGS, strict=True)
    ]
    + ["updated_at = now()"]
)


def _values(changes: SessionChanges) -> list[Any]:
    return [getattr(changes, name) for name in _UPDATE_ARGS]


async def apply(db: Executor, pk: int, changes: SessionChanges) -> None:
    """Apply what a message says to a session that has not ended (an ended one stays as
    it is)."""
    await db.execute(
        f"UPDATE transactions SET {_UPDATE_SET} WHERE id = $1 AND ended_at IS NULL",
        pk,
        *_values(changes),
    )


async def record_and_apply_many(
    db: Executor,
    events: Sequence[EventRecord],
    samples: Sequence[Sequence[Row]] | None = None,
) -> list[bool]:
    """Record each sequenced message and apply it, in order; one result per event: False,
    and nothing changed, for a seqNo recorded before (a replay). A session that has ended is
    left as it is, but the event is still kept.

    ``samples``, if given, are each event's meter rows (``meter_values.rows_for``), stored in
    the same statement as the event, fresh or not (a replayed set adds nothing): one round
    trip for a 2.0.1 TransactionEvent and its samples, committed together.

    One statement per round: a session with several events in the batch gets one round
    each, so each applies after the one before, as one by one."""
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
        rows = [] if samples is None else [row for i in members for row in samples[i]]
        fresh = await _record_and_apply_round(db, batch, rows)
        for i in members:
            event = events[i]
            results[i] = (event.pk, event.changes.seq_no) in fresh
    return results


_ROUND_COLUMNS = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_UPDATE_TYPES, start=2))
_N = len(_UPDATE_TYPES) + 2
_ROUND = f"""WITH {{sampled}}v AS (
        SELECT * FROM unnest($1::bigint[], {_ROUND_COLUMNS}, ${_N}::text[],
                             ${_N + 1}::timestamptz[], ${_N + 2}::jsonb[])
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
    SELECT transaction_pk, seq_no FROM recorded"""
# the events alone, and with their meter rows in a data-modifying CTE of the same statement
# (executed whether or not anything reads it; its conflicts, replays, add nothing)
_ROUND_EVENTS = _ROUND.format(sampled="")
_ROUND_WITH_SAMPLES = _ROUND.format(
    sampled=f"sampled AS ({meter_values.insert_sql(f'${_N + 3}')}), "
)


async def _record_and_apply_round(
    db: Executor, events: Sequence[EventRecord], rows: Sequence[Row] = ()
) -> set[tuple[int, int]]:
    """One statement for events of distinct sessions (and their meter rows, if any); the
    (pk, seq_no) recorded fresh."""
    args: list[Any] = [
        [e.pk for e in events],
        *([getattr(e.changes, name) for e in events] for name in _UPDATE_ARGS),
        [e.event_type for e in events],
        [e.occurred_at for e in events],
        [e.payload for e in events],
    ]
    if rows:
        records = await db.fetch(_ROUND_WITH_SAMPLES, *args, rows)
    else:
        records = await db.fetch(_ROUND_EVENTS, *args)
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


# -- pricing --------------------------------------------------------------------------------------


async def set_tariff(
    db: Executor, pk: int, *, tariff_id: str, tariff_version: int, currency: str
) -> bool:
    """Fix the tariff version a session is priced with (once: False if it had one). Only a
    published version (a draft may still change): NotFound otherwise."""
    published = await db.fetchval(
        """SELECT published_at IS NOT NULL FROM tariff_versions
           WHERE tariff_id = $1 AND version = $2""",
        tariff_id,
        tariff_version,
    )
    if not published:
        raise NotFound(f"tariff {tariff_id} has no published version {tariff_version}")
    result = await db.execute(
        """UPDATE transactions SET tariff_id = $2, tariff_version = $3, currency = $4,
               updated_at = now()
           WHERE id = $1 AND tariff_id IS NULL""",
        pk,
        tariff_id,
        tariff_version,
        currency,
    )
    return result == "UPDATE 1"


async def session_cost(db: Executor, pk: int) -> SessionCost | None:
    record = await db.fetchrow(
        """SELECT tariff_id, tariff_version, currency, cost_excl_vat AS excl_vat,
               cost_vat AS vat, cost_incl_vat AS incl_vat, cost_breakdown AS breakdown,
               cost_at AS computed_at, cost_final AS final
           FROM transactions WHERE id = $1""",
        pk,
    )
    return SessionCost(**dict(record)) if record else None


async def cost_totals(db: Executor, pks: Sequence[int]) -> dict[int, SessionCost]:
    """The tariff and cost totals of each session in ``pks`` (one round trip), without the
    breakdown: what a list of sessions shows."""
    if not pks:
        return {}
    records = await db.fetch(
        """SELECT id, tariff_id, tariff_version, currency, cost_excl_vat AS excl_vat,
               cost_vat AS vat, cost_incl_vat AS incl_vat, NULL::jsonb AS breakdown,
               cost_at AS computed_at, cost_final AS final
           FROM transactions WHERE id = ANY($1::bigint[])""",
        list(pks),
    )
    return {r["id"]: SessionCost(**{k: v for k, v in r.items() if k != "id"}) for r in records}


async def store_cost(
    db: Executor,
    pk: int,
    *,
    excl_vat: Decimal,
    vat: Decimal,
    incl_vat: Decimal,
    breakdown: dict[str, Any],
    at: datetime,
    final: bool,
    replace_final: bool = False,
) -> bool:
    """Keep a session's cost: a running one only while no final one is kept; a final one
    once (``replace_final``: a final one replaces it, as when the charger's own stop replaced
    the CSMS's estimate)."""
    result = await db.execute(
        """UPDATE transactions SET cost_excl_vat = $2, cost_vat = $3, cost_incl_vat = $4,
               cost_breakdown = $5, cost_at = $6, cost_final = $7
           WHERE id = $1 AND (NOT cost_final OR ($7 AND $8))""",
        pk,
        excl_vat,
        vat,
        incl_vat,
        breakdown,
        at,
        final,
        replace_final,
    )
    return result == "UPDATE 1"


async def add_state(db: Executor, pk: int, at: datetime, charging: bool) -> None:
    """When the session started or stopped charging (a replay adds nothing)."""
    await db.execute(
        """INSERT INTO session_states (transaction_pk, at, charging) VALUES ($1, $2, $3)
           ON CONFLICT (transaction_pk, at) DO NOTHING""",
        pk,
        at,
        charging,
    )


async def states(db: Executor, pk: int) -> list[tuple[datetime, bool]]:
    records = await db.fetch(
        "SELECT at, charging FROM session_states WHERE transaction_pk = $1 ORDER BY at", pk
    )
    return [(r["at"], r["charging"]) for r in records]
