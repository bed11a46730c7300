"""CommandClient.close() against a Redis that accepts connections and never answers: the
wake-up push (csms/cluster/bus.py, ``close``) must not hold close() up. A local socket, no
Redis server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from tests.timeouts import TIMEOUT


@pytest.fixture
async def silent_redis_url() -> AsyncIterator[str]:
    """A TCP server that reads nothing and answers nothing (a hung Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_close_returns_when_redis_does_not_answer(silent_redis_url: str) -> None:
    redis = redis_client(silent_redis_url, max_connections=4)
    client = CommandClient(redis, Keys("t:"))
    await client.start()
    listener = client._listener
    assert listener is not None
    await asyncio.sleep(0)  # the listener is on its way to a pop that never gets an answer
    async with asyncio.timeout(TIMEOUT):  # a hang guard, not a measurement
        await client.close()
    assert listener.done()
    await redis.aclose()
