"""Presence reconciliation: what nodes that are gone left behind is released.

A node that dies (SIGKILL, power loss) cannot release its chargers: their owner entries stay
in Redis and the database still records them as connected to it. Every node runs a sweep
each ``CSMS_PRESENCE_SWEEP_INTERVAL`` seconds; one of them (a Redis lock) looks for nodes
that hold chargers but are no longer registered (their registration lapsed: ``ttl``) and
releases their owner entries and database presence. Every release is fenced by node and
epoch, so a charger that reconnected elsewhere meanwhile is never touched, and a second
sweep (or a node running it concurrently) changes nothing.

A dead node's chargers read as offline at most ``ttl + interval`` after it died (20 s with
the defaults). A node that restarts under the same id releases what its previous run left
before it accepts connections (``Membership.prepare``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from csms.services.chargers import ChargerService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    swept: bool  # False: another node holds this interval's lock
    owners_released: int = 0
    presence_released: int = 0


class PresenceSweep:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        node_id: str,
        chargers: ChargerService,
        *,
        interval: float,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.chargers = chargers
        self.interval = interval
        self.registry = Registry(redis, keys)
        self.routing = Routing(redis, keys)

    async def run(self) -> None:
        """Sweep every interval until cancelled; failures are logged and retried."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep_once()
            except (RedisError, OSError, asyncpg.PostgresError) as exc:
                log.warning("presence sweep failed: %s", exc)

    async def sweep_once(self, *, locked: bool = True) -> SweepResult:
        """One sweep. With ``locked`` (the default) only if no other node swept in this
        interval."""
        if locked:
            lock_ms = max(1, int(self.interval * 900))  # expires before the next interval
            taken = await self.redis.set(self.keys.sweep_lock(), self.node_id, nx=True, px=lock_ms)
            if not taken:
                return SweepResult(swept=False)
        live = {node.node_id for node in await self.registry.live_nodes()}
        owners = 0
        for node_id in await self.routing.nodes_holding():
            if node_id in live:
                continue
            released = await self.routing.release_node(node_id)
            if released:
                owners += len(released)
                log.warning(
                    "node %s is gone: released %d of its chargers in Redis", node_id, len(released)
                )
        presence = await self.chargers.release_dead_nodes(sorted(live))
        if presence:
            log.warning(
                "chargers recorded as connected to nodes that are gone, now offline: %s",
                ", ".join(presence[:20]) + (" ..." if len(presence) > 20 else ""),
            )
        return SweepResult(True, owners, len(presence))
