"""Node registry: each node heartbeats a hash with a TTL; a lapsed TTL evicts it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster

from csms import __version__
from csms.cluster.connect import RedisClient
from csms.cluster.keys import Keys

log = logging.getLogger(__name__)

DEFAULT_TTL = 10.0


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    address: str
    version: str
    started_at: float
    connections: int
    heartbeat_at: float
    messages_per_second: float = 0.0  # OCPP CALLs both ways, over the last heartbeat interval

    @classmethod
    def from_hash(cls, node_id: str, data: Mapping[Any, Any]) -> NodeInfo:
        text = {_str(k): _str(v) for k, v in data.items()}
        return cls(
            node_id=node_id,
            address=text.get("address", ""),
            version=text.get("version", ""),
            started_at=float(text.get("started_at", "0")),
            connections=int(text.get("connections", "0")),
            heartbeat_at=float(text.get("heartbeat_at", "0")),
            messages_per_second=float(text.get("messages_per_second", "0")),
        )


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Registry:
    """Registration, renewal and lookup of live nodes."""

    def __init__(self, redis: RedisClient, keys: Keys, *, ttl: float = DEFAULT_TTL) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl

    async def heartbeat(
        self,
        node_id: str,
        address: str,
        started_at: float,
        connections: int,
        messages_per_second: float = 0.0,
    ) -> bool:
        """Renew the registration; False if it had lapsed (or Redis lost it) before."""
        key = self.keys.node(node_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(key)
            pipe.hset(
                key,
                mapping={
                    "address": address,
                    "version": __version__,
                    "started_at": started_at,
                    "connections": connections,
                    "heartbeat_at": time.time(),
                    "messages_per_second": round(messages_per_second, 3),
                },
            )
            pipe.pexpire(key, int(self.ttl * 1000))
            existed, *_ = await pipe.execute()
        return bool(existed)

    async def server_id(self) -> str:
        """The ``run_id`` of the Redis server that holds the registrations (and the whole
        routing table: one hash slot). It changes when that server restarts or a replica
        takes over (a Sentinel or Cluster failover), which may have lost the last writes."""
        redis = self.redis
        if isinstance(redis, RedisCluster):
            node = redis.get_node_from_key(self.keys.node(""))
            info: Any = await redis.info("server", target_nodes=node)
        else:
            info = await redis.info("server")
        return str(info.get("run_id", ""))

    async def deregister(self, node_id: str) -> None:
        await self.redis.delete(self.keys.node(node_id))

    async def is_alive(self, node_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.node(node_id)))

    async def live_nodes(self) -> list[NodeInfo]:
        nodes: list[NodeInfo] = []
        prefix_len = len(self.keys.node(""))
        async for key in self.redis.scan_iter(match=self.keys.node_pattern(), count=500):
            data = await self.redis.hgetall(key)
            if data:
                nodes.append(NodeInfo.from_hash(key.decode()[prefix_len:], data))
        return sorted(nodes, key=lambda n: n.node_id)
