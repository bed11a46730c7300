"""The node-wide keepalive against a real websockets server: a peer that answers pings
stays, a silent one (its TCP connection dead to us) is dropped."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from csms.node.keepalive import Keepalive
from tests.timeouts import TIMEOUT


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, set[ServerConnection]]]:
    connections: set[ServerConnection] = set()

    async def handler(websocket: ServerConnection) -> None:
        connections.add(websocket)
        try:
            await websocket.wait_closed()
        finally:
            connections.discard(websocket)

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as running:
        port = running.sockets[0].getsockname()[1]
        yield port, connections


async def silent_peer(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Completes the handshake, then never reads or answers anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def wait_for_count(connections: set[ServerConnection], count: int) -> None:
    async with asyncio.timeout(TIMEOUT):
        while len(connections) != count:
            await asyncio.sleep(0.01)


async def test_a_silent_peer_is_failed_and_a_live_one_stays(
    server: tuple[int, set[ServerConnection]],
) -> None:
    port, connections = server
    async with connect(f"ws://127.0.0.1:{port}", ping_interval=None) as live:
        _, writer = await silent_peer(port)
        await wait_for_count(connections, 2)
        keepalive = Keepalive(lambda: list(connections), 0.1, timeout=0.3, tick=0.02)
        task = asyncio.create_task(keepalive.run())
        try:
            await wait_for_count(connections, 1)  # the silent one is gone
            assert keepalive.timed_out == 1
            [remaining] = connections
            assert remaining.remote_address == live.local_address
            pong = await live.ping()  # still open both ways
            async with asyncio.timeout(TIMEOUT):
                await pong
        finally:
            task.cancel()
            writer.close()


async def test_every_connection_is_pinged_each_round(
    server: tuple[int, set[ServerConnection]],
) -> None:
    port, connections = server
    clients = [await connect(f"ws://127.0.0.1:{port}", ping_interval=None) for _ in range(5)]
    await wait_for_count(connections, 5)
    pinged: list[ServerConnection] = []

    class Counting(Keepalive):
        async def _ping(self, websocket: ServerConnection, deadline: float) -> None:
            pinged.append(websocket)
            await super()._ping(websocket, deadline)

    keepalive = Counting(lambda: list(connections), 0.1, timeout=5, tick=0.02)
    task = asyncio.create_task(keepalive.run())
    try:
        async with asyncio.timeout(TIMEOUT):
            while len(pinged) < 10:  # two rounds
                await asyncio.sleep(0.01)
        assert set(pinged[:5]) == connections  # each once per round, none twice
        assert keepalive.timed_out == 0
    finally:
        task.cancel()
        for client in clients:
            await client.close()


async def test_a_peer_that_stopped_reading_neither_stalls_the_others_nor_stays(
    server: tuple[int, set[ServerConnection]],
) -> None:
    """ping() waits for the write buffer to drain: a stuck peer must not hold the task."""
    port, connections = server
    _, writer = await silent_peer(port)  # never reads
    await wait_for_count(connections, 1)
    [stuck] = connections
    flood = asyncio.create_task(stuck.send(b"x" * 8_000_000))  # fills every buffer
    async with asyncio.timeout(TIMEOUT):
        while stuck.transport.get_write_buffer_size() == 0:
            await asyncio.sleep(0.01)
    async with connect(f"ws://127.0.0.1:{port}", ping_interval=None) as live:
        await wait_for_count(connections, 2)
        keepalive = Keepalive(lambda: list(connections), 0.1, timeout=0.3, tick=0.02)
        task = asyncio.create_task(keepalive.run())
        try:
            await wait_for_count(connections, 1)  # the stuck one is dropped
            [remaining] = connections
            assert remaining.remote_address == live.local_address
            assert keepalive.timed_out == 1
        finally:
            task.cancel()
            flood.cancel()
            writer.close()


async def test_a_closing_connection_is_not_pinged(
    server: tuple[int, set[ServerConnection]],
) -> None:
    port, connections = server
    _, writer = await silent_peer(port)  # will never answer our close
    async with connect(f"ws://127.0.0.1:{port}", ping_interval=None) as live:
        await wait_for_count(connections, 2)
        closing = next(c for c in connections if c.remote_address != live.local_address)
        close = asyncio.create_task(closing.close())  # waits close_timeout for the peer
        async with asyncio.timeout(TIMEOUT):
            while closing.state.name != "CLOSING":
                await asyncio.sleep(0.01)
        pinged: list[ServerConnection] = []

        class Counting(Keepalive):
            async def _ping(self, websocket: ServerConnection, deadline: float) -> None:
                await super()._ping(websocket, deadline)
                pinged.append(websocket)

        keepalive = Counting(lambda: list(connections), 0.1, timeout=5, tick=0.02)
        task = asyncio.create_task(keepalive.run())
        try:
            async with asyncio.timeout(TIMEOUT):  # rounds go on past the closing socket
                while pinged.count(next(c for c in connections if c is not closing)) < 3:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            close.cancel()
            writer.close()
