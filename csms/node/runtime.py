"""Assemble and run a node: pool, batch writers, WebSocket server, housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import decimal
import gc
import logging
import resource
from collections.abc import AsyncIterator, Sequence

import asyncpg

from csms.authority import load_authority
from csms.cluster.connect import RedisClient, describe, redis_client
from csms.cluster.events import EventPublisher, publish_firmware_hooks, publish_hooks
from csms.cluster.keys import Keys
from csms.cluster.tasks import stop_task
from csms.domain.clock import Clock, utc_now
from csms.node import certificate_signing
from csms.node.alarms import attach_alarms, forget_node
from csms.node.collector import StormFreezer
from csms.node.commands import CommandServer
from csms.node.config_follow_up import ConfigFollowUp
from csms.node.membership import Membership
from csms.node.metrics import NodeMetrics
from csms.node.server import Connections, Node, NodeDeps
from csms.node.sweep import Sweep
from csms.services import CertificateOptions, PricingOptions, Services
from csms.services.firmware import FirmwareTracker
from csms.services.hooks import ChargerBooted, Hooks
from csms.settings import NodeSettings
from csms.store import journal as journal_store
from csms.store import notifications
from csms.store.batching import BatchWriter, Row
from csms.store.pool import create_pool
from csms.store.postgres import PostgresFirmware, PostgresStores

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running_node(
    settings: NodeSettings,
    database_url: str,
    redis_url: str | None = None,
    *,
    clock: Clock = utc_now,
) -> AsyncIterator[Node]:
    """A started node; on exit it drains (stops accepting, closes its sockets with 1001 in
    batches, releases ownership), flushes its writes and deregisters.

    With ``redis_url`` the node joins the cluster: registry heartbeats, fenced ownership,
    the command inbox and live events. Without it, it serves chargers standalone.
    Everything is built before the node starts; nothing is swapped in afterwards.
    """
    raise_open_files_limit()
    # Long-lived connection objects survive many collections: freeze what start-up made
    # and collect less often (a full pass over 10k connections took ~280 ms).
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    pool = await create_pool(
        database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        retry_seconds=settings.db_retry_seconds,
    )
    stores = PostgresStores(
        pool,
        write_batch_rows=settings.write_batch_rows,
        write_batch_delay=settings.write_batch_delay_ms / 1000,
    )

    async def flush_journal_rows(rows: Sequence[Row]) -> None:
        await journal_store.insert_rows(pool, rows)

    journal = (
        BatchWriter(
            flush_journal_rows,
            max_rows=settings.write_batch_rows,
            # nobody waits for the journal: a longer wait fills batches at low rates
            max_delay=settings.journal_batch_delay_ms / 1000,
        )
        if settings.journal_enabled
        else None
    )
    hooks = Hooks()
    redis: RedisClient | None = None
    publisher: EventPublisher | None = None
    keys = Keys(settings.redis_prefix)
    if redis_url is not None:
        log.info("node %s joins the cluster through %s", settings.node_id, describe(redis_url))
        redis = redis_client(redis_url)
        publisher = EventPublisher(
            redis,
            keys,
            settings.node_id,
            gather_seconds=settings.event_batch_delay_ms / 1000,
        )
        publish_hooks(hooks, publisher)
        publish_firmware_hooks(hooks, publisher)
    services = Services(
        stores,
        clock=clock,
        hooks=hooks,
        heartbeat_interval=settings.heartbeat_interval,
        boot_retry_interval=settings.boot_retry_interval,
        pricing=PricingOptions(
            update_interval=settings.cost_update_interval,
            rounding=getattr(decimal, settings.cost_rounding),
            default_time_zone=settings.default_time_zone,
        ),
        billing=settings.billing_enabled,
        authority=load_authority(settings, clock=clock),
        certificates=CertificateOptions(organization=settings.cert_organization),
    )
    connections: Connections = {}
    metrics = NodeMetrics(lambda: len(connections))
    membership: Membership | None = None
    command_server: CommandServer | None = None
    if redis is not None and publisher is not None:
        membership = Membership(
            redis,
            keys,
            settings.node_id,
            connections,
            publisher,
            services,
            messages=lambda: metrics.messages_total,
        )
        command_server = CommandServer(
            redis, keys, settings.node_id, connections, services.reports, clock, metrics
        )
    sweep = Sweep(
        redis,
        keys,
        settings.node_id,
        services,
        interval=settings.presence_sweep_interval,
        reboot_grace=settings.session_reboot_grace,
    )
    node = Node(
        NodeDeps(
            settings,
            services,
            stores.flush,
            journal=journal,
            metrics=metrics,
            ready_checks=lambda: readiness(pool, redis),
        ),
        connections=connections,
        membership=membership,
    )
    hooks.subscribe(ChargerBooted, node.on_booted)
    ConfigFollowUp(connections, services, on_boot=settings.config_read_on_boot).attach(hooks)
    # firmware campaigns: this node records the statuses and boots of the chargers it holds
    FirmwareTracker(PostgresFirmware(pool), clock=clock, hooks=hooks).attach(hooks)
    attach_alarms(hooks, pool, settings, publisher, clock, outbox=notifications.enqueue)
    sweeping: asyncio.Task[None] | None = None
    pushing: asyncio.Task[None] | None = None
    freezing: asyncio.Task[None] | None = None
    try:
        # this node id holds nothing yet: what a previous run left is released first
        released = await services.chargers.release_node(settings.node_id)
        if released:
            log.warning(
                "%d chargers a previous run of this node left connected: offline", len(released)
            )
        if membership is not None:
            await membership.prepare()
        await node.start()
        if publisher is not None and membership is not None and command_server is not None:
            await publisher.start()
            await membership.start(f"ws://{settings.host}:{node.port}")
            await command_server.start()
        sweeping = asyncio.create_task(sweep.run(), name="sweep")
        pushing = asyncio.create_task(node.pusher.run(), name="tariff-push")
        if settings.gc_storm_freeze:
            freezer = StormFreezer(lambda: len(connections))
            freezing = asyncio.create_task(freezer.run(), name="gc-storm-freeze")
        yield node
    finally:
        if freezing is not None:
            await stop_task(freezing)
        if sweeping is not None:
            await stop_task(sweeping)
        if pushing is not None:
            await stop_task(pushing)
        await node.stop()
        await certificate_signing.drain()
        if command_server is not None:
            await command_server.stop()
        if membership is not None:
            await membership.stop()
            await forget_node(
                pool, settings.redis_prefix, settings.node_id
            )  # drained on purpose: not "gone"
        if publisher is not None:
            await publisher.close()
        await stores.flush()
        if journal is not None:
            await journal.flush()
        await pool.close()
        if redis is not None:
            await redis.aclose()


READY_TIMEOUT = 2.0


async def readiness(pool: asyncpg.Pool, redis: RedisClient | None) -> dict[str, str]:
    """``GET /ready``: whether PostgreSQL (and Redis, in a cluster) answer within
    ``READY_TIMEOUT`` (the pool would wait longer for PostgreSQL to come back)."""
    checks = {"postgres": "ok"}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await pool.fetchval("SELECT 1")
    except Exception as exc:  # whatever fails, PostgreSQL is not usable: report it
        log.warning("readiness: PostgreSQL: %s", exc)
        checks["postgres"] = "unavailable"
    if redis is not None:
        checks["redis"] = "ok"
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await redis.ping()
        except Exception as exc:
            log.warning("readiness: Redis: %s", exc)
            checks["redis"] = "unavailable"
    return checks


def raise_open_files_limit() -> int:
    """Every charger is a socket: lift the soft open-files limit to the hard one (often
    1,024 vs much more). Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # an unlimited hard limit (macOS) still has a kernel ceiling: aim lower, step down
    targets = [hard] if hard != resource.RLIM_INFINITY else [1_048_576, 65_536, 10_240]
    for target in targets:
        if soft >= target:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
            break
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    log.info("open-files limit %d: at most about that many chargers on this node", soft)
    return soft
