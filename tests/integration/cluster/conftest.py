"""Nodes that join the cluster (Redis ownership, registry, command inbox) in this process,
under a Redis key prefix of the test's own (stations and helpers: nodes.py).

Unlike tests/e2e (node processes), a test here can start and stop a node as often as it
likes, look at the node's counters, and push straight into its inbox.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import pytest
from redis.asyncio import Redis

from csms.cluster.keys import Keys
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from tests.integration.cluster.nodes import StartNode


@pytest.fixture
async def prefix(
    redis_prefix: str, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """This test's Redis key prefix; its keys are deleted afterwards."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    test_prefix = f"{redis_prefix}{name}:"
    yield test_prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{test_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def keys(prefix: str) -> Keys:
    return Keys(prefix)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def start_node(database_url: str, redis_url: str, prefix: str) -> StartNode:
    """``async with start_node("n1") as node``: a node in the cluster on port 0 (drained on
    exit). ``redis_url=`` points it at another Redis."""

    def start(node_id: str, *, redis_url: str = redis_url) -> AbstractAsyncContextManager[Node]:
        settings = NodeSettings(
            host="127.0.0.1", port=0, node_id=node_id, redis_prefix=prefix, heartbeat_interval=60
        )
        return running_node(settings, database_url, redis_url)

    return start
