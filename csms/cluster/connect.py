"""Redis clients with a bounded connection pool.

redis-py's default pool opens a new connection whenever none is free, so a connect or
disconnect storm of thousands of chargers opened thousands of Redis connections, hit Redis'
maxclients and failed ownership updates. A blocking pool caps them and makes callers wait
for a free connection instead.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 10.0
RETRIES = 3


def redis_client(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        health_check_interval=30,
        # after a Redis restart every pooled socket is dead: reconnect and retry instead of
        # failing the first command on each of them
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its sockets
