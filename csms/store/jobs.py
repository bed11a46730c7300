"""Durable jobs on PgQueuer (ADR 0004): what the node, the backoffice and the CLI enqueue,
on the pool they already have; ``csms worker`` runs them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.queries import Queries

from csms.store.batching import BatchCall
from csms.store.executor import Executor


@dataclass(frozen=True, slots=True)
class _Job:
    entrypoint: str
    payload: bytes
    dedupe_key: str | None
    delay: float


class PgJobQueue:
    """Jobs enqueued by many callers at once (a boot storm queues one per boot) go in one
    statement per batch; a duplicate dedupe key is skipped, also within a batch."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._queries = Queries(AsyncpgPoolDriver(pool))
        self._enqueue = BatchCall(self._enqueue_many)

    async def enqueue(
        self,
        entrypoint: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: float = 0.0,
    ) -> bool:
        return await self._enqueue(_Job(entrypoint, orjson.dumps(payload), dedupe_key, delay))

    async def _enqueue_many(self, jobs: Sequence[_Job]) -> list[bool]:
        ids = await self._queries.enqueue(
            [j.entrypoint for j in jobs],
            [j.payload for j in jobs],
            [0] * len(jobs),
            [timedelta(seconds=j.delay) if j.delay else None for j in jobs],
            [j.dedupe_key for j in jobs],
            on_conflict="skip",
        )
        return [i is not None for i in ids]


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Jobs in the queue table (not yet done) of one entrypoint and status."""

    entrypoint: str
    status: str  # queued, picked (a worker runs it)
    jobs: int
    oldest_due_seconds: float  # how long the oldest job that is due has waited (0: none)


async def queue_depths(db: Executor) -> list[QueueDepth]:
    """What waits in PgQueuer's queue table, by entrypoint and status (a finished job
    leaves it for the log table)."""
    rows = await db.fetch(
        """
        SELECT entrypoint, status::text AS status, count(*) AS jobs,
               coalesce(extract(epoch FROM now() - min(execute_after)
                                FILTER (WHERE execute_after <= now())), 0) AS oldest_due
        FROM pgqueuer
        GROUP BY entrypoint, status
        ORDER BY entrypoint, status
        """
    )
    return [
        QueueDepth(r["entrypoint"], r["status"], int(r["jobs"]), max(0.0, float(r["oldest_due"])))
        for r in rows
    ]
