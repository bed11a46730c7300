"""One open OCPP-J connection: CALLs one at a time, a reader task, incoming CALLs answered.

The station keeps one :class:`Connection` per WebSocket it opens; what to answer to a
CSMS-initiated CALL is the :class:`Responder`'s business (the station and its dispatcher).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from simulators import framing
from simulators.correlation import CallTracker
from simulators.errors import ConnectionLostError, FramingError
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.link import redact


class Responder(Protocol):
    """Answers what the CSMS sends on its own initiative."""

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        """The answer to a CSMS-initiated CALL."""
        ...

    def answered(self, answer: CallResult | CallErrorFrame) -> None:
        """Called once ``answer`` has been sent (to start follow-up actions)."""
        ...

    def framing_error(self, exc: FramingError) -> CallErrorFrame | None:
        """The CALLERROR for an unreadable frame, if it can be answered."""
        ...


class Connection:
    """Sends CALLs, correlates their answers and answers the CSMS's CALLs."""

    def __init__(
        self,
        ws: ClientConnection,
        responder: Responder,
        call_timeout: float,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.ws = ws
        self._responder = responder
        self._timeout = call_timeout
        self._log = log
        self._tracker = CallTracker()
        self._lock = asyncio.Lock()
        self._raw_waiter: asyncio.Future[list[Any]] | None = None
        self._reader = asyncio.create_task(self._read(), name="ocpp-reader")

    @property
    def open(self) -> bool:
        """Whether the reader still runs (the socket is not closed)."""
        return not self._reader.done()

    async def closed(self) -> tuple[int | None, str]:
        """Wait until the socket is closed; return the close code and reason."""
        await asyncio.shield(self._reader)
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self) -> None:
        """Closing handshake, then wait for the reader to end."""
        await self.ws.close()
        await self.closed()

    async def abort(self) -> None:
        """Cut the TCP connection without a closing handshake."""
        self.ws.transport.abort()
        await self.closed()

    async def call(self, call: Call) -> dict[str, Any]:
        """Send ``call`` once the previous CALL is answered; return the CALLRESULT payload."""
        async with self._lock:
            future = self._tracker.begin(call)
            try:
                await self._send(framing.encode(call))
                return await asyncio.wait_for(future, self._timeout)
            finally:
                self._tracker.finish(call)
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # retrieved: never "exception was never retrieved"

    async def send_raw(self, text: str) -> list[Any]:
        """Send any text and return the next frame received, as a JSON array."""
        async with self._lock:
            waiter: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._raw_waiter = waiter
            try:
                await self._send(text)
                return await asyncio.wait_for(waiter, self._timeout)
            finally:
                self._raw_waiter = None

    async def _send(self, text: str) -> None:
        self._log.debug(">> %s", redact(text))
        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise ConnectionLostError(str(exc)) from exc

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                await self._on_frame(text)
        except (ConnectionClosed, ConnectionLostError):
            pass
        finally:
            lost = ConnectionLostError("connection closed")
            self._tracker.abort(lost)
            if self._raw_waiter is not None and not self._raw_waiter.done():
                self._raw_waiter.set_exception(lost)
            self._log.info("disconnected (code %s)", self.ws.close_code)

    async def _on_frame(self, text: str) -> None:
        self._log.debug("<< %s", redact(text))
        waiter, raw = self._raw_waiter, False
        if waiter is not None and not waiter.done():
            raw = True
            try:
                waiter.set_result(framing.parse_json_list(text))
            except FramingError as exc:
                waiter.set_exception(exc)
        try:
            frame = framing.parse(text)
        except FramingError as exc:
            error = self._responder.framing_error(exc)
            if error is not None:
                await self._send(framing.encode(error))
            elif not raw:
                self._log.warning("unreadable frame: %s", exc.reason)
            return
        if isinstance(frame, Call):
            answer = self._responder.answer(frame)
            await self._send(framing.encode(answer))
            self._responder.answered(answer)
        elif not self._tracker.resolve(frame) and not raw:
            self._log.warning("answer to no outstanding CALL: %s", frame.message_id)
