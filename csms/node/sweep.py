"""The node's periodic reconciliation: presence of nodes that are gone, and sessions of
chargers that rebooted without ending them (docs/topics/sessions.md).

Presence: what nodes that are gone left behind is released.

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

Sessions: a charger that rebooted delivers the stops it queued right after its boot; a
session still open ``CSMS_SESSION_REBOOT_GRACE`` seconds after its charger's boot, with
nothing heard about it since, was abandoned and is closed.

Without Redis (a standalone node) only the session sweep runs, on that node.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from redis.exceptions import RedisError

from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from csms.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    swept: bool  # False: another node holds this interval's lock
    owners_released: int = 0
    presence_released: int = 0
    sessions_closed: int = 0


class Sweep:
    def __init__(
        self,
        redis: RedisClient | None,
        keys: Keys,
        node_id: str,
        services: Services,
        *,
        interval: float,
        reboot_grace: float,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.services = services
        self.interval = interval
        self.reboot_grace = timedelta(seconds=reboot_grace)

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
        if self.redis is None:
            closed = await self.services.sessions.close_after_reboot(self.reboot_grace)
            return SweepResult(True, sessions_closed=len(closed))
        if locked:
            lock_ms = max(1, int(self.interval * 900))  # expires before the next interval
            taken = await self.redis.set(self.keys.sweep_lock(), self.node_id, nx=True, px=lock_ms)
            if not taken:
                return SweepResult(swept=False)
        owners, presence = await self._presence(self.redis)
        closed = await self.services.sessions.close_after_reboot(self.reboot_grace)
        return SweepResult(True, owners, presence, len(closed))

    async def _presence(self, redis: RedisClient) -> tuple[int, int]:
        registry, routing = Registry(redis, self.keys), Routing(redis, self.keys)
        live = {node.node_id for node in await registry.live_nodes()}
        owners = 0
        for node_id in await routing.nodes_holding():
            if node_id in live:
                continue
            released = await routing.release_node(node_id)
            if released:
                owners += len(released)
                log.warning(
                    "node %s is gone: released %d of its chargers in Redis", node_id, len(released)
                )
        presence = await self.services.chargers.release_dead_nodes(sorted(live))
        if presence:
            log.warning(
                "chargers recorded as connected to nodes that are gone, now offline: %s",
                ", ".join(presence[:20]) + (" ..." if len(presence) > 20 else ""),
            )
        return owners, len(presence)
