"""Redis clients from ``CSMS_REDIS_URL``: one server, a Sentinel-managed primary, or a Cluster.

- ``redis://[[user]:password@]host:6379/0`` (``rediss://`` for TLS, ``unix://``): one server.
- ``redis+sentinel://[[user]:password@]host:26379,host2:26379/mymaster/0``: the primary of
  ``mymaster`` as the sentinels name it, followed through failovers. The credentials are the
  primary's; ``?sentinel_password=`` (and ``sentinel_username``) if the sentinels have their
  own.
- ``redis+cluster://[[user]:password@]host:7000,host2:7001``: a Redis Cluster (database 0).

redis-py's default pool opens a new connection whenever none is free, so a connect or
disconnect storm of thousands of chargers opened thousands of Redis connections, hit Redis'
maxclients and failed ownership updates. A blocking pool caps them and makes callers wait
for a free connection instead (a Cluster client caps its connections per shard).

Every connection has a connect and a read timeout, so a primary that vanishes (a crashed
host answers nothing) fails commands within seconds instead of hanging them; a pooled
connection that broke is reconnected and the command retried (a few times, backing off),
which is what carries the clients through a restart or a failover.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from csms.errors import ConfigurationError

# What the cluster code takes: a client of one server (or a Sentinel-managed primary), or
# of a Cluster. Both run the commands and scripts csms uses (tests/integration/cluster/).
RedisClient: TypeAlias = Redis | RedisCluster

DEFAULT_MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 10.0
RETRIES = 3
CONNECT_TIMEOUT = 2.0
# Longer than any blocking read csms makes (BRPOP 1 s, XREAD 5 s).
READ_TIMEOUT = 10.0
SENTINEL = "redis+sentinel"
CLUSTER = "redis+cluster"


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def _hosts(netloc: str, default_port: int, url_kind: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for entry in netloc.rpartition("@")[2].split(","):
        entry = entry.strip()
        if not entry:
            continue
        if entry.startswith("["):  # [IPv6]:port
            host, _, rest = entry[1:].partition("]")
            port_text = rest.removeprefix(":")
        else:
            host, _, port_text = entry.partition(":")
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ConfigurationError(f"{url_kind}: bad port in {entry!r}") from None
        if not host or not 0 < port < 65536:
            raise ConfigurationError(f"{url_kind}: bad host:port {entry!r}")
        hosts.append((host, port))
    if not hosts:
        raise ConfigurationError(f"{url_kind}: no host:port given")
    return tuple(hosts)


def _credentials(netloc: str) -> tuple[str | None, str | None]:
    userinfo, at, _ = netloc.rpartition("@")
    if not at:
        return None, None
    username, colon, password = userinfo.partition(":")
    if not colon:  # "password@" alone is the password, as in redis://secret@host
        return None, unquote(username) or None
    return unquote(username) or None, unquote(password) or None


def parse_sentinel_url(url: str) -> SentinelUrl:
    """``redis+sentinel://[[user]:password@]host:port,.../service_name[/db]``."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL:
        raise ConfigurationError(f"not a {SENTINEL}:// URL")
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ConfigurationError(
            f"{SENTINEL}: the path is /<service name>[/<db>], e.g. /mymaster/0"
        )
    try:
        db = int(path[1]) if len(path) == 2 else 0
    except ValueError:
        raise ConfigurationError(f"{SENTINEL}: database {path[1]!r} is not a number") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"sentinel_password", "sentinel_username"}
    if unknown:
        raise ConfigurationError(f"{SENTINEL}: unknown option(s) {', '.join(sorted(unknown))}")
    username, password = _credentials(parts.netloc)
    return SentinelUrl(
        sentinels=_hosts(parts.netloc, 26379, SENTINEL),
        service_name=unquote(path[0]),
        db=db,
        username=username,
        password=password,
        sentinel_username=query.get("sentinel_username"),
        sentinel_password=query.get("sentinel_password"),
    )


def parse_cluster_url(url: str) -> ClusterUrl:
    """``redis+cluster://[[user]:password@]host:port,...`` (database 0 only)."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER:
        raise ConfigurationError(f"not a {CLUSTER}:// URL")
    if parts.path.strip("/") not in ("", "0"):
        raise ConfigurationError(f"{CLUSTER}: a Redis Cluster has database 0 only")
    username, password = _credentials(parts.netloc)
    return ClusterUrl(_hosts(parts.netloc, 6379, CLUSTER), username, password)


def redis_scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES)


def _connection_options() -> dict[str, Any]:
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": READ_TIMEOUT,
        # after a restart or a failover every pooled socket is dead: reconnect and retry
        # instead of failing the first command on each of them
        "retry": _retry(),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def redis_client(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> RedisClient:
    """A client for ``url`` (see the module docstring); the caller ``aclose()``s it."""
    scheme = redis_scheme(url)
    if scheme == SENTINEL:
        return sentinel_client(parse_sentinel_url(url), max_connections=max_connections)
    if scheme == CLUSTER:
        return cluster_client(parse_cluster_url(url), max_connections=max_connections)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        health_check_interval=30,
        **_connection_options(),
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes its sockets


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """The primary's connections, found through the sentinels, at most ``max_connections``
    at once (callers wait for one, as with ``BlockingConnectionPool``)."""


class SentinelRedis(Redis):
    """The primary's client; closing it also closes the connections to the sentinels."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_manager is not None:
            await self.sentinel_manager.aclose()


def sentinel_client(
    url: SentinelUrl, *, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> SentinelRedis:
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": CONNECT_TIMEOUT,
    }
    if url.sentinel_password is not None:
        sentinel_options["password"] = url.sentinel_password
    if url.sentinel_username is not None:
        sentinel_options["username"] = url.sentinel_username
    sentinel = Sentinel(list(url.sentinels), sentinel_kwargs=sentinel_options)
    client = sentinel.master_for(
        url.service_name,
        redis_class=SentinelRedis,
        connection_pool_class=BlockingSentinelConnectionPool,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        db=url.db,
        username=url.username,
        password=url.password,
        health_check_interval=30,
        **_connection_options(),
    )
    assert isinstance(client, SentinelRedis)
    client.sentinel_manager = sentinel
    return client


def cluster_client(
    url: ClusterUrl, *, max_connections: int = DEFAULT_MAX_CONNECTIONS
) -> RedisCluster:
    options = _connection_options()
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in url.nodes],
        username=url.username,
        password=url.password,
        max_connections=max_connections,  # per shard
        socket_connect_timeout=options["socket_connect_timeout"],
        socket_timeout=options["socket_timeout"],
        retry=options["retry"],
        retry_on_error=options["retry_on_error"],
    )


def describe(url: str) -> str:
    """``url`` without its credentials, for logs."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=netloc, query="").geturl()
