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
from dataclasses import dataclass, field
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
from csms.store.pool import unavailable as database_unavailable
from csms.store.postgres import PostgresBilling, PostgresPricing, PostgresTariffs

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


Setup = Callable[[PgQueuer], object]  # what it returns is ignored
RESTART_MAX_DELAY = 30.0


@dataclass
class Worker:
    settings: WorkerSettings
    pool: asyncpg.Pool
    queue: PgQueuer
    settlement: SettlementService
    # what register() and schedule() did to the queue, done again to a new one
    setups: list[Setup] = field(default_factory=list)
    _stopping: bool = False

    async def run(self) -> None:
        """Run jobs until ``stop()``. PostgreSQL going away under PgQueuer (a restart or a
        failover while it fetches jobs) ends its run: the worker then starts a new queue
        with the same entrypoints and schedules, once the pool can reach the server."""
        failures = 0
        while True:
            try:
                await self.queue.run(
                    batch_size=self.settings.job_batch_size,
                    max_concurrent_tasks=self.settings.job_concurrency,
                    heartbeat_timeout=timedelta(seconds=self.settings.job_heartbeat_timeout),
                    dequeue_timeout=timedelta(seconds=self.settings.job_poll_interval),
                )
                return
            except Exception as exc:
                # PgQueuer listens for new jobs on a connection of its own; once PostgreSQL
                # went away, releasing that connection fails too (InterfaceError)
                trouble = database_unavailable(exc) or isinstance(exc, asyncpg.InterfaceError)
                if self._stopping and trouble:
                    log.warning("worker stopped; PostgreSQL had gone away before: %s", exc)
                    return
                if not trouble:
                    raise
                failures += 1
                delay = min(RESTART_MAX_DELAY, 0.5 * 2**failures)
                log.warning(
                    "worker: PostgreSQL went away (%s: %s); starting again in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
            await asyncio.sleep(delay)
            if self._stopping:
                return
            self.queue = self._new_queue()

    def _new_queue(self) -> PgQueuer:
        queue = PgQueuer.from_asyncpg_pool(self.pool)
        for setup in self.setups:
            setup(queue)
        return queue

    def add(self, setup: Setup) -> None:
        """Apply ``setup`` to the queue, now and to every queue started after an outage."""
        self.setups.append(setup)
        setup(self.queue)

    def stop(self) -> None:
        self._stopping = True
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

    worker.add(
        lambda queue: queue.entrypoint(name, on_failure="hold", executor_factory=retrying)(run)
    )


ScheduleHandler = Callable[[Schedule], Awaitable[None]]


def schedule(worker: Worker, name: str, cron: str, handler: ScheduleHandler) -> None:
    """A periodic task (cron syntax); register schedules here, not on ``worker.queue``
    directly, so a queue started again after an outage has them too."""
    worker.add(lambda queue: queue.schedule(name, cron)(handler))


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

        async def sweep(_: Schedule) -> None:
            found = await settlement.sweep(
                settled_after=timedelta(seconds=settings.settle_sweep_after)
            )
            if found:
                log.warning("%d ended sessions had no settlement job: enqueued", found)

        schedule(worker, SETTLE_SWEEP, settings.settle_sweep_schedule, sweep)

        yield worker
    finally:
        await pool.close()


async def run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.run(), name="worker")
    await stop.wait()
    worker.stop()
    await running
