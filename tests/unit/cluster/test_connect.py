"""CSMS_REDIS_URL forms: one server, Sentinel, Cluster (csms/cluster/connect.py)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from csms.cluster.connect import (
    BlockingSentinelConnectionPool,
    ClusterUrl,
    SentinelRedis,
    SentinelUrl,
    describe,
    parse_cluster_url,
    parse_sentinel_url,
    redis_client,
)
from csms.errors import ConfigurationError


def test_sentinel_url() -> None:
    assert parse_sentinel_url(
        "redis+sentinel://:s3cret@sentinel-0:26379,sentinel-1,[::1]:26380/mymaster/2"
        "?sentinel_password=other"
    ) == SentinelUrl(
        sentinels=(("sentinel-0", 26379), ("sentinel-1", 26379), ("::1", 26380)),
        service_name="mymaster",
        db=2,
        password="s3cret",
        sentinel_password="other",
    )
    assert parse_sentinel_url("redis+sentinel://u:p%40ss@h/svc") == SentinelUrl(
        (("h", 26379),), "svc", 0, "u", "p@ss"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://h:26379", "the path is /<service name>"),
        ("redis+sentinel://h:26379/a/b/c", "the path is /<service name>"),
        ("redis+sentinel://h:26379/svc/zero", "database 'zero' is not a number"),
        ("redis+sentinel://h:x/svc", "bad port"),
        ("redis+sentinel:///svc", "no host:port"),
        ("redis+sentinel://h/svc?ssl=1", "unknown option"),
    ],
)
def test_bad_sentinel_urls_say_why(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_sentinel_url(url)


def test_cluster_url() -> None:
    assert parse_cluster_url("redis+cluster://pw@r0:7000,r1:7001") == ClusterUrl(
        (("r0", 7000), ("r1", 7001)), None, "pw"
    )
    with pytest.raises(ConfigurationError, match="database 0 only"):
        parse_cluster_url("redis+cluster://r0:7000/3")


async def test_the_client_follows_the_scheme() -> None:
    one = redis_client("redis://127.0.0.1:6379/0")
    sentinel = redis_client("redis+sentinel://127.0.0.1:26379/mymaster/0")
    cluster = redis_client("redis+cluster://127.0.0.1:7000")
    try:
        assert type(one) is Redis
        assert isinstance(sentinel, SentinelRedis)
        assert isinstance(sentinel.connection_pool, BlockingSentinelConnectionPool)
        assert sentinel.connection_pool.max_connections == 64
        assert isinstance(cluster, RedisCluster)
    finally:
        for client in (one, sentinel, cluster):
            await client.aclose()


def test_describe_hides_credentials() -> None:
    assert (
        describe("redis+sentinel://:pw@h:26379,h2:26379/m/0?sentinel_password=x")
        == "redis+sentinel://h:26379,h2:26379/m/0"
    )
