"""WebSocket keepalive for every connection of a node from one task.

websockets' own keepalive runs a task per connection (~3 KiB each, measured with 10,000
idle chargers: 21.7 -> 18.7 KiB per connection without it). Here one task pings each
connection once per ``interval``, spread evenly over it, and fails a connection whose pong
has not come ``timeout`` seconds later: its socket is aborted (the handler sees 1006), so a
charger whose TCP connection died silently is dropped and its ownership released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

log = logging.getLogger(__name__)

PING_TIMEOUT = 20.0  # websockets' default


class Keepalive:
    """Pings ``sockets()`` round after round until cancelled."""

    def __init__(
        self,
        sockets: Callable[[], Iterable[ServerConnection]],
        interval: float,
        *,
        timeout: float = PING_TIMEOUT,
        tick: float = 1.0,
    ) -> None:
        self._sockets = sockets
        self.interval = interval
        self.timeout = timeout
        self.tick = min(tick, interval)
        self._outstanding: deque[tuple[float, ServerConnection, Awaitable[float] | None]] = deque()
        self.timed_out = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        round_: list[ServerConnection] = []
        per_tick = 1
        while True:
            await asyncio.sleep(self.tick)
            try:
                if not round_:
                    round_ = list(self._sockets())
                    round_.reverse()  # pop() from the end keeps the order
                    per_tick = max(1, math.ceil(len(round_) * self.tick / self.interval))
                for _ in range(min(per_tick, len(round_))):
                    await self._ping(round_.pop(), loop.time() + self.timeout)
                self._expire(loop.time())
            except Exception:  # never die silently: the next tick tries again
                log.exception("keepalive round failed")

    async def _ping(self, websocket: ServerConnection, deadline: float) -> None:
        if websocket.state is not State.OPEN:
            return  # closing: its close handshake (with its own timeout) is under way
        waiter: Awaitable[float] | None = None
        if websocket.transport.get_write_buffer_size() == 0:
            # ping() waits for the write buffer to drain: only when it is empty does it
            # return at once, so a peer that stopped reading cannot stall every other ping
            try:
                waiter = await websocket.ping()
            except ConnectionClosed:
                return
            except Exception as exc:  # e.g. a ping already pending with the same data
                log.debug("keepalive ping not sent: %s", exc)
                return
            if isinstance(waiter, asyncio.Future):
                waiter.add_done_callback(_consume)
        # with data still unsent, the deadline checks the peer is reading at all
        self._outstanding.append((deadline, websocket, waiter))

    def _expire(self, now: float) -> None:
        while self._outstanding and self._outstanding[0][0] <= now:
            _, websocket, waiter = self._outstanding.popleft()
            if waiter is None:
                if websocket.transport.get_write_buffer_size() == 0:
                    continue  # what was queued then has been read since
            elif isinstance(waiter, asyncio.Future) and waiter.done():
                continue
            if websocket.state is State.CLOSED:
                continue
            # The peer is gone or stuck: a closing handshake would wait for it in vain.
            self.timed_out += 1
            log.info("keepalive ping timeout: dropping %s", websocket.remote_address)
            websocket.transport.abort()


def _consume(future: asyncio.Future[Any]) -> None:
    """Pong waiters of closed connections end with an exception nobody awaits."""
    if not future.cancelled():
        with contextlib.suppress(Exception):
            future.exception()
