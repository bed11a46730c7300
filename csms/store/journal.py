"""The per-charger OCPP message journal (every frame in and out), written in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from csms.store import partitions
from csms.store.batching import Row
from csms.store.executor import Executor
from csms.store.meter_values import MISSING_PARTITION

_INSERT = """INSERT INTO charger_messages (charge_point_id, at, direction, message_type,
        message_id, action, payload)
    SELECT r->>0, (r->>1)::timestamptz, r->>2, (r->>3)::int, r->>4, r->>5, r->6
    FROM jsonb_array_elements($1::jsonb) AS r"""


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One statement per batch; rows travel as one JSON array (see store/meter_values.py).
    A day without its partition yet (the worker makes them ahead) is created on demand."""
    try:
        await db.execute(_INSERT, rows)
    except asyncpg.CheckViolationError as exc:
        if MISSING_PARTITION not in str(exc):
            raise
        days = {row[1].astimezone(UTC).date() for row in rows}
        await partitions.ensure(db, "charger_messages", days)
        await db.execute(_INSERT, rows)


async def list_messages(
    db: Executor, charge_point_id: str, *, limit: int = 100, since: datetime | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` frames of a charger (oldest first)."""
    records = await db.fetch(
        """SELECT * FROM (
             SELECT id, at, direction, message_type, message_id, action, payload
             FROM charger_messages
             WHERE charge_point_id = $1 AND ($2::timestamptz IS NULL OR at >= $2)
             ORDER BY at DESC, id DESC LIMIT $3) newest
           ORDER BY at, id""",
        charge_point_id,
        since,
        limit,
    )
    return [dict(r) for r in records]


async def purge_older_than(pool: asyncpg.Pool, cutoff: datetime) -> list[str]:
    """Drop the journal's days before ``cutoff`` (whole partitions, no DELETE)."""
    return await partitions.drop_older_than(pool, "charger_messages", cutoff)


async def search_messages(
    db: Executor,
    charge_point_id: str,
    *,
    search: str | None = None,
    action: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """A charger's frames newest first, before ``before_id``: of ``action``, and with
    ``search`` in the action, message id or payload (case-insensitive)."""
    like = None
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    records = await db.fetch(
        """SELECT id, at, direction, message_type, message_id, action, payload
           FROM charger_messages
           WHERE charge_point_id = $1
             AND ($2::bigint IS NULL OR id < $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::text IS NULL OR action ILIKE $4 OR message_id ILIKE $4
                  OR payload::text ILIKE $4)
           ORDER BY id DESC LIMIT $5""",
        charge_point_id,
        before_id,
        action,
        like,
        limit,
    )
    return [dict(r) for r in records]
