"""The move of per-value rows from before migration 0011 (``meter_values_legacy``) to
sampled sets in ``meter_samples``, in batches, online: new writes already go to the new
table and readers see both through the ``meter_values`` view; a batch deletes the rows it
copies in the same transaction, so no value is read twice or lost in between (ADR 0005).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from typing import TYPE_CHECKING, Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from csms.store import partitions, rollups
from csms.store.executor import Executor

if TYPE_CHECKING:
    Connection = asyncpg.Connection | PoolConnectionProxy[Any]

log = logging.getLogger(__name__)

LEGACY = "meter_values_legacy"
_LOCK = 0x6D657465  # one mover at a time, cluster-wide (advisory lock key)

# The view once no old row is left (the same as migration 0011 makes on a new database).
VIEW = """CREATE OR REPLACE VIEW meter_values AS
SELECT s.charge_point_id, s.evse_id, s.connector_id, s.transaction_pk, s.sampled_at,
       v.measurand, v.phase, v.location, s.context, v.unit, v.value, v.raw_value,
       nullif(s.signed -> (v.ord::int - 1), 'null'::jsonb) AS signed, s.received_at
FROM meter_samples s,
     unnest(s.measurands, s.phases, s.locations, s.units, s."values", s.raw_values)
         WITH ORDINALITY AS v(measurand, phase, location, unit, value, raw_value, ord)"""

# Rows of one (place, time, context) become one set, in their original order (their ids);
# the rollups of the hours they touch take them in (rollups.MERGE) in the same transaction.
_MOVE = (
    """
WITH batch AS (
    DELETE FROM meter_values_legacy WHERE id BETWEEN $1 AND $2 RETURNING *
), sets AS (
    SELECT charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, context,
           array_agg(measurand ORDER BY id) AS measurands,
           array_agg(phase ORDER BY id) AS phases,
           array_agg(location ORDER BY id) AS locations,
           array_agg(unit ORDER BY id) AS units,
           array_agg(value ORDER BY id) AS vals,
           CASE WHEN bool_or(raw_value IS NOT NULL)
                THEN array_agg(raw_value ORDER BY id) END AS raw_values,
           CASE WHEN bool_or(signed IS NOT NULL)
                THEN jsonb_agg(signed ORDER BY id) END AS signed,
           min(received_at) AS received_at
    FROM batch
    GROUP BY charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, context
), moved AS (
    INSERT INTO meter_samples (charge_point_id, evse_id, connector_id, transaction_pk,
        sampled_at, context, measurands, phases, locations, units, "values", raw_values,
        signed, received_at)
    SELECT * FROM sets
    ON CONFLICT DO NOTHING
), v AS (
    SELECT charge_point_id, evse_id, connector_id, transaction_pk, sampled_at, measurand,
           phase, unit, value
    FROM batch
), """
    + rollups.CTES
    + """
SELECT count(*) FROM batch
"""
)


async def remaining(db: Executor) -> bool:
    """Whether old per-value rows may be left to move."""
    return bool(await db.fetchval("SELECT to_regclass($1) IS NOT NULL", LEGACY))


async def move_batch(connection: Connection, size: int) -> int:
    """Move the ``size`` oldest old rows (by id); how many moved (0: none left)."""
    found = await connection.fetch(
        f"SELECT id, sampled_at FROM {LEGACY} ORDER BY id LIMIT $1", size
    )
    if not found:
        return 0
    low, high = found[0]["id"], found[-1]["id"]
    days = {r["sampled_at"].astimezone(UTC).date() for r in found}
    await partitions.ensure(connection, "meter_samples", days)
    async with connection.transaction():
        await connection.execute("SET LOCAL work_mem = '128MB'")  # the sorts stay in memory
        moved = int(await connection.fetchval(_MOVE, low, high))
    return moved


async def finish(connection: Connection) -> bool:
    """Once no old row is left: the view reads only sampled sets and the old table goes."""
    async with connection.transaction():
        await connection.execute("SET LOCAL lock_timeout = '5s'")
        if await connection.fetchval(f"SELECT EXISTS (SELECT 1 FROM {LEGACY})"):
            return False
        await connection.execute(VIEW)
        await connection.execute(f"DROP TABLE {LEGACY}")
    return True


async def move_all(
    pool: asyncpg.Pool, *, batch_size: int = 50_000, budget_seconds: float | None = None
) -> int:
    """Move old rows in batches until none is left (then drop the old table) or the time
    budget is spent; another mover running already: nothing. Rows moved."""
    moved = 0
    started = time.monotonic()
    async with pool.acquire() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK):
            return 0
        try:
            while await remaining(connection):
                count = await move_batch(connection, batch_size)
                moved += count
                if count == 0:
                    await finish(connection)
                    break
                if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                    break
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return moved
