"""Meter data and journal upkeep: partitions made ahead and dropped by retention, hourly
rollups kept up to date, old per-value rows moved to sampled sets (ADR 0005)."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
from pgqueuer.models import Schedule

from csms.domain.clock import Clock, utc_now
from csms.settings import WorkerSettings
from csms.store import meter_migration, partitions, rollups
from csms.worker.runtime import Worker, schedule

log = logging.getLogger(__name__)

PARTITION_SWEEP = "partition-sweep"
METER_ROLLUPS = "meter-rollups"
METER_MIGRATION = "meter-migration"
MIGRATION_SCHEDULE = "* * * * *"


async def sweep_partitions(
    pool: asyncpg.Pool, settings: WorkerSettings, clock: Clock = utc_now
) -> dict[str, list[str]]:
    """Partitions of the next ``partition_days_ahead`` days; partitions wholly older than
    each table's retention dropped (0: kept forever). What was dropped, by table."""
    now = clock()
    for table in partitions.PERIODS:
        await partitions.ensure_ahead(pool, table, now.date(), settings.partition_days_ahead)
    dropped: dict[str, list[str]] = {}
    retention = {
        "meter_samples": settings.meter_retention_days,
        "charger_messages": settings.journal_retention_days,
    }
    for table, days in retention.items():
        if days > 0:
            dropped[table] = await partitions.drop_older_than(
                pool, table, now - timedelta(days=days)
            )
    return dropped


def register_meter_jobs(worker: Worker, pool: asyncpg.Pool) -> None:
    """The partition sweep, the rollups, and the move of old rows while any are left."""
    settings = worker.settings

    async def sweep(_: Schedule) -> None:
        await sweep_partitions(pool, settings)

    async def roll_up(_: Schedule) -> None:
        await rollups.update(pool)

    async def migrate(_: Schedule) -> None:
        if await meter_migration.remaining(pool):
            moved = await meter_migration.move_all(pool, budget_seconds=50.0)
            log.info("meter migration: %d old rows moved to sampled sets", moved)

    schedule(worker, PARTITION_SWEEP, settings.partition_schedule, sweep)
    schedule(worker, METER_ROLLUPS, settings.meter_rollup_schedule, roll_up)
    schedule(worker, METER_MIGRATION, MIGRATION_SCHEDULE, migrate)
