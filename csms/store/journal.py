"""The per-charger OCPP message journal (every frame in and out), written in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.store.batching import Row
from csms.store.executor import Executor


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One statement per batch; rows travel as one JSON array (see store/meter_values.py)."""
    await db.execute(
        """INSERT INTO charger_messages (charge_point_id, at, direction, message_type,
               message_id, action, payload)
           SELECT r->>0, (r->>1)::timestamptz, r->>2, (r->>3)::int, r->>4, r->>5, r->6
           FROM jsonb_array_elements($1::jsonb) AS r""",
        rows,
    )


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


async def purge_older_than(db: Executor, cutoff: datetime) -> int:
    result = await db.execute("DELETE FROM charger_messages WHERE at < $1", cutoff)
    return int(result.split()[-1])
