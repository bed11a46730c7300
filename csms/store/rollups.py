"""Hourly rollups per connector (energy delivered, highest power, sessions), kept up to date
from new sampled sets, read by reports and dashboards without scanning raw samples.

An hour's row holds the first and last energy register reading in it (by sample time), the
highest active power imported, and the sessions that sampled in it. Its energy delivered is
``last_wh - first_wh``: what the register advanced between the hour's first and last
readings (energy between the last reading of one hour and the first of the next is in
neither). Every field merges idempotently (earliest, latest, max, union), so a set taken in
twice changes nothing: the worker takes the sets received since its watermark, the move of
old rows takes in what it moves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from csms.domain.meter_values import ENERGY_REGISTER
from csms.store.executor import Executor

POWER = "Power.Active.Import"
# Sets received in the last LAG are left for the next run: a batch insert in flight has
# received_at = its transaction's start and may commit after a run took its successors.
LAG = timedelta(seconds=60)

# Needs a CTE ``v`` of per-value rows (charge_point_id, evse_id, connector_id,
# transaction_pk, sampled_at, measurand, phase, unit, value).
CTES = f"""
readings AS (
    SELECT charge_point_id, evse_id, connector_id, transaction_pk, sampled_at,
           date_trunc('hour', sampled_at, 'UTC') AS hour,
           CASE WHEN measurand = '{ENERGY_REGISTER}' AND unit IN ('', 'Wh', 'kWh')
                THEN value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END END AS wh,
           CASE WHEN measurand = '{POWER}' AND unit IN ('', 'W', 'kW')
                THEN value * CASE WHEN unit = 'kW' THEN 1000 ELSE 1 END END AS w
    FROM v
    WHERE phase = '' AND value IS NOT NULL AND measurand IN ('{ENERGY_REGISTER}', '{POWER}')
), agg AS (
    SELECT charge_point_id, evse_id, connector_id, hour,
           (array_agg(wh ORDER BY sampled_at, wh) FILTER (WHERE wh IS NOT NULL))[1]
               AS first_wh,
           (array_agg(wh ORDER BY sampled_at DESC, wh DESC) FILTER (WHERE wh IS NOT NULL))[1]
               AS last_wh,
           min(sampled_at) FILTER (WHERE wh IS NOT NULL) AS first_at,
           max(sampled_at) FILTER (WHERE wh IS NOT NULL) AS last_at,
           max(w) AS max_power_w,
           coalesce(array_agg(DISTINCT transaction_pk)
                    FILTER (WHERE transaction_pk IS NOT NULL), '{{}}') AS sessions
    FROM readings
    GROUP BY charge_point_id, evse_id, connector_id, hour
), rolled AS (
    INSERT INTO meter_rollups AS r (charge_point_id, evse_id, connector_id, hour, first_wh,
        last_wh, first_at, last_at, max_power_w, sessions)
    SELECT * FROM (SELECT charge_point_id, evse_id, connector_id, hour, first_wh, last_wh,
                          first_at, last_at, max_power_w, sessions FROM agg) a
    ON CONFLICT (charge_point_id, evse_id, connector_id, hour) DO UPDATE SET
        (first_at, first_wh) = (
            CASE WHEN r.first_at IS NULL
                          OR (EXCLUDED.first_at, EXCLUDED.first_wh) < (r.first_at, r.first_wh)
                        THEN EXCLUDED.first_at ELSE r.first_at END,
            CASE WHEN r.first_at IS NULL
                          OR (EXCLUDED.first_at, EXCLUDED.first_wh) < (r.first_at, r.first_wh)
                        THEN EXCLUDED.first_wh ELSE r.first_wh END),
        (last_at, last_wh) = (
            CASE WHEN r.last_at IS NULL
                          OR (EXCLUDED.last_at, EXCLUDED.last_wh) > (r.last_at, r.last_wh)
                        THEN EXCLUDED.last_at ELSE r.last_at END,
            CASE WHEN r.last_at IS NULL
                          OR (EXCLUDED.last_at, EXCLUDED.last_wh) > (r.last_at, r.last_wh)
                        THEN EXCLUDED.last_wh ELSE r.last_wh END),
        max_power_w = greatest(r.max_power_w, EXCLUDED.max_power_w),
        sessions = ARRAY(SELECT DISTINCT x FROM unnest(r.sessions || EXCLUDED.sessions) x
                         ORDER BY x)
    RETURNING 1
)"""

_FROM_SETS = f"""
WITH v AS (
    SELECT s.charge_point_id, s.evse_id, s.connector_id, s.transaction_pk, s.sampled_at,
           u.measurand, u.phase, u.unit, u.value
    FROM meter_samples s, unnest(s.measurands, s.phases, s.units, s."values")
        AS u(measurand, phase, unit, value)
    WHERE s.received_at >= $1 AND s.received_at < $2
), {CTES}
SELECT count(*) FROM rolled
"""


async def update(pool: asyncpg.Pool, *, lag: timedelta = LAG) -> tuple[datetime, int]:
    """Take in the sets received since the watermark (up to ``lag`` ago) and move it on;
    concurrent runs wait for each other (the watermark row is locked). The new watermark
    and how many hour rows changed."""
    async with pool.acquire() as connection, connection.transaction():
        record = await connection.fetchrow(
            """SELECT received_before AS mark, now() - $1::interval AS until,
                      now() - $1::interval <= received_before AS caught_up
               FROM meter_rollup_watermark FOR UPDATE""",
            lag,
        )
        assert record is not None
        until: datetime = record["until"]
        if record["caught_up"]:
            return record["mark"], 0
        changed = int(await connection.fetchval(_FROM_SETS, record["mark"], until))
        await connection.execute("UPDATE meter_rollup_watermark SET received_before = $1", until)
    return until, changed


async def list_rollups(
    db: Executor, charge_point_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """A charger's hours in [start, end), by connector and hour."""
    records = await db.fetch(
        """SELECT evse_id, connector_id, hour, first_wh, last_wh, last_wh - first_wh AS energy_wh,
                  max_power_w, cardinality(sessions) AS session_count
           FROM meter_rollups
           WHERE charge_point_id = $1 AND hour >= $2 AND hour < $3
           ORDER BY evse_id, connector_id, hour""",
        charge_point_id,
        start,
        end,
    )
    return [dict(r) for r in records]
