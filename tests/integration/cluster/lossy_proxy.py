"""A TCP proxy in front of Redis that loses one reply: Redis executes the request, the client
never hears back, and redis-py (``retry_on_error``, csms/cluster/connect.py) reconnects and
sends the same request again.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class LossyProxy:
    """Forwards connections to ``127.0.0.1:upstream_port`` on ``self.port``.

    Once :meth:`lose_next_reply_to` is armed, the first request that contains ``marker``
    goes to Redis, and when its successful reply arrives the proxy cuts the client's
    connection instead of passing the reply on (an error reply, e.g. NOSCRIPT, is passed on
    and the proxy stays armed).
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.lost = 0  # replies lost so far
        self._marker: bytes | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def lose_next_reply_to(self, marker: bytes) -> None:
        self._marker = marker

    async def __aenter__(self) -> LossyProxy:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        losing = False  # the request in flight on this connection is the one to lose

        async def requests() -> None:
            nonlocal losing
            while data := await reader.read(65536):
                if self._marker is not None and self._marker in data:
                    losing = True
                up_writer.write(data)
                await up_writer.drain()

        async def replies() -> None:
            nonlocal losing
            while data := await up_reader.read(65536):
                if losing and not data.startswith(b"-"):
                    self._marker, losing = None, False
                    self.lost += 1
                    writer.transport.abort()
                    return
                losing = False
                writer.write(data)
                await writer.drain()

        relays = [asyncio.create_task(requests()), asyncio.create_task(replies())]
        try:
            await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for relay in relays:
                relay.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            for stream in (writer, up_writer):
                stream.transport.abort()
                with contextlib.suppress(ConnectionError, OSError):
                    await stream.wait_closed()
