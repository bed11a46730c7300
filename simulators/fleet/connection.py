"""One WebSocket client connection as a bare asyncio.Protocol (the codec is in wire.py).

No reader task and no queue: complete messages are handed to the receiver straight from
data_received, pings are answered there, and sends are a single transport.write().
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import quote, urlsplit

from simulators.fleet import wire

OPEN_TIMEOUT = 60.0  # TCP connect + opening handshake
CLOSE_TIMEOUT = 10.0  # after our close frame, for the server to close TCP
MAX_HEAD = 16384


class Receiver(Protocol):
    def on_message(self, data: bytes) -> None:
        """A complete text (or binary) message from the server."""

    def on_close(self) -> None:
        """The connection stopped being open, not because the receiver closed it."""


@dataclass(frozen=True)
class Endpoint:
    """Where the fleet connects: the parsed ws:// or wss:// URL (without the charger id)."""

    host: str
    port: int
    path: str
    host_header: str
    ssl: ssl.SSLContext | None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        secure = parts.scheme == "wss"
        default_port = 443 if secure else 80
        port = parts.port or default_port
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default_port else f"{shown}:{port}"
        context = ssl.create_default_context() if secure else None
        return cls(host, port, parts.path.rstrip("/"), host_header, context)

    def resource(self, charge_point_id: str) -> str:
        return f"{self.path}/{quote(charge_point_id, safe='')}"


class Connection(asyncio.Protocol):
    """The client end of one WebSocket: create it, then `await connection.connect(...)`.

    `open` is true from the handshake until a close frame is sent or received; `closed`
    resolves when TCP is closed, whatever the reason.
    """

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.Transport | None = None
        self.open = False  # handshake done, no close frame sent or received
        self._request = b""
        self._key = ""
        self._subprotocol = ""
        self._head = bytearray()
        self._reader = wire.FrameReader()
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._close_timer: asyncio.TimerHandle | None = None

    async def connect(
        self,
        endpoint: Endpoint,
        charge_point_id: str,
        subprotocol: str,
        *,
        authorization: str | None = None,
        local_addr: tuple[str, int] | None = None,
        timeout: float = OPEN_TIMEOUT,
    ) -> None:
        """TCP connect and opening handshake; raises OSError, wire.HandshakeError or
        TimeoutError."""
        self._key = wire.new_key()
        self._subprotocol = subprotocol
        self._request = wire.handshake_request(
            endpoint.host_header,
            endpoint.resource(charge_point_id),
            self._key,
            subprotocol,
            authorization,
        )
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: self,
                    endpoint.host,
                    endpoint.port,
                    ssl=endpoint.ssl,
                    local_addr=local_addr,
                )
                await self._opened
        except BaseException:
            self.abort()
            raise

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they implement it. Both
        # asyncio and uvloop set TCP_NODELAY on TCP sockets (no syscall to spend here).
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self.open:
            try:
                events = self._reader.feed(data)
            except wire.ProtocolError as exc:
                self._fail(exc.code)
                return
            for opcode, payload in events:
                if opcode <= wire.OP_BINARY:
                    if self.open:
                        self.receiver.on_message(payload)
                elif opcode == wire.OP_PING:
                    self._write(wire.OP_PONG, payload)
                elif opcode == wire.OP_CLOSE:
                    self._closing(payload)
            return
        if self._opened.done():
            return  # closing: whatever the server still sends is ignored
        self._handshake(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(
                wire.HandshakeError(f"connection closed during the handshake: {exc}")
            )
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.open:
            self.open = False
            self.receiver.on_close()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- sending ----------------------------------------------------------------------------

    def send(self, text: bytes) -> None:
        """One text message (the caller has it as UTF-8 bytes); dropped unless open."""
        if self.open:
            self._write(wire.OP_TEXT, text)

    def close(self, code: int = wire.CLOSE_NORMAL) -> None:
        """Start the closing handshake; `closed` resolves when TCP is closed."""
        if self.open:
            self.open = False
            self._write(wire.OP_CLOSE, wire.close_payload(code))
            self._arm_close_timer()
        elif not self._opened.done():
            self.abort()

    def abort(self) -> None:
        """Drop TCP at once (no closing handshake)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    # -- internals --------------------------------------------------------------------------

    def _write(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(wire.encode(opcode, payload))

    def _handshake(self, data: bytes) -> None:
        head = self._head
        head += data
        end = head.find(b"\r\n\r\n")
        if end < 0:
            if len(head) > MAX_HEAD:
                self._refuse(wire.HandshakeError("response head too long"))
            return
        try:
            wire.check_response(bytes(head[:end]), self._key, self._subprotocol)
        except wire.HandshakeError as exc:
            self._refuse(exc)
            return
        rest = bytes(head[end + 4 :])
        self._head = bytearray()
        self.open = True
        self._opened.set_result(None)
        if rest:
            self.data_received(rest)

    def _refuse(self, exc: wire.HandshakeError) -> None:
        self._opened.set_exception(exc)
        self.abort()

    def _closing(self, payload: bytes) -> None:
        """A close frame from the server: answer it (unless we started), wait for TCP close."""
        if not self.open:
            return  # the answer to our close frame
        try:
            code, _ = wire.parse_close(payload)
        except wire.ProtocolError as exc:
            self._fail(exc.code)
            return
        self.open = False
        self.receiver.on_close()
        echo = b"" if code == wire.CLOSE_NO_STATUS else wire.close_payload(code)
        self._write(wire.OP_CLOSE, echo)
        self._arm_close_timer()

    def _fail(self, code: int) -> None:
        """Close with `code` after a protocol error; the server should close TCP."""
        if self.open:
            self.open = False
            self.receiver.on_close()
            self._write(wire.OP_CLOSE, wire.close_payload(code))
        self._arm_close_timer()

    def _arm_close_timer(self) -> None:
        if self._close_timer is None:
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(CLOSE_TIMEOUT, self.abort)
