"""The worker's alarm sweeps: conditions no single message reports (docs/topics/alarms.md).

Each sweep computes every condition from what the whole cluster stored (PostgreSQL, and the
node registry in Redis), never from one node's memory: a charger whose node was SIGKILLed is
offline once its node's registration lapsed and nothing was heard from it for the threshold,
and clears when it is connected to a live node again. Any number of workers may sweep at
once: a raise or clear is one conditional statement over the partial unique index, so it
happens once.

Circuit breakers are per process (csms.cluster.breakers): the worker raises
``breaker_open`` for the breakers of its own command client, keyed by node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer.models import Schedule

from csms.cluster.bus import CommandClient
from csms.cluster.connect import RedisClient
from csms.cluster.events import EventPublisher
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.tasks import stop_task
from csms.domain.alarms import (
    AlarmType,
    Change,
    Condition,
    dedupe_key,
    effective_rule,
)
from csms.domain.clock import Clock, utc_now
from csms.services.alarms import AlarmService
from csms.services.hooks import Hooks
from csms.settings import WorkerSettings
from csms.store import alarms as store
from csms.store.alarms import Outbox, PostgresAlarms

log = logging.getLogger(__name__)

ALARM_SWEEP = "alarm_sweep"
# new offline alarms raised by one sweep at most (each is a transaction of its own): a fleet
# that went dark at once is raised over a few sweeps rather than one sweep that runs long
MAX_NEW_PER_SWEEP = 500


@dataclass
class SweepCounts:
    raised: int = 0
    cleared: int = 0


class AlarmSweeper:
    def __init__(
        self,
        pool: asyncpg.Pool,
        service: AlarmService,
        settings: WorkerSettings,
        *,
        registry: Registry | None = None,
        breakers: Callable[[], dict[str, str]] | None = None,
        clock: Clock = utc_now,
        outbox: Outbox | None = None,
    ) -> None:
        self.pool = pool
        self.service = service
        self.settings = settings
        self.registry = registry
        self.breakers = breakers
        self.clock = clock
        self.outbox = outbox
        self._lock = asyncio.Lock()

    async def sweep(self) -> SweepCounts:
        """One pass over every swept source (one at a time in this process)."""
        async with self._lock:
            counts = SweepCounts()
            live: list[str] | None = None
            if self.registry is not None:
                live = [n.node_id for n in await self.registry.live_nodes()]
            await self._offline(live, counts)
            await self._stuck(counts)
            await self._connectors(counts)
            if live is not None:
                await self._nodes(live, counts)
            await self._queue(counts)
            if self.breakers is not None:
                await self._breakers(self.breakers(), counts)
            return counts

    async def _raise(self, condition: Condition, counts: SweepCounts) -> None:
        if await self.service.raise_(condition) is not None:
            counts.raised += 1

    async def _clear_except(
        self, alarm_type: AlarmType, keep: set[str], counts: SweepCounts, *, prefix: str = ""
    ) -> None:
        changes = await store.clear_open_except(
            self.pool, alarm_type, keep, now=self.clock(), outbox=self.outbox, prefix=prefix
        )
        for change in changes:
            self.service.announce(change)
        counts.cleared += len(changes)

    async def _open_keys(self, alarm_type: AlarmType) -> set[str]:
        return {a.dedupe_key for a in await store.open_alarms(self.pool, alarm_type)}

    async def _offline(self, live: list[str] | None, counts: SweepCounts) -> None:
        now = self.clock()
        rules = await store.rules_of(self.pool, AlarmType.CHARGER_OFFLINE)
        silent = await store.silent_chargers(self.pool, live, now)
        open_keys = await self._open_keys(AlarmType.CHARGER_OFFLINE)
        attempts = 0
        for charger in silent:
            key = dedupe_key(AlarmType.CHARGER_OFFLINE, charger.charge_point_id)
            if key in open_keys:
                continue
            if attempts >= MAX_NEW_PER_SWEEP:
                log.warning("alarm sweep: more than %d chargers newly offline", attempts)
                break
            rule = effective_rule(
                AlarmType.CHARGER_OFFLINE,
                rules,
                charge_point_id=charger.charge_point_id,
                site_id=charger.site_id,
                default_threshold=self.settings.alarm_offline_after,
            )
            silence = (now - charger.last_seen_at).total_seconds()
            if rule.enabled and rule.threshold is not None and silence >= rule.threshold:
                attempts += 1
                await self._raise(
                    Condition(
                        AlarmType.CHARGER_OFFLINE,
                        charger.charge_point_id,
                        "",
                        f"offline: nothing heard for {silence:.0f} s",
                        {"last_seen_at": charger.last_seen_at.isoformat()},
                    ),
                    counts,
                )
        # cleared on evidence (connected to a live node), in one statement
        self._cleared(
            await store.clear_reconnected(self.pool, live, now=self.clock(), outbox=self.outbox),
            counts,
        )

    async def _stuck(self, counts: SweepCounts) -> None:
        now = self.clock()
        rules = await store.rules_of(self.pool, AlarmType.SESSION_STUCK)
        default = self.settings.alarm_session_stuck_minutes
        thresholds = [default] + [r.threshold for r in rules if r.threshold is not None]
        quiet = await store.quiet_sessions(self.pool, now - timedelta(minutes=min(thresholds)))
        open_keys = await self._open_keys(AlarmType.SESSION_STUCK)
        keep: set[str] = set()
        for session in quiet:
            key = dedupe_key(
                AlarmType.SESSION_STUCK, session.charge_point_id, session.transaction_id
            )
            site = await store.charger_site(self.pool, session.charge_point_id)
            rule = effective_rule(
                AlarmType.SESSION_STUCK,
                rules,
                charge_point_id=session.charge_point_id,
                site_id=site,
                default_threshold=default,
            )
            minutes = (now - session.last_meter_at).total_seconds() / 60
            if not rule.enabled or rule.threshold is None or minutes < rule.threshold:
                continue
            keep.add(key)
            if key not in open_keys:
                await self._raise(
                    Condition(
                        AlarmType.SESSION_STUCK,
                        session.charge_point_id,
                        session.transaction_id,
                        f"charging with no meter value for {minutes:.0f} min",
                        {
                            "transaction_id": session.transaction_id,
                            "evse_id": session.evse_id,
                            "connector_id": session.connector_id,
                            "last_meter_at": session.last_meter_at.isoformat(),
                        },
                    ),
                    counts,
                )
        await self._clear_except(AlarmType.SESSION_STUCK, keep, counts)

    async def _connectors(self, counts: SweepCounts) -> None:
        """Clear connector alarms whose connector is no longer faulted (a node caches
        which connectors it found clear, so it may skip a clear: this catches it)."""
        self._cleared(
            await store.clear_recovered_connectors(self.pool, now=self.clock(), outbox=self.outbox),
            counts,
        )

    def _cleared(self, changes: list[Change], counts: SweepCounts) -> None:
        for change in changes:
            self.service.announce(change)
        counts.cleared += len(changes)

    async def _nodes(self, live: list[str], counts: SweepCounts) -> None:
        """A node this cluster saw that left the registry without deregistering (its
        registration lapsed: killed, frozen, cut off). The subject is the cluster's Redis
        prefix and the node id (one database may serve several clusters)."""
        now = self.clock()
        cluster = self.settings.redis_prefix
        await store.note_nodes(self.pool, cluster, live, now)
        keep: set[str] = set()
        for node_id, last_seen in await store.known_nodes(self.pool, cluster):
            if node_id in live:
                continue
            condition = Condition(
                AlarmType.NODE_GONE,
                None,
                f"{cluster}{node_id}",
                f"node {node_id} left the registry without deregistering",
                {"cluster": cluster, "node_id": node_id, "last_seen_at": last_seen.isoformat()},
            )
            keep.add(condition.key)
            await self._raise(condition, counts)
        prefix = dedupe_key(AlarmType.NODE_GONE, None, cluster)
        await self._clear_except(AlarmType.NODE_GONE, keep, counts, prefix=prefix)

    async def _queue(self, counts: SweepCounts) -> None:
        depth = await store.queue_depth(self.pool)
        rule = effective_rule(
            AlarmType.QUEUE_BACKLOG,
            await store.rules_of(self.pool, AlarmType.QUEUE_BACKLOG),
            default_threshold=self.settings.alarm_queue_depth,
        )
        keep: set[str] = set()
        if rule.enabled and rule.threshold is not None and depth > rule.threshold:
            condition = Condition(
                AlarmType.QUEUE_BACKLOG,
                None,
                "pgqueuer",
                f"{depth} jobs waiting in the worker queue (threshold {rule.threshold})",
                {"depth": depth, "threshold": rule.threshold},
            )
            keep.add(condition.key)
            await self._raise(condition, counts)
        await self._clear_except(AlarmType.QUEUE_BACKLOG, keep, counts)

    async def _breakers(self, states: dict[str, str], counts: SweepCounts) -> None:
        keep: set[str] = set()
        for node_id, state in states.items():
            if state != "open":
                continue
            condition = Condition(
                AlarmType.BREAKER_OPEN,
                None,
                node_id,
                f"circuit breaker towards node {node_id} is open",
                {"node_id": node_id},
            )
            keep.add(condition.key)
            await self._raise(condition, counts)
        await self._clear_except(AlarmType.BREAKER_OPEN, keep, counts)


def alarm_service(
    pool: asyncpg.Pool,
    settings: WorkerSettings,
    publisher: EventPublisher | None,
    *,
    clock: Clock = utc_now,
    outbox: Outbox | None = None,
) -> AlarmService:
    def publish(event_type: str, charge_point_id: str, data: dict[str, Any]) -> None:
        if publisher is not None:
            publisher.publish(event_type, charge_point_id, **data)

    return AlarmService(
        PostgresAlarms(
            pool,
            outbox=outbox,
            default_thresholds={
                AlarmType.CHARGER_OFFLINE: settings.alarm_offline_after,
                AlarmType.SESSION_STUCK: settings.alarm_session_stuck_minutes,
                AlarmType.QUEUE_BACKLOG: settings.alarm_queue_depth,
            },
        ),
        clock=clock,
        flapping_window=timedelta(seconds=settings.alarm_flapping_window),
        publish=publish,
    )


@contextlib.asynccontextmanager
async def running_alarms(
    worker: Any,
    redis: RedisClient | None,
    commands: CommandClient | None,
    *,
    hooks: Sequence[Hooks] = (),
    outbox: Outbox | None = None,
) -> AsyncIterator[AlarmSweeper]:
    """The sweeps of a worker: a loop every ``CSMS_ALARM_SWEEP_INTERVAL`` seconds, and the
    same sweep as the queue schedule ``alarm_sweep`` (``CSMS_ALARM_SWEEP_SCHEDULE``); the
    alarm service also listens on ``hooks`` (the worker's services: certificate renewal)."""
    from csms.worker.runtime import schedule  # it imports this module

    settings: WorkerSettings = worker.settings
    publisher: EventPublisher | None = None
    registry: Registry | None = None
    if redis is not None:
        keys = Keys(settings.redis_prefix)
        publisher = EventPublisher(redis, keys, f"worker-{os.getpid()}")
        registry = Registry(redis, keys)
        await publisher.start()
    service = alarm_service(worker.pool, settings, publisher, outbox=outbox)
    for found in hooks:
        service.attach(found)
    sweeper = AlarmSweeper(
        worker.pool,
        service,
        settings,
        registry=registry,
        breakers=None if commands is None else commands.breakers.states,
        outbox=outbox,
    )

    async def scheduled(_: Schedule) -> None:
        await sweeper.sweep()

    schedule(worker, ALARM_SWEEP, settings.alarm_sweep_schedule, scheduled)

    async def sweeping() -> None:
        while True:
            try:
                counts = await sweeper.sweep()
                if counts.raised or counts.cleared:
                    log.info("alarm sweep: %d raised, %d cleared", counts.raised, counts.cleared)
            except Exception as exc:  # PostgreSQL or Redis away: the next interval tries again
                log.warning("alarm sweep failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(settings.alarm_sweep_interval)

    loop = asyncio.create_task(sweeping(), name="alarm-sweeps")
    try:
        yield sweeper
    finally:
        await stop_task(loop)
        if publisher is not None:
            await publisher.close()


def attach_campaign_alarms(
    hooks: Hooks,
    pool: asyncpg.Pool,
    settings: WorkerSettings,
    publisher: EventPublisher | None,
    *,
    outbox: Outbox | None = None,
) -> None:
    """Firmware campaigns run in the worker: a halt raises, a resume clears."""
    alarm_service(pool, settings, publisher, outbox=outbox).attach_campaigns(hooks)
