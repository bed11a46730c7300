"""The service status (the paper's Hystrix dashboard): ``GET /api/v1/status`` and the
scrape-time gauges of ``/metrics``.

One :func:`collect` reads everything with a deadline: PostgreSQL and Redis are pinged (and
timed), then what each holds is read, each dependency on its own, so a dependency that is
down or hangs is reported ``up: false`` within ``PROBE_TIMEOUT`` and the rest still answers.

- nodes: the registry's live nodes (chargers held, messages per second, last heartbeat),
  and, marked not alive, nodes that PostgreSQL still records chargers on or that a breaker
  report names (a node that died: its registration lapsed);
- circuit breakers: every backoffice replica's breaker of each node, as the replicas report
  them to Redis (csms/cluster/breaker_reports.py); this replica's own from memory;
- the worker queue: PgQueuer's jobs not yet done, by entrypoint and status;
- alarm counts by severity and webhook deliveries by state, from providers the app is
  built with (:class:`StatusProviders`); absent (``None``) without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import asyncpg
from redis.exceptions import RedisError

from backoffice.metrics import Metrics
from csms.cluster import breaker_reports
from csms.cluster.breaker_reports import BreakerView
from csms.cluster.breakers import BreakerBox
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.registry import NodeInfo, Registry
from csms.store import chargers as charger_store
from csms.store import jobs

if TYPE_CHECKING:
    from backoffice.state import State

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0

POSTGRES = "postgres"
REDIS = "redis"
DEPENDENCIES = (POSTGRES, REDIS)

Counts = Callable[[asyncpg.Connection], Awaitable[Mapping[str, int]]]
"""An async provider of counts read over one PostgreSQL connection (e.g. open alarms by
severity: ``csms.store.alarms.count_open_by_severity``)."""


@dataclass(frozen=True, slots=True)
class StatusProviders:
    """Counts other features own, wired by the app (None: not shown)."""

    alarm_counts: Counts | None = None
    delivery_counts: Counts | None = None


@dataclass(frozen=True, slots=True)
class DependencyHealth:
    up: bool
    latency_seconds: float | None  # of the ping, when it answered
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node_id: str
    alive: bool
    info: NodeInfo | None  # its registration, while alive
    chargers_recorded: int | None  # chargers PostgreSQL records as connected to it
    breakers: list[BreakerView]


@dataclass(slots=True)
class ServiceStatus:
    checked_at: float
    replica_id: str
    dependencies: dict[str, DependencyHealth]
    nodes: list[NodeStatus] | None = None  # None: Redis could not be read
    queues: list[jobs.QueueDepth] | None = None  # None: PostgreSQL could not be read
    alarms: dict[str, int] | None = None
    deliveries: dict[str, int] | None = None
    unavailable: list[str] = field(default_factory=list)  # sections that could not be read

    @property
    def healthy(self) -> bool:
        return (
            all(d.up for d in self.dependencies.values())
            and not self.unavailable
            and not any(n.chargers_recorded for n in self.nodes or () if not n.alive)
            and not any(
                b.state != "closed" for n in self.nodes or () if n.alive for b in n.breakers
            )
        )


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the status is read from (what the app holds)."""

    pool: asyncpg.Pool
    redis: RedisClient
    keys: Keys
    replica_id: str
    breakers: BreakerBox
    providers: StatusProviders


@dataclass(slots=True)
class _Database:
    health: DependencyHealth
    queues: list[jobs.QueueDepth] | None = None
    recorded: dict[str, int] | None = None
    alarms: dict[str, int] | None = None
    deliveries: dict[str, int] | None = None


@dataclass(slots=True)
class _Cluster:
    health: DependencyHealth
    nodes: list[NodeInfo] | None = None
    breakers: list[BreakerView] | None = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]


async def _database(sources: Sources, timeout: float) -> _Database:
    """Ping PostgreSQL, then read what it holds, all before the deadline. A ping that
    answered keeps PostgreSQL ``up`` even if a read then runs out of time (that section
    is then unavailable)."""
    result = _Database(DependencyHealth(False, None, "timed out"))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with sources.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
                result.health = DependencyHealth(True, time.perf_counter() - started)
                result.queues = await jobs.queue_depths(conn)
                result.recorded = await charger_store.chargers_by_node(conn)
                await _provided(sources.providers, cast(asyncpg.Connection, conn), result)
    except Exception as exc:  # whatever fails, report it: the status must answer
        log.warning("status: PostgreSQL: %s", _reason(exc))
        if not result.health.up:
            result.health = DependencyHealth(False, None, _reason(exc))
    return result


async def _provided(
    providers: StatusProviders, conn: asyncpg.Connection, result: _Database
) -> None:
    if providers.alarm_counts is not None:
        try:
            result.alarms = dict(await providers.alarm_counts(conn))
        except Exception as exc:  # another feature's failure must not hide the rest
            log.warning("status: alarm counts not read: %s", _reason(exc))
    if providers.delivery_counts is not None:
        try:
            result.deliveries = dict(await providers.delivery_counts(conn))
        except Exception as exc:
            log.warning("status: webhook delivery counts not read: %s", _reason(exc))


async def _cluster(sources: Sources, timeout: float) -> _Cluster:
    result = _Cluster(DependencyHealth(False, None, "timed out"))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await sources.redis.ping()
            result.health = DependencyHealth(True, time.perf_counter() - started)
            result.nodes = await Registry(sources.redis, sources.keys).live_nodes()
            result.breakers = await breaker_reports.read_all(sources.redis, sources.keys)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("status: Redis: %s", _reason(exc))
        if not result.health.up:
            result.health = DependencyHealth(False, None, _reason(exc))
    return result


def _own_views(sources: Sources, now: float) -> list[BreakerView]:
    return [
        BreakerView(sources.replica_id, name, state, failures, now)
        for name, (state, failures) in sources.breakers.failures().items()
    ]


async def collect(sources: Sources, *, timeout: float = PROBE_TIMEOUT) -> ServiceStatus:
    """The whole status, within about ``timeout`` seconds whatever is down."""
    now = time.time()
    database, cluster = await asyncio.gather(
        _database(sources, timeout), _cluster(sources, timeout)
    )
    status = ServiceStatus(
        checked_at=now,
        replica_id=sources.replica_id,
        dependencies={POSTGRES: database.health, REDIS: cluster.health},
        queues=database.queues,
        alarms=database.alarms,
        deliveries=database.deliveries,
    )
    if database.queues is None:
        status.unavailable.append("queues")
    if sources.providers.alarm_counts is not None and database.alarms is None:
        status.unavailable.append("alarms")
    if sources.providers.delivery_counts is not None and database.deliveries is None:
        status.unavailable.append("webhook_deliveries")
    # this replica's breakers from memory (fresh, and known with Redis down); the others'
    # from their reports
    views = [v for v in cluster.breakers or () if v.replica_id != sources.replica_id]
    views.extend(_own_views(sources, now))
    if cluster.nodes is None:
        status.unavailable.append("nodes")
        # what can still be said without Redis: this replica's breakers, PostgreSQL's view
        status.nodes = None
        return status
    status.nodes = _nodes(cluster.nodes, views, database.recorded)
    return status


def _nodes(
    live: list[NodeInfo], views: list[BreakerView], recorded: dict[str, int] | None
) -> list[NodeStatus]:
    by_node: dict[str, list[BreakerView]] = {}
    for view in views:
        by_node.setdefault(view.node_id, []).append(view)
    alive = {n.node_id: n for n in live}
    # a node that is gone is shown while something still points at it: chargers recorded
    # on it, or a breaker that has counted failures or is not closed
    names = (
        set(alive)
        | {n for n, count in (recorded or {}).items() if count}
        | {v.node_id for v in views if v.state != "closed" or v.failures}
    )
    return [
        NodeStatus(
            node_id=name,
            alive=name in alive,
            info=alive.get(name),
            chargers_recorded=None if recorded is None else recorded.get(name, 0),
            breakers=sorted(by_node.get(name, []), key=lambda v: v.replica_id),
        )
        for name in sorted(names)
    ]


def sources_of(state: State) -> Sources:
    """The sources of a started backoffice ``State``."""
    return Sources(
        pool=state.pool,
        redis=state.redis,
        keys=state.keys,
        replica_id=state.commands.caller_id,
        breakers=state.commands.breakers,
        providers=state.status_providers,
    )


def set_metrics(metrics: Metrics, status: ServiceStatus) -> None:
    """The scrape-time gauges from one collected status; a section that could not be read
    leaves its gauges as they were (but the dependency gauges, which say so)."""
    for name, health in status.dependencies.items():
        metrics.dependency_up.labels(name).set(1 if health.up else 0)
        if health.latency_seconds is not None:
            metrics.dependency_latency.labels(name).set(health.latency_seconds)
        else:
            with contextlib.suppress(KeyError):  # not measured since it went down
                metrics.dependency_latency.remove(name)
    if status.queues is not None:
        metrics.queue_depth.clear()
        metrics.queue_oldest.clear()
        oldest: dict[str, float] = {}
        for depth in status.queues:
            metrics.queue_depth.labels(depth.entrypoint, depth.status).set(depth.jobs)
            if depth.status == "queued":
                oldest[depth.entrypoint] = max(
                    oldest.get(depth.entrypoint, 0.0), depth.oldest_due_seconds
                )
        for entrypoint, seconds in oldest.items():
            metrics.queue_oldest.labels(entrypoint).set(seconds)
    if status.nodes is not None:
        metrics.nodes_alive.set(sum(1 for n in status.nodes if n.alive))
        metrics.node_messages.clear()
        metrics.node_heartbeat_age.clear()
        for node in status.nodes:
            if node.info is not None:
                info = node.info
                metrics.node_messages.labels(node.node_id).set(info.messages_per_second)
                age = max(0.0, status.checked_at - info.heartbeat_at)
                metrics.node_heartbeat_age.labels(node.node_id).set(age)
        metrics.cluster_breakers.clear()
        counts: dict[tuple[str, str], int] = {}
        for node in status.nodes:
            for view in node.breakers:
                key = (node.node_id, view.state)
                counts[key] = counts.get(key, 0) + 1
        for (node_id, state), count in counts.items():
            metrics.cluster_breakers.labels(node_id, state).set(count)
    if status.alarms is not None:
        metrics.alarms_open.clear()
        for severity, count in status.alarms.items():
            metrics.alarms_open.labels(severity).set(count)
    if status.deliveries is not None:
        metrics.webhook_deliveries.clear()
        for state, count in status.deliveries.items():
            metrics.webhook_deliveries.labels(state).set(count)


async def refresh_metrics(state: State) -> None:
    """A :data:`backoffice.metrics.Refresher`: the status gauges of ``state``'s app."""
    set_metrics(state.metrics, await collect(sources_of(state)))
