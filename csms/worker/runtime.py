"""The worker process: PgQueuer over the pool, one entrypoint per job, schedules.

Jobs are at-least-once: each entrypoint is idempotent (what it writes is keyed), so a job
run again after a crash, or by two workers, changes nothing the second time. A job that
fails is retried with exponential backoff (``CSMS_JOB_MAX_ATTEMPTS``), then kept as failed
(PgQueuer's ``pgqueuer_log``); a worker that dies mid-job has its jobs re-queued once its
heartbeat is older than ``CSMS_JOB_HEARTBEAT_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from pgqueuer import DatabaseRetryEntrypointExecutor, Job, PgQueuer
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Schedule

from csms.domain.clock import utc_now
from csms.services.billing import (
    HOLD_SESSION,
    SETTLE_SESSION,
    SETTLE_SWEEP,
    Repricing,
    SettlementService,
)
from csms.settings import WorkerSettings
from csms.store.jobs import PgJobQueue
from csms.store.pool import create_pool
from csms.store.postgres import PostgresBilling, PostgresPricing, PostgresTariffs

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Worker:
    settings: WorkerSettings
    pool: asyncpg.Pool
    queue: PgQueuer
    settlement: SettlementService

    async def run(self) -> None:
        try:
            await self.queue.run(
                batch_size=self.settings.job_batch_size,
                max_concurrent_tasks=self.settings.job_concurrency,
                heartbeat_timeout=timedelta(seconds=self.settings.job_heartbeat_timeout),
                dequeue_timeout=timedelta(seconds=self.settings.job_poll_interval),
            )
        except asyncpg.InterfaceError as exc:
            # PgQueuer listens for new jobs on a connection of its own; after a PostgreSQL
            # restart that connection is gone (jobs are then found by polling, every
            # CSMS_JOB_POLL_INTERVAL) and releasing it on the way out fails: not an error
            # of the stop that was asked for
            if not self.queue.shutdown.is_set():
                raise
            log.warning("worker stopped; its notification connection was lost before: %s", exc)

    def stop(self) -> None:
        self.queue.shutdown.set()


def _payload(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(job.payload or b"{}")
    return data


def register(worker: Worker, name: str, handler: Handler) -> None:
    """An idempotent job handler, retried with backoff when it raises."""
    settings = worker.settings

    def retrying(parameters: EntrypointExecutorParameters) -> DatabaseRetryEntrypointExecutor:
        return DatabaseRetryEntrypointExecutor(
            parameters,
            max_attempts=settings.job_max_attempts,
            initial_delay=timedelta(seconds=settings.job_retry_delay),
            max_delay=timedelta(seconds=settings.job_retry_max_delay),
        )

    async def run(job: Job) -> None:
        try:
            await handler(_payload(job))
        except Exception:
            log.exception("job %s %s failed (attempt %d)", name, job.id, job.attempts + 1)
            raise

    worker.queue.entrypoint(name, on_failure="hold", executor_factory=retrying)(run)


@contextlib.asynccontextmanager
async def running_worker(settings: WorkerSettings, database_url: str) -> AsyncIterator[Worker]:
    pool = await create_pool(
        database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        retry_seconds=settings.db_retry_seconds,
    )
    try:
        jobs = PgJobQueue(pool)
        repricing = Repricing(
            PostgresPricing(pool),
            PostgresTariffs(pool),
            ZoneInfo(settings.default_time_zone),
            settings.cost_rounding,
        )
        settlement = SettlementService(
            PostgresBilling(pool), jobs, clock=utc_now, repricing=repricing
        )
        worker = Worker(settings, pool, PgQueuer.from_asyncpg_pool(pool), settlement)

        async def settle(payload: dict[str, Any]) -> None:
            await settlement.settle(int(payload["transaction_pk"]))

        async def hold(payload: dict[str, Any]) -> None:
            await settlement.hold(int(payload["transaction_pk"]))

        register(worker, SETTLE_SESSION, settle)
        register(worker, HOLD_SESSION, hold)

        @worker.queue.schedule(SETTLE_SWEEP, settings.settle_sweep_schedule)
        async def sweep(schedule: Schedule) -> None:
            found = await settlement.sweep(
                settled_after=timedelta(seconds=settings.settle_sweep_after)
            )
            if found:
                log.warning("%d ended sessions had no settlement job: enqueued", found)

        yield worker
    finally:
        await pool.close()


async def run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.run(), name="worker")
    await stop.wait()
    worker.stop()
    await running
