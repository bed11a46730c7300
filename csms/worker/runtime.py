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
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from pgqueuer import DatabaseRetryEntrypointExecutor, Job, PgQueuer
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Schedule

from csms.cluster.bus import CommandClient
from csms.cluster.connect import RedisClient, redis_client
from csms.cluster.events import EventPublisher, publish_firmware_hooks
from csms.cluster.keys import Keys
from csms.cluster.tasks import stop_task
from csms.domain.clock import utc_now
from csms.domain.firmware_campaigns import Artifact
from csms.domain.firmware_urls import signed_url
from csms.payments import open_providers, retry_policy
from csms.services import CertificateOptions, Services
from csms.services.billing import (
    HOLD_SESSION,
    SETTLE_SESSION,
    SETTLE_SWEEP,
    Repricing,
    SettlementService,
)
from csms.services.firmware import FIRMWARE_SEND, FIRMWARE_TICK, FirmwareOrchestrator
from csms.services.fleet_config import (
    APPLY_JOB,
    CHARGER_BACK_JOB,
    OFFLINE_SWEEP,
    ConfigService,
)
from csms.services.hooks import Hooks
from csms.services.payments import PAYMENT_ADVANCE, PAYMENT_SWEEP, PaymentService
from csms.settings import WorkerSettings
from csms.store import notifications as store_notifications
from csms.store.fleet_config_port import PostgresConfig
from csms.store.jobs import PgJobQueue
from csms.store.pool import create_pool
from csms.store.pool import unavailable as database_unavailable
from csms.store.postgres import (
    PostgresBilling,
    PostgresFirmware,
    PostgresPayments,
    PostgresPricing,
    PostgresStores,
    PostgresTariffs,
)
from csms.worker.alarms import attach_campaign_alarms, running_alarms
from csms.worker.audit import attach_audit_retention
from csms.worker.certificates import attach_renewal
from csms.worker.security_profiles import register_security_jobs

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
    payments: PaymentService | None = None
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
async def running_worker(
    settings: WorkerSettings, database_url: str, redis_url: str | None = None
) -> AsyncIterator[Worker]:
    """The worker's jobs over a pool; with ``redis_url`` it also reaches chargers through
    the command bus and publishes live events (firmware campaigns; the rollback of a
    security profile upgrade restores settings; the certificate renewal asks chargers for
    a new CSR; configuration applies and reads)."""
    redis: RedisClient | None = None
    commands: CommandClient | None = None
    if redis_url is not None:
        redis = redis_client(redis_url)
        commands = CommandClient(
            redis, Keys(settings.redis_prefix), caller_id=f"worker-{secrets.token_hex(6)}"
        )
        await commands.start()  # its reply listener: without it no answer ever arrives
    providers = open_providers(settings)
    pool = await create_pool(
        database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        retry_seconds=settings.db_retry_seconds,
    )
    firmware: contextlib.AsyncExitStack | None = None
    notifications = contextlib.AsyncExitStack()
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
        from csms.worker.invoices import register_invoice_jobs  # it imports this module

        register_invoice_jobs(worker, pool)
        from csms.worker.meters import register_meter_jobs  # it imports this module

        register_meter_jobs(worker, pool)
        register_security_jobs(worker, pool, commands, command_timeout=settings.job_command_timeout)
        from csms.worker.notifications import running_notifications  # it imports this module

        await notifications.enter_async_context(running_notifications(worker))

        async def sweep(_: Schedule) -> None:
            found = await settlement.sweep(
                settled_after=timedelta(seconds=settings.settle_sweep_after)
            )
            if found:
                log.warning("%d ended sessions had no settlement job: enqueued", found)

        schedule(worker, SETTLE_SWEEP, settings.settle_sweep_schedule, sweep)
        attach_audit_retention(
            lambda name, cron, handler: schedule(worker, name, cron, handler),
            pool,
            settings,
        )
        if redis is not None and commands is not None:
            firmware = contextlib.AsyncExitStack()
            await firmware.enter_async_context(running_campaigns(worker, redis, commands))
        worker.payments = PaymentService(
            PostgresPayments(pool),
            PostgresBilling(pool),
            providers,
            jobs,
            clock=utc_now,
            policy=retry_policy(settings),
        )
        _register_payments(worker, worker.payments, settings)
        alarm_hooks: list[Hooks] = []  # where alarms listen besides the campaigns
        if commands is not None:
            register_config_jobs(worker, settings, pool, commands)
            services = Services(
                PostgresStores(pool),
                clock=utc_now,
                certificates=CertificateOptions(
                    renew_before_days=settings.cert_renew_before_days,
                    renew_retry_interval=settings.cert_renew_retry_interval,
                ),
            )
            attach_renewal(
                lambda name, cron, handler: schedule(worker, name, cron, handler),
                services,
                commands,
                settings,
            )
            alarm_hooks.append(services.hooks)  # a certificate renewal that failed
        async with running_alarms(
            worker, redis, commands, hooks=alarm_hooks, outbox=store_notifications.enqueue
        ):
            yield worker
    finally:
        if firmware is not None:
            await firmware.aclose()
        await notifications.aclose()
        await pool.close()
        await providers.aclose()
        if commands is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await commands.close()
        if redis is not None:
            await redis.aclose()


def _register_payments(worker: Worker, payments: PaymentService, settings: WorkerSettings) -> None:
    """Card payments: retries of declined receivables, looks at payments whose webhook did
    not come, captures of authorized ones (docs/topics/payments.md)."""

    async def advance(payload: dict[str, Any]) -> None:
        await payments.advance(int(payload["payment_id"]), now_due=bool(payload.get("now")))

    register(worker, PAYMENT_ADVANCE, advance)

    async def sweep(_: Schedule) -> None:
        found = await payments.sweep()
        if found:
            log.info("%d payments due for a retry or a look: enqueued", found)

    schedule(worker, PAYMENT_SWEEP, settings.payment_sweep_schedule, sweep)


@contextlib.asynccontextmanager
async def running_campaigns(
    worker: Worker, redis: RedisClient, commands: CommandClient
) -> AsyncIterator[None]:
    """Firmware campaigns: the tick and send jobs, and a loop that enqueues a tick of every
    unfinished campaign each ``CSMS_FIRMWARE_TICK_INTERVAL`` (any number of workers: a
    campaign's tick is queued once, run by one of them)."""
    settings = worker.settings
    publisher = EventPublisher(redis, Keys(settings.redis_prefix), f"worker-{os.getpid()}")
    hooks = Hooks()
    publish_firmware_hooks(hooks, publisher)
    attach_campaign_alarms(
        hooks, worker.pool, settings, publisher, outbox=store_notifications.enqueue
    )
    secret = settings.firmware_url_secret.get_secret_value()

    def sign(artifact: Artifact, charge_point_id: str, retrieve_at: datetime) -> str:
        return signed_url(
            settings.firmware_base_url,
            secret,
            artifact_id=artifact.id,
            file_name=artifact.file_name,
            charge_point_id=charge_point_id,
            expires=int(retrieve_at.timestamp() + settings.firmware_url_ttl),
        )

    orchestrator = FirmwareOrchestrator(
        PostgresFirmware(worker.pool, directory=settings.firmware_dir),
        PgJobQueue(worker.pool),
        commands,
        sign,
        clock=utc_now,
        hooks=hooks,
        command_timeout=settings.firmware_command_timeout,
        default_time_zone=settings.default_time_zone,
    )

    async def tick(payload: dict[str, Any]) -> None:
        await orchestrator.tick(int(payload["campaign_id"]))

    async def send(payload: dict[str, Any]) -> None:
        await orchestrator.send(
            int(payload["campaign_id"]),
            str(payload["charge_point_id"]),
            int(payload["request_id"]),
            payload.get("protocol"),
        )

    register(worker, FIRMWARE_TICK, tick)
    register(worker, FIRMWARE_SEND, send)

    async def ticking() -> None:
        while True:
            try:
                await orchestrator.enqueue_ticks()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # PostgreSQL away (a restart, a failover): the next interval tries again
                log.warning("firmware campaigns: cannot enqueue ticks: %s", exc)
            await asyncio.sleep(settings.firmware_tick_interval)

    await publisher.start()
    loop = asyncio.create_task(ticking(), name="firmware-ticks")
    try:
        yield
    finally:
        await stop_task(loop)
        await publisher.close()


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

    async def offline_sweep(_: Schedule) -> None:
        connected = [f.charge_point_id for f in await config.connected_with_waiting()]
        queued = await config.offline_sweep(connected)
        if queued:
            log.info("%d connected chargers had profile values waiting: queued", queued)

    schedule(worker, OFFLINE_SWEEP, settings.config_offline_sweep_schedule, offline_sweep)


async def run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.run(), name="worker")
    await stop.wait()
    worker.stop()
    await running
