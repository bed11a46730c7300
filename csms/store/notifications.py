"""Notifications in PostgreSQL: the outbox, subscriptions, deliveries and their attempts.

``enqueue`` writes an outbox row and its fan-out job in the caller's transaction: a rollback
leaves neither. The worker fans a notification out into one delivery per matching
subscription (unique per subscription and notification), claims a delivery with a
conditional update before it sends it (so two workers never send the same delivery at
once) and records the outcome before its job completes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
from pgqueuer.queries import Queries

from csms.domain.notifications import check_event_type, patterns_for
from csms.errors import InvalidInput, NotFound
from csms.store.notification_subscriptions import Connection, get_subscription

FAN_OUT_JOB = "notifications.fan_out"
DELIVER_JOB = "notifications.deliver"
SWEEP_SCHEDULE = "notifications.sweep"

DELIVERY_STATES = ("pending", "sending", "failed", "delivered", "dead")
KINDS = ("webhook", "email")


async def enqueue(
    conn: Connection,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    site_id: str | None,
    charge_point_id: str | None,
    key: str,
    only_subscription_id: int | None = None,
) -> uuid.UUID | None:
    """Record a notification (once per ``key``: a second enqueue with the same key does
    nothing) and queue its fan-out, both in ``conn``'s current transaction.

    ``event_type`` must be in the catalogue (:data:`csms.domain.notifications.EVENT_TYPES`);
    ``payload`` must be JSON serialisable (datetimes become ISO 8601, Decimals strings).
    ``only_subscription_id``: to that subscription alone, whatever it subscribes to (a
    test event). Returns the event id (None when the key was there already).
    """
    check_event_type(event_type)
    if not 1 <= len(key) <= 200:
        raise InvalidInput("a notification key has 1-200 characters")
    event_id = uuid.uuid4()
    notification_id = await conn.fetchval(
        """
        INSERT INTO notification_outbox
            (key, event_id, event_type, payload, site_id, charge_point_id, subscription_id)
        VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7)
        ON CONFLICT (key) DO NOTHING
        RETURNING id
        """,
        key,
        event_id,
        event_type,
        orjson.dumps(dict(payload), default=_json_default).decode(),
        site_id,
        charge_point_id,
        only_subscription_id,
    )
    if notification_id is None:
        return None
    await enqueue_job(conn, FAN_OUT_JOB, {"notification_id": notification_id})
    return event_id


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact: "12.34", never a float
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


async def enqueue_job(
    conn: Connection,
    entrypoint: str,
    payload: dict[str, Any],
    *,
    delay: float = 0.0,
    dedupe_key: str | None = None,
) -> None:
    """A PgQueuer job inserted on ``conn`` (inside its transaction, if any)."""
    queries = Queries.from_asyncpg_connection(conn)  # type: ignore[arg-type]
    await queries.enqueue(
        entrypoint,
        orjson.dumps(payload),
        execute_after=timedelta(seconds=delay) if delay > 0 else None,
        dedupe_key=dedupe_key,
        on_conflict="skip",
    )


# -- fan-out -----------------------------------------------------------------------------------


async def fan_out(conn: Connection, notification_id: int) -> list[int]:
    """One delivery per enabled subscription matching the notification (its event type
    and site) and queue each; run in a transaction. Returns the new deliveries' ids (none
    the second time)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT event_type, site_id, subscription_id FROM notification_outbox "
            "WHERE id = $1 FOR UPDATE",
            notification_id,
        )
        if row is None:
            return []
        ids: list[int] = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO notification_deliveries (subscription_id, notification_id)
                SELECT s.id, $1 FROM notification_subscriptions s
                WHERE CASE WHEN $4::bigint IS NOT NULL THEN s.id = $4
                      ELSE s.enabled AND s.event_types && $2::text[]
                           AND (s.site_id IS NULL OR s.site_id = $3) END
                ORDER BY s.id
                ON CONFLICT (subscription_id, notification_id) DO NOTHING
                RETURNING id
                """,
                notification_id,
                patterns_for(row["event_type"]),
                row["site_id"],
                row["subscription_id"],
            )
        ]
        await conn.execute(
            "UPDATE notification_outbox SET fanned_out_at = now() "
            "WHERE id = $1 AND fanned_out_at IS NULL",
            notification_id,
        )
        for delivery_id in ids:
            await enqueue_job(
                conn, DELIVER_JOB, {"delivery_id": delivery_id}, dedupe_key=_dedupe(delivery_id)
            )
    return ids


def _dedupe(delivery_id: int, attempt: int = 0) -> str:
    return f"notify-delivery-{delivery_id}-{attempt}"


# -- deliveries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """A claimed delivery: what to send, where, with which secrets."""

    delivery_id: int
    attempt: int
    round_attempt: int  # tries since creation or the last replay
    kind: str
    url: str | None
    secrets: list[str] = field(repr=False)  # never in a log line or a traceback's repr
    recipients: list[str]
    subscription_id: int
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    site_id: str | None
    charge_point_id: str | None
    created_at: datetime


async def claim(conn: Connection, delivery_id: int, claimer: str, lease: float) -> Work | None:
    """Take a due delivery for ``lease`` seconds (None: not due, done, dead, or another
    worker holds it). The update is conditional, so of two workers racing only one wins."""
    row = await conn.fetchrow(
        """
        WITH claimed AS (
            UPDATE notification_deliveries
            SET state = 'sending', attempts = attempts + 1, claimed_by = $2,
                claimed_until = now() + make_interval(secs => $3), updated_at = now()
            WHERE id = $1
              AND ((state IN ('pending', 'failed') AND next_attempt_at <= now())
                   OR (state = 'sending' AND claimed_until < now()))
            RETURNING id, attempts, replayed_at_attempt, subscription_id, notification_id
        )
        SELECT c.id, c.attempts, c.attempts - c.replayed_at_attempt AS round_attempt,
               s.kind, s.url, s.secret, s.previous_secret,
               s.previous_secret_until > now() AS previous_valid,
               coalesce(s.recipients, '{}') AS recipients, s.id AS subscription_id,
               o.event_id, o.event_type, o.payload::text AS payload, o.site_id,
               o.charge_point_id, o.created_at
        FROM claimed c
        JOIN notification_subscriptions s ON s.id = c.subscription_id
        JOIN notification_outbox o ON o.id = c.notification_id
        """,
        delivery_id,
        claimer,
        lease,
    )
    if row is None:
        return None
    secrets = [row["secret"]] if row["secret"] else []
    if row["previous_secret"] and row["previous_valid"]:
        secrets.append(row["previous_secret"])
    return Work(
        delivery_id=row["id"],
        attempt=row["attempts"],
        round_attempt=row["round_attempt"],
        kind=row["kind"],
        url=row["url"],
        secrets=secrets,
        recipients=list(row["recipients"]),
        subscription_id=row["subscription_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        payload=orjson.loads(row["payload"]),
        site_id=row["site_id"],
        charge_point_id=row["charge_point_id"],
        created_at=row["created_at"],
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    delivered: bool


async def record(
    conn: Connection,
    work: Work,
    claimer: str,
    outcome: Outcome,
    *,
    max_attempts: int,
    retry_in: float,
) -> str:
    """Record an attempt and the delivery's new state (``delivered``, ``failed`` with a
    retry job ``retry_in`` seconds from now, or ``dead`` after ``max_attempts`` tries in
    this round), in one transaction. Returns the new state ('' if the claim was lost)."""
    if outcome.delivered:
        state = "delivered"
    elif work.round_attempt >= max_attempts:
        state = "dead"
    else:
        state = "failed"
    async with conn.transaction():
        updated = await conn.fetchval(
            """
            UPDATE notification_deliveries
            SET state = $3, claimed_by = NULL, claimed_until = NULL,
                last_status = $4, last_error = $5, updated_at = now(),
                delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                next_attempt_at = now() + make_interval(secs => $6)
            WHERE id = $1 AND claimed_by = $2 AND state = 'sending'
            RETURNING id
            """,
            work.delivery_id,
            claimer,
            state,
            outcome.status_code,
            outcome.error,
            retry_in if state == "failed" else 0.0,
        )
        if updated is None:
            return ""
        await conn.execute(
            """
            INSERT INTO notification_attempts
                (delivery_id, attempt, started_at, latency_ms, status_code, error, outcome,
                 worker)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (delivery_id, attempt) DO NOTHING
            """,
            work.delivery_id,
            work.attempt,
            outcome.started_at,
            outcome.latency_ms,
            outcome.status_code,
            outcome.error,
            state,
            claimer,
        )
        if state == "failed":
            await enqueue_job(
                conn,
                DELIVER_JOB,
                {"delivery_id": work.delivery_id},
                delay=retry_in,
                dedupe_key=_dedupe(work.delivery_id, work.attempt),
            )
    return state


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error: str | None
    outcome: str
    worker: str  # which worker tried


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int
    event_id: uuid.UUID
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    log: list[Attempt]


_DELIVERY_SELECT = """
    SELECT d.id, d.subscription_id, o.event_id, o.event_type, d.state, d.attempts,
           CASE WHEN d.state IN ('pending', 'failed') THEN d.next_attempt_at END
               AS next_attempt_at,
           d.last_status, d.last_error, d.delivered_at, d.created_at, d.updated_at
    FROM notification_deliveries d
    JOIN notification_outbox o ON o.id = d.notification_id
    JOIN notification_subscriptions s ON s.id = d.subscription_id
"""


async def _with_log(conn: Connection, rows: Sequence[asyncpg.Record]) -> list[Delivery]:
    ids = [row["id"] for row in rows]
    attempts: dict[int, list[Attempt]] = {i: [] for i in ids}
    for row in await conn.fetch(
        "SELECT delivery_id, attempt, started_at, latency_ms, status_code, error, outcome, "
        "worker "
        "FROM notification_attempts WHERE delivery_id = ANY($1::bigint[]) "
        "ORDER BY delivery_id, attempt",
        ids,
    ):
        values = dict(row)
        attempts[values.pop("delivery_id")].append(Attempt(**values))
    return [Delivery(**dict(row), log=attempts[row["id"]]) for row in rows]


async def list_deliveries(
    conn: Connection,
    subscription_id: int,
    kind: str,
    *,
    state: str | None,
    before: int | None,
    limit: int,
) -> list[Delivery]:
    """The subscription's delivery log, newest first, with every attempt."""
    await get_subscription(conn, subscription_id, kind)
    rows = await conn.fetch(
        _DELIVERY_SELECT
        + "WHERE d.subscription_id = $1 AND s.kind = $2 AND ($3::text IS NULL OR d.state = $3)"
        " AND ($4::bigint IS NULL OR d.id < $4) ORDER BY d.id DESC LIMIT $5",
        subscription_id,
        kind,
        state,
        before,
        limit,
    )
    return await _with_log(conn, rows)


async def get_delivery(
    conn: Connection, subscription_id: int, kind: str, delivery_id: int
) -> Delivery:
    rows = await conn.fetch(
        _DELIVERY_SELECT + "WHERE d.id = $1 AND d.subscription_id = $2 AND s.kind = $3",
        delivery_id,
        subscription_id,
        kind,
    )
    if not rows:
        raise NotFound(f"no delivery {delivery_id} of {kind} subscription {subscription_id}")
    return (await _with_log(conn, rows))[0]


class NotReplayable(Exception):
    """A delivery that is delivered, or being sent: replaying it could duplicate it."""

    def __init__(self, delivery_id: int, state: str) -> None:
        super().__init__(
            f"delivery {delivery_id} is {state}: only a failed or dead delivery is replayed"
        )
        self.state = state


async def replay(conn: Connection, subscription_id: int, kind: str, delivery_id: int) -> Delivery:
    """Send a dead or failed delivery again now, with a new round of tries (NotReplayable for
    one delivered or being sent: a healthy receiver never gets it twice): NotReplayable."""
    async with conn.transaction():
        state = await conn.fetchval(
            """
            SELECT d.state FROM notification_deliveries d
            JOIN notification_subscriptions s ON s.id = d.subscription_id
            WHERE d.id = $1 AND d.subscription_id = $2 AND s.kind = $3
            FOR UPDATE OF d
            """,
            delivery_id,
            subscription_id,
            kind,
        )
        if state is None:
            raise NotFound(f"no delivery {delivery_id} of {kind} subscription {subscription_id}")
        if state not in ("dead", "failed"):
            raise NotReplayable(delivery_id, state)
        attempts = await conn.fetchval(
            """
            UPDATE notification_deliveries
            SET state = 'pending', next_attempt_at = now(), replayed_at_attempt = attempts,
                updated_at = now()
            WHERE id = $1 RETURNING attempts
            """,
            delivery_id,
        )
        await enqueue_job(
            conn,
            DELIVER_JOB,
            {"delivery_id": delivery_id},
            dedupe_key=f"notify-replay-{delivery_id}-{attempts}",
        )
    return await get_delivery(conn, subscription_id, kind, delivery_id)


# -- sweeps and metrics ------------------------------------------------------------------------


async def sweep(conn: Connection, *, older_than: float, limit: int = 1000) -> tuple[int, int]:
    """Queue again what a lost job left undone: notifications not fanned out and due
    deliveries (a claim whose worker died included) older than ``older_than`` seconds.
    Returns (notifications, deliveries) queued."""
    notifications = await conn.fetch(
        "SELECT id FROM notification_outbox WHERE fanned_out_at IS NULL "
        "AND created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT $2",
        older_than,
        limit,
    )
    deliveries = await conn.fetch(
        """
        SELECT id, attempts FROM notification_deliveries
        WHERE (state IN ('pending', 'failed')
               AND next_attempt_at < now() - make_interval(secs => $1))
           OR (state = 'sending' AND claimed_until < now())
        ORDER BY id LIMIT $2
        """,
        older_than,
        limit,
    )
    for row in notifications:
        await enqueue_job(
            conn,
            FAN_OUT_JOB,
            {"notification_id": row["id"]},
            dedupe_key=f"notify-fan-out-{row['id']}",
        )
    for row in deliveries:
        await enqueue_job(
            conn,
            DELIVER_JOB,
            {"delivery_id": row["id"]},
            dedupe_key=f"notify-sweep-{row['id']}-{row['attempts']}",
        )
    return len(notifications), len(deliveries)


async def purge(conn: Connection, *, older_than_days: float) -> int:
    """Delete notifications older than ``older_than_days`` whose deliveries are all done
    (delivered or dead), with their deliveries and log. Returns how many."""
    done = await conn.execute(
        """
        DELETE FROM notification_outbox o
        WHERE o.created_at < now() - make_interval(secs => $1)
          AND o.fanned_out_at IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM notification_deliveries d
              WHERE d.notification_id = o.id AND d.state NOT IN ('delivered', 'dead'))
        """,
        older_than_days * 86_400,
    )
    return int(done.split()[-1])


async def count_deliveries_by_state(conn: Connection) -> dict[str, int]:
    """Deliveries per state, every state present (0 if none): pending, sending, failed
    (waiting for a retry), delivered, dead."""
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    for row in await conn.fetch(
        "SELECT state, count(*) AS n FROM notification_deliveries GROUP BY state"
    ):
        counts[row["state"]] = row["n"]
    return counts
