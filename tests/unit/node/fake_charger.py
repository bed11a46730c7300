"""A ChargerConnection with no network: its WebSocket is an in-memory :class:`FakeCharger`
the test plays the charger with, on an event loop whose clock is virtual.

:class:`VirtualTimeLoop`'s clock moves only when nothing else can run, and then straight to
the next timer: a 30 s timeout takes no time, and ``await idle()`` returns once everything
that could happen without time passing has happened. A test is a coroutine given to
:func:`run`, which also fails it if a future's or task's exception was never retrieved.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import selectors
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

from csms.logs import ChargerLog
from csms.node import rpc
from csms.node.connection import ChargerConnection
from csms.node.context import Context
from csms.node.version import OcppVersion
from csms.services import Services
from csms.services.link import ChargerLink
from csms.store.memory import MemoryStores

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHARGE_POINT_ID = "CP-7"
T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop for code without real I/O whose time jumps to the next timer when
    nothing is ready to run."""

    def __init__(self) -> None:
        self._now = 0.0
        self._idle: list[asyncio.Future[None]] = []
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        return self._now

    async def idle(self) -> None:
        """Return once nothing else is ready to run (without moving the clock)."""
        waiter = self.create_future()
        self._idle.append(waiter)
        await waiter

    def _nothing_ready(self, timeout: float | None) -> None:
        if self._idle:
            for waiter in self._idle:
                if not waiter.done():
                    waiter.set_result(None)
            self._idle.clear()
        elif timeout is None:
            raise RuntimeError("nothing is ready and no timer is set: the test would hang")
        else:
            self._now += timeout


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events and timeout != 0:
            self._loop._nothing_ready(timeout)
        return events


async def idle() -> None:
    """Let everything run that can without time passing (on a VirtualTimeLoop)."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    await loop.idle()


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    """Run ``scenario`` on a fresh VirtualTimeLoop; fail on any exception left unretrieved
    ("Future exception was never retrieved" is a log line, not a warning pytest sees)."""
    unhandled: list[dict[str, Any]] = []
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        runner.get_loop().set_exception_handler(lambda _, context: unhandled.append(context))
        result = runner.run(_coroutine(scenario))
        gc.collect()
    gc.collect()
    assert not unhandled, [context["message"] for context in unhandled]
    return result


async def _coroutine(scenario: Callable[[], Awaitable[T]]) -> T:
    return await scenario()


class FakeCharger:
    """Both ends of an in-memory WebSocket: the node's side (``send``, ``close``, ``async
    for``, as on a websockets ServerConnection) and the charger's, played by the test."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[bytes | Exception | None] = asyncio.Queue()  # -> node
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()  # node -> charger
        self.closed = False

    # -- the node's side --------------------------------------------------------------------

    async def send(self, data: str | bytes, text: bool = False) -> None:
        if self.closed:
            raise ConnectionClosedOK(None, None)
        self._outbox.put_nowait(data if isinstance(data, bytes) else data.encode())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.hang_up()

    def __aiter__(self) -> FakeCharger:
        return self

    async def __anext__(self) -> bytes:
        # Like websockets: a frame already received is returned without yielding.
        data = await self._inbox.get()
        if isinstance(data, bytes):
            return data
        self._inbox.put_nowait(data)
        if data is None:
            raise StopAsyncIteration
        raise data

    # -- the charger's side -----------------------------------------------------------------

    async def next_frame(self) -> rpc.Frame:
        """The next frame the node sent."""
        return rpc.parse(await self._outbox.get(), _ANY_DIALECT)

    async def next_call(self) -> rpc.Call:
        frame = await self.next_frame()
        assert isinstance(frame, rpc.Call), frame
        return frame

    @property
    def unread(self) -> list[rpc.Frame]:
        """Frames the node sent that the charger has not taken yet."""
        queued = cast(Any, self._outbox)._queue  # asyncio.Queue keeps a deque
        return [rpc.parse(data, _ANY_DIALECT) for data in queued]

    def write(self, frame: list[Any]) -> None:
        """Send a frame to the node."""
        self._inbox.put_nowait(orjson.dumps(frame))

    def answer(self, call: rpc.Call | str, payload: dict[str, Any]) -> None:
        message_id = call if isinstance(call, str) else call.message_id
        self.write([rpc.CALLRESULT, message_id, payload])

    def fail(self, call: rpc.Call, code: str, description: str = "") -> None:
        self.write([rpc.CALLERROR, call.message_id, code, description, {"why": "test"}])

    def hang_up(self, *, abruptly: bool = False) -> None:
        """Close the socket: cleanly (``async for`` ends), or ``abruptly`` (it raises
        ConnectionClosedError, as websockets does when the TCP connection drops)."""
        self.closed = True
        self._inbox.put_nowait(ConnectionClosedError(None, None) if abruptly else None)


_ANY_DIALECT = rpc.Dialect("test", {}, answers_unknown_message_type=False)


@asynccontextmanager
async def serving(
    version: OcppVersion, *, registration_status: str | None = "Accepted"
) -> AsyncIterator[tuple[ChargerConnection, FakeCharger]]:
    """A connection serving a FakeCharger over the in-memory services; the charger hangs
    up at the end and ``serve()`` must then return."""
    memory = MemoryStores(clock=lambda: NOW)
    await memory.chargers.add(CHARGE_POINT_ID, password_hash=None)
    link = ChargerLink(
        CHARGE_POINT_ID,
        version.subprotocol,
        ChargerLog(logging.getLogger("tests.connection"), CHARGE_POINT_ID),
        registration_status=registration_status,
    )
    charger = FakeCharger()
    connection = ChargerConnection(
        cast(ServerConnection, charger),
        Context(link, Services(memory, clock=lambda: NOW)),
        version,
    )
    served = asyncio.create_task(connection.serve())
    try:
        yield connection, charger
    finally:
        charger.hang_up()
        await served
    assert connection.closed
