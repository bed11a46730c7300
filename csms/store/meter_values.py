"""Meter samples, one row per sampled set, written in batches; a replayed set adds no row.

Readers see one row per sampled value through the ``meter_values`` view (ADR 0005).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from csms.domain.meter_values import MeterSample
from csms.store import partitions
from csms.store.batching import Row
from csms.store.executor import Executor


# One row per sampled set (samples of one time and context: a MeterValue element), the
# batch as one JSON array of rows that PostgreSQL unpacks: encoding costs the node ~1 us per
# row with orjson, against ~6-11 us for typed unnest arrays (numeric, jsonb), and parsing
# happens in the database, off the node's core (docs/performance.md, ADR 0005). The arrays
# travel as PostgreSQL array literals (one text each), cast once per row.
def insert_sql(parameter: str) -> str:
    """The insert of a batch of rows given as one JSON array in ``parameter`` (e.g. "$1");
    also a data-modifying CTE of the 2.0.1 event statement (``transactions``)."""
    return f"""
INSERT INTO meter_samples (charge_point_id, evse_id, connector_id, transaction_pk, sampled_at,
    context, measurands, phases, locations, units, "values", raw_values, signed)
SELECT r->>0, (r->>1)::int, (r->>2)::int, (r->>3)::bigint, (r->>4)::timestamptz, r->>5,
    (r->>6)::text[], (r->>7)::text[], (r->>8)::text[], (r->>9)::text[], (r->>10)::numeric[],
    (r->>11)::text[], nullif(r->12, 'null'::jsonb)
FROM jsonb_array_elements({parameter}::jsonb) AS r
ON CONFLICT DO NOTHING
"""


_INSERT = insert_sql("$1")

MISSING_PARTITION = "no partition of relation"


def _quoted(text: str) -> str:
    """``text`` as an element of a PostgreSQL array literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _texts(texts: Sequence[str]) -> str:
    return "{" + ",".join(map(_quoted, texts)) + "}"


Shape = tuple[tuple[str, str, str, str], ...]  # (measurand, phase, location, unit) per value
# A set's shape encoded once: which of its values count (None: all; a value twice in one
# set counts once, the first) and the four array literals. A fleet has few shapes (one per
# charger model and configuration), so the cache stays small; it is bounded all the same.
_SHAPES: dict[Shape, tuple[list[int] | None, str, str, str, str]] = {}
MAX_SHAPES = 4096


def _encoded(shape: Shape) -> tuple[list[int] | None, str, str, str, str]:
    found = _SHAPES.get(shape)
    if found is not None:
        return found
    keep: list[int] | None = None
    seen: set[tuple[str, str, str]] = set()
    for index, (measurand, phase, location, _unit) in enumerate(shape):
        if (measurand, phase, location) in seen:
            keep = keep if keep is not None else list(range(index))
        else:
            seen.add((measurand, phase, location))
            if keep is not None:
                keep.append(index)
    kept = shape if keep is None else tuple(shape[i] for i in keep)
    measurands, phases, locations, units = (_texts([v[k] for v in kept]) for k in range(4))
    found = (keep, measurands, phases, locations, units)
    if len(_SHAPES) >= MAX_SHAPES:
        _SHAPES.clear()
    _SHAPES[shape] = found
    return found


def rows_for(
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    transaction_pk: int | None,
    samples: Sequence[MeterSample],
) -> list[Row]:
    """One row per sampled set: the samples of one time and context, in their order (a
    value twice in a set counts once, the first: what a replay within one message does)."""
    sets: dict[tuple[datetime, str], list[MeterSample]] = {}
    for s in samples:
        key = (s.sampled_at, s.context)
        group = sets.get(key)
        if group is None:
            sets[key] = [s]
        else:
            group.append(s)
    rows: list[Row] = []
    for (sampled_at, context), group in sets.items():
        keep, measurands, phases, locations, units = _encoded(
            tuple((s.measurand, s.phase, s.location, s.unit) for s in group)
        )
        if keep is not None:
            group = [group[i] for i in keep]
        raw = any(s.raw_value is not None for s in group)
        signed = any(s.signed is not None for s in group)
        rows.append(
            (
                charge_point_id,
                evse_id,
                connector_id,
                transaction_pk,
                sampled_at,
                context,
                measurands,
                phases,
                locations,
                units,
                # exact: numeric from its text
                "{" + ",".join("NULL" if s.value is None else str(s.value) for s in group) + "}",
                "{"
                + ",".join("NULL" if s.raw_value is None else _quoted(s.raw_value) for s in group)
                + "}"
                if raw
                else None,
                [s.signed for s in group] if signed else None,
            )
        )
    return rows


def days_of(rows: Sequence[Row]) -> set[date]:
    """The UTC days the rows' sample times fall on (partitions they need)."""
    return {row[4].astimezone(UTC).date() for row in rows}


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One statement for the whole batch (rows as made by :func:`rows_for`); a batch that
    hits a week without a partition (a charger replaying old data) creates it and goes again.
    """
    try:
        await db.execute(_INSERT, rows)
    except asyncpg.CheckViolationError as exc:
        if MISSING_PARTITION not in str(exc):
            raise
        await partitions.ensure(db, "meter_samples", days_of(rows))
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
