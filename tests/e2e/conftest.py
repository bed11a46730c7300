"""End-to-end fixtures: real node processes, their Redis view and a command client.

Each test gets its own Redis key prefix (``{run prefix}{test name}:``), so the nodes,
owners and inboxes of one test are invisible to every other; all tests share the run's
database. A failed test shows the logs of its nodes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Generator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from csms.cluster.bus import CommandClient
from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.cluster.routing import Routing
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import close_client, disconnect_all

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(autouse=True)
async def stations_disconnected() -> AsyncIterator[None]:
    """Whatever a test left connected is disconnected (no stray sockets or tasks)."""
    await disconnect_all()
    yield
    await disconnect_all()


ClusterFactory = Callable[[str], Cluster]


@pytest.fixture
async def cluster_factory(
    database_url: str, prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ClusterFactory]:
    """``make(redis_url)``: a cluster against the run's database and that Redis. Every
    node of every cluster made is reaped afterwards; a failed test shows their logs."""
    made: list[Cluster] = []

    def make(redis_url: str) -> Cluster:
        made.append(
            Cluster(
                database_url=database_url,
                redis_url=redis_url,
                redis_prefix=prefix,
                log_dir=tmp_path,
            )
        )
        return made[-1]

    try:
        yield make
    finally:
        for nodes in made:
            await nodes.aclose()
        if request.node.stash.get(FAILED, False):
            sys.stderr.write("\n".join(nodes.logs() for nodes in made))


@pytest.fixture
def cluster(cluster_factory: ClusterFactory, redis_url: str) -> Cluster:
    """Nodes against the run's PostgreSQL and Redis."""
    return cluster_factory(redis_url)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def registry(redis: Redis, keys: Keys) -> Registry:
    return Registry(redis, keys)


@pytest.fixture
def routing(redis: Redis, keys: Keys) -> Routing:
    return Routing(redis, keys)


@pytest.fixture
async def client(redis: Redis, keys: Keys) -> AsyncIterator[CommandClient]:
    """A caller of the cluster's command bus (what the backoffice and ``csms command`` use)."""
    command_client = CommandClient(redis, keys)
    yield command_client
    await close_client(command_client)
