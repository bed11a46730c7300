"""The audit log's retention: entries older than ``CSMS_AUDIT_RETENTION_DAYS`` removed on
``CSMS_AUDIT_PURGE_SCHEDULE``, in batches, through ``audit_log_purge`` (the only delete the
table lets through; docs/topics/audit.md)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
from pgqueuer.models import Schedule

from csms.settings import WorkerSettings
from csms.store import audit

log = logging.getLogger(__name__)

AUDIT_PURGE = "audit.purge"
PURGE_BATCH = 10_000
MAX_BATCHES = 1_000  # one run removes at most ten million rows; the next run goes on


async def purge_old_entries(pool: asyncpg.Pool, days: int, *, batch: int = PURGE_BATCH) -> int:
    """Remove every entry older than ``days``, batch by batch; how many went."""
    removed = 0
    for _ in range(MAX_BATCHES):
        count = await audit.purge(pool, days=days, batch=batch)
        removed += count
        if count < batch:
            break
    return removed


def attach_audit_retention(
    add_schedule: Callable[[str, str, Callable[[Schedule], Awaitable[None]]], None],
    pool: asyncpg.Pool,
    settings: WorkerSettings,
) -> None:
    """Register the purge with ``add_schedule(name, cron, handler)`` (the runtime's
    ``schedule``)."""

    async def purge(_: Schedule) -> None:
        removed = await purge_old_entries(pool, settings.audit_retention_days)
        if removed:
            log.info(
                "removed %d audit entries older than %d days",
                removed,
                settings.audit_retention_days,
            )

    add_schedule(AUDIT_PURGE, settings.audit_purge_schedule, purge)
