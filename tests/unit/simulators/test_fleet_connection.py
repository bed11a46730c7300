"""The fleet's WebSocket connection against a real `websockets` server on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from sim_fake_csms import TIMEOUT
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from simulators.fleet import wire
from simulators.fleet.connection import Connection, Endpoint


class Collect:
    """A receiver that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[bytes] = asyncio.Queue()
        self.closed_by_peer = asyncio.Event()

    def on_message(self, data: bytes) -> None:
        self.messages.put_nowait(data)

    def on_close(self) -> None:
        self.closed_by_peer.set()

    async def next(self) -> bytes:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)


class Peer:
    """What the server saw of one connection."""

    def __init__(self) -> None:
        self.ws: ServerConnection | None = None
        self.received: list[str | bytes] = []
        self.done = asyncio.Event()


class EchoServer:
    """Behaviour by path: /echo, /fragments, /ping, /close (the CSMS closes with 1001)."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.server: Server | None = None

    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    @staticmethod
    def refuse(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/refuse"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "no\n")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        peer = Peer()
        peer.ws = ws
        self.peers.append(peer)
        path = ws.request.path if ws.request else ""
        try:
            if path.startswith("/fragments"):
                await ws.send(["[3,", '"1",', "{}]"])
            elif path.startswith("/ping"):
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, TIMEOUT)
                await ws.send("pong received")
            elif path.startswith("/close"):
                await ws.close(1001, "going away")
            async for message in ws:
                peer.received.append(message)
                await ws.send(message)
        except ConnectionClosed:
            pass
        finally:
            await ws.wait_closed()
            peer.done.set()


@pytest.fixture
async def server() -> AsyncIterator[EchoServer]:
    echo = EchoServer()
    echo.server = await serve(
        echo.handle,
        "127.0.0.1",
        0,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        process_request=echo.refuse,
        compression=None,
    )
    yield echo
    echo.server.close()
    await echo.server.wait_closed()


async def connect(url: str, path: str, **kwargs: Any) -> tuple[Connection, Collect]:
    receiver = Collect()
    connection = Connection(receiver)
    await connection.connect(Endpoint.parse(url + path), "CP-1", "ocpp1.6", **kwargs)
    return connection, receiver


async def close(connection: Connection) -> None:
    connection.close()
    await asyncio.wait_for(connection.closed, TIMEOUT)


@pytest.mark.parametrize("size", [2, 125, 126, 1000, 65535, 65536, 300_000])
async def test_messages_of_every_length_class_go_both_ways(server: EchoServer, size: int) -> None:
    connection, receiver = await connect(server.url(), "/echo")
    text = '"' + "x" * (size - 2) + '"'
    connection.send(text.encode())
    assert await receiver.next() == text.encode()
    assert server.peers[0].received == [text]  # the server unmasked it
    await close(connection)


async def test_the_handshake_carries_path_subprotocol_and_authorization(
    server: EchoServer,
) -> None:
    connection, _ = await connect(server.url(), "/echo/ocpp", authorization="Basic eDp5")
    ws = server.peers[0].ws
    assert ws is not None and ws.request is not None
    assert ws.request.path == "/echo/ocpp/CP-1"
    assert ws.request.headers["Authorization"] == "Basic eDp5"
    assert ws.subprotocol == "ocpp1.6"
    await close(connection)


async def test_a_source_address_is_used(server: EchoServer) -> None:
    connection, _ = await connect(server.url(), "/echo", local_addr=("127.0.0.2", 0))
    ws = server.peers[0].ws
    assert ws is not None and ws.remote_address[0] == "127.0.0.2"
    await close(connection)


async def test_a_fragmented_message_arrives_whole(server: EchoServer) -> None:
    connection, receiver = await connect(server.url(), "/fragments")
    assert await receiver.next() == b'[3,"1",{}]'
    await close(connection)


async def test_a_ping_is_answered_with_a_pong(server: EchoServer) -> None:
    connection, receiver = await connect(server.url(), "/ping")
    assert await receiver.next() == b"pong received"
    await close(connection)


async def test_our_close_is_a_clean_closing_handshake(server: EchoServer) -> None:
    connection, receiver = await connect(server.url(), "/echo")
    await close(connection)
    await asyncio.wait_for(server.peers[0].done.wait(), TIMEOUT)
    ws = server.peers[0].ws
    assert ws is not None and ws.close_code == 1000
    assert not receiver.closed_by_peer.is_set()
    connection.send(b"dropped")  # after close: ignored, no error


async def test_a_close_from_the_server_is_answered_and_reported(server: EchoServer) -> None:
    connection, receiver = await connect(server.url(), "/close")
    await asyncio.wait_for(receiver.closed_by_peer.wait(), TIMEOUT)
    await asyncio.wait_for(connection.closed, TIMEOUT)
    await asyncio.wait_for(server.peers[0].done.wait(), TIMEOUT)
    ws = server.peers[0].ws
    assert ws is not None and ws.protocol.close_rcvd is not None
    assert ws.protocol.close_rcvd.code == 1001  # our answer echoes the code


async def test_a_refused_upgrade_is_a_handshake_error(server: EchoServer) -> None:
    with pytest.raises(wire.HandshakeError) as caught:
        await connect(server.url(), "/refuse")
    assert caught.value.status == 401


async def raw_server(answer: bytes) -> asyncio.Server:
    """A TCP server that answers any request head with `answer` (then keeps quiet)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        writer.write(answer.replace(b"{accept}", wire.accept_for(key).encode()))
        await writer.drain()
        await reader.read()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def raw_url(server: asyncio.Server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", "Accept"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n", "2.0.1"),
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "HTTP 503"),
        (b"HTTP/1.1 101 Switching Protocols\r\n" + b"X-Pad: x\r\n" * 2000, "too long"),
    ],
)  # fmt: skip
async def test_a_wrong_answer_to_the_upgrade_is_a_handshake_error(
    answer: bytes, message: str
) -> None:
    server = await raw_server(answer)
    try:
        connection = Connection(Collect())
        with pytest.raises(wire.HandshakeError, match=message):
            await connection.connect(Endpoint.parse(raw_url(server)), "CP-1", "ocpp1.6")
        await asyncio.wait_for(connection.closed, TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()


async def test_frames_right_after_the_101_are_delivered() -> None:
    frame = bytes((0x81, 5)) + b"hello"
    server = await raw_server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: {accept}\r\n\r\n" + frame
    )
    try:
        connection, receiver = await connect(raw_url(server), "")
        assert await receiver.next() == b"hello"
        connection.abort()
        await asyncio.wait_for(connection.closed, TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_silent_server_times_the_handshake_out() -> None:
    server = await raw_server(b"")
    try:
        connection = Connection(Collect())
        with pytest.raises(TimeoutError):
            await connection.connect(
                Endpoint.parse(raw_url(server)), "CP-1", "ocpp1.6", timeout=TIMEOUT / 50
            )
    finally:
        server.close()
        await server.wait_closed()


def test_endpoints() -> None:
    plain = Endpoint.parse("ws://example.com/ocpp/")
    assert (plain.host, plain.port, plain.path, plain.host_header) == (
        "example.com", 80, "/ocpp", "example.com",
    )  # fmt: skip
    assert plain.ssl is None and plain.resource("CP 1/x") == "/ocpp/CP%201%2Fx"
    secure = Endpoint.parse("wss://[::1]:9443")
    assert (secure.host, secure.port, secure.host_header) == ("::1", 9443, "[::1]:9443")
    assert secure.ssl is not None
    with pytest.raises(ValueError):
        Endpoint.parse("http://example.com")
