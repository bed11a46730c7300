"""Nodes that join the cluster (Redis ownership, registry, command inbox) in this process,
under a Redis key prefix of the test's own (stations and helpers: nodes.py).

Unlike tests/e2e (node processes), a test here can start and stop a node as often as it
likes, look at the node's counters, and push straight into its inbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.asyncio import Redis

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from tests.integration.cluster.nodes import StartNode


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def start_node(database_url: str, redis_url: str, prefix: str) -> StartNode:
    """``async with start_node("n1") as node``: a node in the cluster on port 0 (drained on
    exit). ``redis_url=`` points it at another Redis."""

    def start(
        node_id: str, *, redis_url: str = redis_url, **overrides: Any
    ) -> AbstractAsyncContextManager[Node]:
        settings = NodeSettings(
            host="127.0.0.1",
            port=0,
            node_id=node_id,
            redis_prefix=prefix,
            heartbeat_interval=60,
            **overrides,
        )
        return running_node(settings, database_url, redis_url)

    return start
