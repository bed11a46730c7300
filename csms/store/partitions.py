"""Time partitions of the big append-only tables: created ahead (the worker) or on demand (an
insert into a missing range), dropped whole by retention (never a long DELETE).

``meter_samples`` has one partition per week, ``charger_messages`` one per day (UTC), each
named ``<table>_pYYYYMMDD`` after its first day (migration 0013_meters,
``csms_ensure_partition``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from csms.store.executor import Executor

log = logging.getLogger(__name__)

PERIODS = {"meter_samples": "week", "charger_messages": "day"}

_UPPER = re.compile(r"TO \('([^']+)'\)")


def period_start(table: str, day: date) -> date:
    """The first day of the partition of ``table`` that holds ``day``."""
    if PERIODS[table] == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day


async def ensure(db: Executor, table: str, days: Iterable[date]) -> list[str]:
    """Create the partitions of ``table`` that hold ``days`` if missing; their names (a
    range another partition holds already, the old journal's, has none)."""
    period = PERIODS[table]
    starts = sorted({period_start(table, day) for day in days})
    names: list[str] = []
    for start in starts:
        at = datetime.combine(start, time(), UTC)
        try:
            name = await db.fetchval("SELECT csms_ensure_partition($1, $2, $3)", table, period, at)
        except asyncpg.DuplicateTableError:  # created meanwhile by a session without the lock
            name = f"{table}_p{start:%Y%m%d}"
        if name is not None:
            names.append(str(name))
    return names


async def ensure_ahead(db: Executor, table: str, today: date, days: int) -> list[str]:
    """The partitions of ``table`` from ``today`` to ``days`` days ahead."""
    return await ensure(db, table, (today + timedelta(days=n) for n in range(days + 1)))


async def bounds(db: Executor, table: str) -> list[tuple[str, datetime | None]]:
    """Each partition of ``table`` with the end of its range (None: unbounded), by name."""
    records = await db.fetch(
        """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = $1::regclass ORDER BY c.relname""",
        table,
    )
    found: list[tuple[str, datetime | None]] = []
    for record in records:
        match = _UPPER.search(record["bound"])
        upper = None
        if match is not None:
            upper = await db.fetchval("SELECT $1::text::timestamptz", match.group(1))
        found.append((record["relname"], upper))
    return found


async def drop_older_than(pool: asyncpg.Pool, table: str, cutoff: datetime) -> list[str]:
    """Drop the partitions of ``table`` whose whole range is before ``cutoff``: detached
    concurrently first, so writers into the current partitions never wait on the drop."""
    dropped: list[str] = []
    for name, upper in await bounds(pool, table):
        if upper is None or upper > cutoff:
            continue
        async with pool.acquire() as connection:
            attached = await connection.fetchval(
                """SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c
                     ON c.oid = i.inhrelid WHERE c.relname = $1
                     AND i.inhparent = $2::regclass)""",
                name,
                table,
            )
            if attached:  # another worker may have detached it meanwhile
                try:
                    await connection.execute(
                        f'ALTER TABLE "{table}" DETACH PARTITION "{name}" CONCURRENTLY'
                    )
                except asyncpg.UndefinedTableError:
                    continue
                except asyncpg.ObjectInUseError:
                    # a detach interrupted before: finish it
                    await connection.execute(
                        f'ALTER TABLE "{table}" DETACH PARTITION "{name}" FINALIZE'
                    )
            await connection.execute(f'DROP TABLE IF EXISTS "{name}"')
        log.info("%s: dropped partition %s (before %s)", table, name, cutoff)
        dropped.append(name)
    return dropped
