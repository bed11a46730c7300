"""Meter samples, written in batches with ``unnest``; a replayed sample adds no row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from csms.domain.meter_values import MeterSample
from csms.store.batching import Row
from csms.store.executor import Executor

_INSERT = """
INSERT INTO meter_values (charge_point_id, evse_id, connector_id, transaction_pk, sampled_at,
    measurand, phase, location, context, unit, value, raw_value, signed)
SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::timestamptz[],
    $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::numeric[], $12::text[],
    $13::jsonb[])
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
            s.value,
            s.raw_value,
            s.signed,
        )
        for s in samples
    ]


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One statement for the whole batch (rows as made by :func:`rows_for`)."""
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)]
    await db.execute(_INSERT, *columns)


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
