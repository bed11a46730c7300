"""A node's place in the cluster: registration heartbeats and fenced charger ownership.

On connect the node claims the charger (a new epoch); if another socket held it, that
socket's node is told to close it and a security event is recorded. On close the node
releases only its own epoch. If Redis loses its data (restart), the next heartbeat finds
the registration gone and the node re-asserts every charger it still holds; connections
claimed while Redis was down are claimed when it is back. The same happens when the server
behind the routing keys is another one than at the last heartbeat (its ``run_id`` changed:
a Sentinel or Cluster failover promoted a replica, which may have missed the last claims).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from redis.exceptions import RedisError

from csms.cluster import events
from csms.cluster.bus import INBOX_TTL_MS, EvictMessage, push
from csms.cluster.connect import RedisClient
from csms.cluster.events import EventPublisher
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Owner, Routing
from csms.cluster.tasks import stop_task
from csms.node.connection import ChargerConnection
from csms.services import Services
from csms.store.batching import BatchCall

log = logging.getLogger(__name__)

REDIS_ERRORS = (RedisError, OSError)


class Membership:
    """Registry heartbeat and ownership of this node's chargers."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        node_id: str,
        connections: Mapping[str, ChargerConnection],
        publisher: EventPublisher,
        services: Services,
        *,
        ttl: float = 10.0,
        messages: Callable[[], int] | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.address = ""  # known once the node listens: start()
        self.connections = connections
        self.publisher = publisher
        self.services = services
        self.registry = Registry(redis, keys, ttl=ttl)
        self.routing = Routing(redis, keys)
        # a connect storm's claims (and releases) go to Redis as one script run per batch
        self._claim_batch = BatchCall(self._claim_many, max_items=200)
        self._release_batch = BatchCall(self.routing.release_many, max_items=200)
        self._started_at = time.time()
        self._task: asyncio.Task[None] | None = None
        self._registered_once = False
        self._server_id: str | None = None  # run_id of the Redis server of the last beat
        self._liveness: dict[str, tuple[bool, float]] = {}  # node -> (alive, until)
        # connections whose claim is in flight: a heartbeat must not claim them again (a
        # second epoch the connection would not record)
        self._claiming: set[ChargerConnection] = set()
        # OCPP messages handled so far (NodeMetrics.messages_total): each heartbeat
        # publishes the rate since the previous one
        self._messages = messages
        self._rate_mark: tuple[float, int] | None = None

    async def prepare(self) -> None:
        """Before the node accepts connections: release the owner entries a previous run
        under this node id left in Redis (this run holds nothing yet), and register."""
        released = await self.routing.release_node(self.node_id, force=True)
        if released:
            log.warning(
                "released %d chargers a previous run of node %s left in Redis",
                len(released),
                self.node_id,
            )
        await self._beat()

    async def start(self, address: str) -> None:
        """Register as ``address`` (where chargers reach this node) and keep beating."""
        self.address = address
        await self._beat()
        self._task = asyncio.create_task(self._heartbeats(), name="registry-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
        with contextlib.suppress(*REDIS_ERRORS):
            await self.registry.deregister(self.node_id)

    async def claim(self, connection: ChargerConnection) -> None:
        """Take ownership for a newly accepted connection (tolerates Redis being down)."""
        charge_point_id = connection.charge_point_id
        self._claiming.add(connection)
        try:
            epoch, previous = await self._claim_batch(charge_point_id)
        except REDIS_ERRORS as exc:
            connection.link.log.warning("ownership not recorded (Redis: %s); will retry", exc)
            return
        finally:
            self._claiming.discard(connection)
        connection.owner = Owner(self.node_id, epoch)
        self.publisher.publish(
            events.CHARGER_CONNECTED, charge_point_id, protocol=connection.link.protocol
        )
        if previous is not None and previous.node_id != self.node_id:
            if await self._alive(previous.node_id):
                await self._evict_remote(connection, previous, epoch)
            else:  # failover from a node that is gone: nobody to evict, nothing suspicious
                connection.link.log.info(
                    "took over from node %s, which is gone (epoch %d -> %d)",
                    previous.node_id,
                    previous.epoch,
                    epoch,
                )

    async def _alive(self, node_id: str) -> bool:
        """Whether ``node_id`` is registered; remembered for a second, because a failover
        brings thousands of chargers of the same dead node at once."""
        now = time.monotonic()
        known = self._liveness.get(node_id)
        if known is not None and known[1] > now:
            return known[0]
        try:
            alive = await self.registry.is_alive(node_id)
        except REDIS_ERRORS:
            return True  # cannot tell: evict to be safe (the push is best effort anyway)
        if len(self._liveness) > 1000:
            self._liveness.clear()
        self._liveness[node_id] = (alive, now + 1.0)
        return alive

    async def _claim_many(self, charge_point_ids: Sequence[str]) -> list[tuple[int, Owner | None]]:
        return await self.routing.claim_many(charge_point_ids, self.node_id)

    async def _evict_remote(
        self, connection: ChargerConnection, previous: Owner, epoch: int
    ) -> None:
        charge_point_id = connection.charge_point_id
        connection.link.log.warning(
            "took over from node %s (epoch %d -> %d)", previous.node_id, previous.epoch, epoch
        )
        with contextlib.suppress(*REDIS_ERRORS):
            await push(
                self.redis,
                self.keys.inbox(previous.node_id),
                EvictMessage(charge_point_id, epoch).encode(),
                INBOX_TTL_MS,
            )
        await self.services.reports.notification(
            charge_point_id,
            "ConnectionReplaced",
            {
                "previousNode": previous.node_id,
                "previousEpoch": previous.epoch,
                "node": self.node_id,
                "epoch": epoch,
            },
            kind="security",
        )

    async def release(self, connection: ChargerConnection) -> None:
        owner = connection.owner
        if owner is None:
            return
        try:
            released = await self._release_batch((connection.charge_point_id, owner))
        except REDIS_ERRORS as exc:
            # the entry stays until a newer connection claims over it; commands routed to
            # it are answered "not connected" by this node
            connection.link.log.warning("ownership not released (Redis: %s)", exc)
            return
        if released:
            self.publisher.publish(events.CHARGER_DISCONNECTED, connection.charge_point_id)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.registry.ttl / 3)
            await self._beat()

    async def _beat(self) -> None:
        try:
            existed = await self.registry.heartbeat(
                self.node_id,
                self.address,
                self._started_at,
                len(self.connections),
                self._message_rate(),
            )
            server_id = await self.registry.server_id()
            moved = self._server_id not in (None, server_id)
            if self._registered_once and (moved or not existed):
                log.warning(
                    "%s: re-owning chargers",
                    "another Redis server (failover)"
                    if moved
                    else "registration had lapsed (Redis restarted?)",
                )
                await self._reassert_all()
            self._server_id = server_id  # once re-owned: a failed pass is tried again
            self._registered_once = True
            await self._claim_unowned()
        except REDIS_ERRORS as exc:
            log.warning("registry heartbeat failed: %s", exc)

    def _message_rate(self) -> float:
        """Messages per second since the previous heartbeat (0 before there is one)."""
        if self._messages is None:
            return 0.0
        now, count = time.monotonic(), self._messages()
        mark, self._rate_mark = self._rate_mark, (now, count)
        if mark is None or now <= mark[0]:
            return 0.0
        return max(0, count - mark[1]) / (now - mark[0])

    async def _reassert_all(self) -> None:
        for connection in list(self.connections.values()):
            owner = connection.owner
            if owner is None:
                continue
            if not await self.routing.reassert(connection.charge_point_id, owner):
                connection.link.log.warning("a newer connection owns the charger: closing")
                await connection.websocket.close(1008, "replaced by a newer connection")
            else:  # a presence sweep may have taken us for dead meanwhile
                await self.services.chargers.connected(
                    connection.link, self.node_id, connection.recorded_epoch
                )

    async def _claim_unowned(self) -> None:
        # together, so they go to Redis in batches (after an outage: every connection)
        await asyncio.gather(
            *(
                self.claim(connection)
                for connection in list(self.connections.values())
                if connection.owner is None
                and not connection.closed
                and connection not in self._claiming
            )
        )
