"""The audit log's retention: entries older than ``CSMS_AUDIT_RETENTION_DAYS`` removed on
``CSMS_AUDIT_PURGE_SCHEDULE``, in batches, through ``audit_log_purge`` (the only delete the
table lets through; docs/topics/audit.md)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable

import asyncpg
from pgqueuer.models import Schedule

from csms.domain.audit import NewAuditEntry
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


async def run_retention(pool: asyncpg.Pool, days: int) -> int:
    """One retention run: old entries removed, and the removal itself recorded (source
    ``worker``, action ``audit.purge``) when there was any."""
    removed = await purge_old_entries(pool, days)
    if removed:
        log.info("removed %d audit entries older than %d days", removed, days)
        await audit.record(
            pool,
            NewAuditEntry(
                source="worker",
                action=AUDIT_PURGE,
                outcome="ok",
                actor="worker",
                params={"retention_days": days},
                result={"removed": removed},
                client=f"worker@{socket.gethostname()}",
            ),
        )
    return removed


def attach_audit_retention(
    add_schedule: Callable[[str, str, Callable[[Schedule], Awaitable[None]]], None],
    pool: asyncpg.Pool,
    settings: WorkerSettings,
) -> None:
    """Register the purge with ``add_schedule(name, cron, handler)`` (the runtime's
    ``schedule``)."""

    async def purge(_: Schedule) -> None:
        await run_retention(pool, settings.audit_retention_days)

    add_schedule(AUDIT_PURGE, settings.audit_purge_schedule, purge)
