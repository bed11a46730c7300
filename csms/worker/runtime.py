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
import secrets
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
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.domain.clock import utc_now
from csms.services.billing import (
    HOLD_SESSION,
    SETTLE_SESSION,
    SETTLE_SWEEP,
    Repricing,
    SettlementService,
)
from csms.services.fleet_config import (
    APPLY_JOB,
    CHARGER_BACK_JOB,
    OFFLINE_SWEEP,
    ConfigService,
)
from csms.settings import WorkerSettings
from csms.store.fleet_config_port import PostgresConfig
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
        await self.queue.run(
            batch_size=self.settings.job_batch_size,
            max_concurrent_tasks=self.settings.job_concurrency,
            heartbeat_timeout=timedelta(seconds=self.settings.job_heartbeat_timeout),
            dequeue_timeout=timedelta(seconds=self.settings.job_poll_interval),
        )

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
async def running_worker(
    settings: WorkerSettings, database_url: str, redis_url: str | None = None
) -> AsyncIterator[Worker]:
    """The worker's jobs over a pool; with ``redis_url`` also the jobs that talk to chargers
    through the command bus (configuration applies and reads)."""
    pool = await create_pool(
        database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    redis: Redis | None = None
    sender: CommandClient | None = None
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

        if redis_url is not None:
            redis = redis_client(redis_url)
            sender = CommandClient(
                redis, Keys(settings.redis_prefix), caller_id=f"worker-{secrets.token_hex(6)}"
            )
            await sender.start()
            register_config_jobs(worker, settings, pool, sender)
        yield worker
    finally:
        if sender is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await sender.close()
        if redis is not None:
            await redis.aclose()
        await pool.close()


def register_config_jobs(
    worker: Worker, settings: WorkerSettings, pool: asyncpg.Pool, sender: CommandClient
) -> None:
    """Configuration baselines: applies, a charger's boot or reconnect, the offline sweep."""
    config = ConfigService(
        PostgresConfig(pool),
        PgJobQueue(pool),
        clock=utc_now,
        command_timeout=settings.config_command_timeout,
    )

    async def apply(payload: dict[str, Any]) -> None:
        await config.run_apply(sender, int(payload["apply_id"]))

    async def charger_back(payload: dict[str, Any]) -> None:
        await config.charger_back(
            sender,
            str(payload["charge_point_id"]),
            booted=bool(payload.get("booted")),
            protocol=payload.get("protocol"),
        )

    register(worker, APPLY_JOB, apply)
    register(worker, CHARGER_BACK_JOB, charger_back)

    @worker.queue.schedule(OFFLINE_SWEEP, settings.config_offline_sweep_schedule)
    async def offline_sweep(schedule: Schedule) -> None:
        connected = [f.charge_point_id for f in await config.connected_with_waiting()]
        queued = await config.offline_sweep(connected)
        if queued:
            log.info("%d connected chargers had profile values waiting: queued", queued)


async def run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.run(), name="worker")
    await stop.wait()
    worker.stop()
    await running
