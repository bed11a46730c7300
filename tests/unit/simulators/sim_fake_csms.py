"""A small fake CSMS for the simulator tests.

A real ``websockets`` server on port 0 that answers CALLs with canned CALLRESULTs, records
every frame it receives, and validates each against the ``ocpp`` package's JSON schemas
(with the ``ocpp`` library's own jsonschema validators, independent from the simulator's).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from ocpp.messages import get_validator
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

#: The one timeout every wait in these tests derives from.
TIMEOUT = 5.0

DROP = object()  # answer nothing and cut the TCP connection
SILENT = object()  # answer nothing

Answer = Callable[[dict[str, Any]], Awaitable[Any]]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _canned(version: str) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    ids = itertools.count(100)
    if version == "1.6":
        accepted = {"idTagInfo": {"status": "Accepted"}}
        return {
            "BootNotification": lambda p: {
                "status": "Accepted",
                "currentTime": now(),
                "interval": 300,
            },
            "Heartbeat": lambda p: {"currentTime": now()},
            "Authorize": lambda p: accepted,
            "StartTransaction": lambda p: {"transactionId": next(ids), **accepted},
            "StopTransaction": lambda p: accepted,
        }
    return {
        "BootNotification": lambda p: {"status": "Accepted", "currentTime": now(), "interval": 300},
        "Heartbeat": lambda p: {"currentTime": now()},
        "Authorize": lambda p: {"idTokenInfo": {"status": "Accepted"}},
        "TransactionEvent": lambda p: (
            {"idTokenInfo": {"status": "Accepted"}} if "idToken" in p else {}
        ),
    }


def schema_errors(version: str, message_type: int, action: str, payload: Any) -> list[str]:
    """Violations of the ocpp package's schema for this message."""
    validator = get_validator(message_type, action, version)
    return [f"{action}: {error.message}" for error in validator.iter_errors(payload)]


class FakeCsms:
    """``async with FakeCsms("1.6") as csms: ... csms.url ...``"""

    def __init__(
        self,
        version: str = "1.6",
        *,
        password: str | None = None,
        select_subprotocol: bool = True,
    ) -> None:
        self.version = version
        self.password = password
        self.select = select_subprotocol
        self.answers: dict[str, Answer] = {}
        self.frames: list[list[Any]] = []
        self.violations: list[str] = []
        self.paths: list[str] = []
        self.connections: list[ServerConnection] = []
        self._canned = _canned(version)
        self._server: Server | None = None
        self._changed = asyncio.Condition()
        self._pending: dict[str, tuple[str, asyncio.Future[list[Any]]]] = {}

    async def __aenter__(self) -> FakeCsms:
        subprotocol = "ocpp1.6" if self.version == "1.6" else "ocpp2.0.1"
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[subprotocol] if self.select else None,  # type: ignore[list-item]
            process_request=self._process_request,
            compression=None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    # -- what the station sent -----------------------------------------------------------

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the CALLs received (of one action), in order."""
        return [f[3] for f in self.frames if f[0] == 2 and action in (None, f[2])]

    def actions(self) -> list[str]:
        return [f[2] for f in self.frames if f[0] == 2]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), TIMEOUT)

    async def wait_for_calls(self, action: str, count: int = 1) -> list[dict[str, Any]]:
        await self.wait_for(lambda: len(self.calls(action)) >= count)
        return self.calls(action)

    async def wait_connected(self, count: int = 1) -> None:
        await self.wait_for(lambda: len(self.connections) >= count)

    # -- CSMS-initiated calls --------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL to the latest connection; return the answer frame."""
        message_id = str(uuid.uuid4())
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[message_id] = (action, future)
        await self.connections[-1].send(json.dumps([2, message_id, action, payload]))
        return await asyncio.wait_for(future, TIMEOUT)

    async def send_text(self, text: str) -> None:
        await self.connections[-1].send(text)

    # -- server side -----------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.paths.append(request.path)
        if self.password is None:
            return None
        charge_point_id = request.path.rsplit("/", 1)[-1]
        token = base64.b64encode(f"{charge_point_id}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {token}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
        return None

    async def _record(self, frame: list[Any]) -> None:
        async with self._changed:
            self.frames.append(frame)
            self._changed.notify_all()

    async def _handle(self, ws: ServerConnection) -> None:
        async with self._changed:
            self.connections.append(ws)
            self._changed.notify_all()
        answering: set[asyncio.Task[None]] = set()
        try:
            async for text in ws:
                try:
                    frame = json.loads(text)
                except ValueError:
                    await ws.send(json.dumps([4, "-1", "RpcFrameworkError", "not JSON", {}]))
                    continue
                await self._record(frame)
                if frame[0] == 2:
                    self.violations += schema_errors(self.version, 2, frame[2], frame[3])
                    # answered in a task, so that slow answers do not block reading
                    task = asyncio.create_task(self._answer(ws, frame))
                    answering.add(task)
                    task.add_done_callback(answering.discard)
                else:
                    self._resolve(frame)
        except ConnectionClosed:
            pass
        for task in answering:
            task.cancel()

    async def _answer(self, ws: ServerConnection, frame: list[Any]) -> None:
        _, message_id, action, payload = frame
        custom = self.answers.get(action)
        if custom is not None:
            result = await custom(payload)
        else:
            canned = self._canned.get(action)
            result = canned(payload) if canned else {}
        if result is DROP:
            ws.transport.abort()
            return
        if result is SILENT:
            return
        if isinstance(result, tuple):  # (code, description): answer a CALLERROR
            answer = [4, message_id, result[0], result[1], {}]
        else:
            answer = [3, message_id, result]
        try:
            await ws.send(json.dumps(answer))
        except ConnectionClosed:
            pass

    def _resolve(self, frame: list[Any]) -> None:
        pending = self._pending.pop(frame[1], None)
        if pending is None:
            return
        action, future = pending
        if frame[0] == 3:
            self.violations += schema_errors(self.version, 3, action, frame[2])
        if not future.done():
            future.set_result(frame)
