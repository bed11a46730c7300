"""Meter samples, written in batches with ``unnest``; a replayed sample adds no row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from csms.domain.meter_values import MeterSample
from csms.store.batching import Row
from csms.store.executor import Executor

# The batch travels as one JSON array of rows that PostgreSQL unpacks: encoding it costs the
# node ~1 us per row with orjson, against ~6-11 us for typed unnest arrays (numeric, jsonb),
# and the parsing happens in the database, off the node's core (docs/performance.md). As
# jsonb it is parsed once; as json every ->> re-parsed its row (jsonb: 18.9k -> 23.7k rows/s).
_INSERT = """
INSERT INTO meter_values (charge_point_id, evse_id, connector_id, transaction_pk, sampled_at,
    measurand, phase, location, context, unit, value, raw_value, signed)
SELECT r->>0, (r->>1)::int, (r->>2)::int, (r->>3)::bigint, (r->>4)::timestamptz, r->>5, r->>6,
    r->>7, r->>8, r->>9, (r->>10)::numeric, r->>11, (r->12)::jsonb
FROM jsonb_array_elements($1::jsonb) AS r
ON CONFLICT (charge_point_id, evse_id, connector_id, sampled_at, measurand, phase, location,
    context) DO NOTHING
"""


def rows_for(
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    transaction_pk: int | None,
    samples: Sequence[MeterSample],
) -> list[Row]:
    return [
        (
            charge_point_id,
            evse_id,
            connector_id,
            transaction_pk,
            s.sampled_at,
            s.measurand,
            s.phase,
            s.location,
            s.context,
            s.unit,
            None if s.value is None else str(s.value),  # exact: numeric from its text
            s.raw_value,
            s.signed,
        )
        for s in samples
    ]


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One statement for the whole batch (rows as made by :func:`rows_for`)."""
    await db.execute(_INSERT, rows)


async def list_for_transaction(db: Executor, transaction_pk: int) -> list[dict[str, Any]]:
    records = await db.fetch(
        """SELECT sampled_at, evse_id, connector_id, measurand, phase, location, context, unit,
               value, raw_value
           FROM meter_values WHERE transaction_pk = $1 ORDER BY sampled_at, measurand, phase""",
        transaction_pk,
    )
    return [dict(r) for r in records]


async def register_readings_wh(db: Executor, transaction_pk: int) -> tuple[Any, Any]:
    """First and last Energy.Active.Import.Register reading of a transaction, in Wh."""
    record = await db.fetchrow(
        """SELECT
             (SELECT value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END FROM meter_values
              WHERE transaction_pk = $1 AND measurand = 'Energy.Active.Import.Register'
                AND phase = '' AND value IS NOT NULL AND unit IN ('', 'Wh', 'kWh')
              ORDER BY sampled_at ASC LIMIT 1) AS first,
             (SELECT value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END FROM meter_values
              WHERE transaction_pk = $1 AND measurand = 'Energy.Active.Import.Register'
                AND phase = '' AND value IS NOT NULL AND unit IN ('', 'Wh', 'kWh')
              ORDER BY sampled_at DESC LIMIT 1) AS last""",
        transaction_pk,
    )
    assert record is not None
    return record["first"], record["last"]


async def register_readings(db: Executor, transaction_pk: int) -> list[tuple[Any, Any]]:
    """Every energy import register reading of a session in Wh, by time: (sampled_at, Wh)."""
    records = await db.fetch(
        """SELECT sampled_at, value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END AS wh
           FROM meter_values
           WHERE transaction_pk = $1 AND measurand = 'Energy.Active.Import.Register'
             AND phase = '' AND value IS NOT NULL AND unit IN ('', 'Wh', 'kWh')
           ORDER BY sampled_at""",
        transaction_pk,
    )
    return [(r["sampled_at"], r["wh"]) for r in records]
