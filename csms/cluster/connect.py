"""Redis clients with a bounded connection pool.

redis-py's default pool opens a new connection whenever none is free, so a connect or
disconnect storm of thousands of chargers opened thousands of Redis connections, hit Redis'
maxclients and failed ownership updates. A blocking pool caps them and makes callers wait
for a free connection instead.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

DEFAULT_MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 10.0


def redis_client(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its sockets
