"""One charger socket: a thin pump between the WebSocket and the sans-I/O parts.

Frames in go to the :class:`~csms.node.dispatch.Dispatcher` (which answers them); our own
calls go through the :class:`~csms.node.calls.CallCorrelator` (one outstanding, the rest
queued) and wait here for their replies, with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from csms.cluster.routing import Owner
from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    CommandRejected,
    CommandTimeout,
    OcppError,
)
from csms.node import rpc
from csms.node.calls import CallCorrelator, OutgoingCall
from csms.node.context import Context, Payload
from csms.node.dispatch import Dispatcher, Reply
from csms.node.journal import JournalRecorder, JournalSink
from csms.node.limits import FLOOD_CLOSE, PENDING_CALLS, ChargerLimits, MessageLimit
from csms.node.metrics import NodeMetrics
from csms.node.version import OcppVersion
from csms.services.link import ChargerLink


class ChargerConnection:
    """Serves one charger's socket until it closes."""

    def __init__(
        self,
        websocket: ServerConnection,
        ctx: Context,
        version: OcppVersion,
        *,
        journal: JournalSink | None = None,
        metrics: NodeMetrics | None = None,
        validate_responses: bool = True,
        limits: ChargerLimits | None = None,
    ) -> None:
        self.websocket = websocket
        ctx = replace(ctx, outbound=self)
        self.ctx = ctx
        self.version = version
        self.metrics = metrics
        recorder = (
            None
            if journal is None
            else JournalRecorder(ctx.charge_point_id, ctx.services.clock, journal)
        )
        limits = limits or ChargerLimits()
        self.calls = CallCorrelator(
            ctx.charge_point_id, journal=recorder, max_queued=limits.max_pending_calls
        )
        self.limit = MessageLimit(limits, time.monotonic) if limits.message_rate > 0 else None
        self.dispatcher = Dispatcher(
            ctx,
            version,
            self.calls,
            self._replied,
            journal=recorder,
            metrics=metrics,
            validate_responses=validate_responses,
            limit=self.limit,
        )
        # per call of ours: (its turn to go out, its outcome)
        self._waiters: dict[str, tuple[asyncio.Future[None], asyncio.Future[Payload]]] = {}
        # Cluster ownership of this socket (None until claimed, e.g. while Redis is down).
        self.owner: Owner | None = None
        # the epoch the database records this connection with (0: claimed later)
        self.recorded_epoch = 0
        # work to start once the answer being handled has been sent (see after_answer)
        self._after_answer: list[Callable[[], Awaitable[None]]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.closed = False

    @property
    def charge_point_id(self) -> str:
        return self.ctx.charge_point_id

    @property
    def link(self) -> ChargerLink:
        return self.ctx.link

    async def serve(self) -> None:
        """Answer frames until the socket closes."""
        try:
            async for message in self.websocket:
                reply = await self.handle(message)
                if reply is not None:
                    try:
                        await self.websocket.send(reply, text=True)
                    except ConnectionClosed:
                        # closed under us: still read what the charger sent before closing
                        # (e.g. its answer to our Reset, sent just before it reboots)
                        continue
                if self._after_answer:
                    self._start_after_answer()
                if self.limit is not None and self.limit.abused:
                    await self._close_flooding()
                    break
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            gone = ChargerNotConnected(f"{self.charge_point_id} disconnected during the call")
            for call in self.calls.close():
                self._fail(call, gone)
            for task in list(self._background):
                task.cancel()

    async def _close_flooding(self) -> None:
        """Sustained abuse of the message rate: close with 1008 (policy violation)."""
        assert self.limit is not None
        self.link.log.warning(
            "closing: %d messages refused by the rate limit within a minute",
            self.limit.limits.refusals_before_close + 1,
        )
        if self.metrics is not None:
            self.metrics.limited(FLOOD_CLOSE)
        await self.websocket.close(CloseCode.POLICY_VIOLATION, "message rate limit exceeded")

    def after_answer(self, work: Callable[[], Awaitable[None]]) -> None:
        """Start ``work`` in the background once the answer to the message being handled
        has been sent (e.g. our own CALLs after an accepted BootNotification, which must not
        overtake its answer)."""
        self._after_answer.append(work)

    def start_background(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` beside the connection (cancelled when it closes)."""

        async def run() -> None:
            try:
                await work()
            except Exception:
                self.link.log.exception("background work failed")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start_after_answer(self) -> None:
        works, self._after_answer = self._after_answer, []
        for work in works:
            self.start_background(work)

    async def handle(self, data: str | bytes) -> bytes | None:
        """The reply to one received frame (None: nothing to send)."""
        return await self.dispatcher.receive(data)

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float, *, checked: bool = False
    ) -> dict[str, Any]:
        """Send a CALL to the charger and return its CALLRESULT payload.

        The request is validated against the version's schema unless ``checked`` (a
        command adapter did); calls wait in turn for the one outstanding slot; ``timeout``
        covers the wait and the answer.
        """
        version = self.version
        if not version.sent_by_csms(action):
            raise CommandRejected(
                f"{action} is not a CSMS-initiated action of {version.subprotocol}"
            )
        if not checked:
            try:
                version.schemas.validate(action, payload)
            except OcppError as exc:
                raise CommandRejected(
                    f"invalid {action} request: {exc.description}", exc.details
                ) from None
        try:
            outgoing = self.calls.request(action, payload)
        except CommandRejected:
            if self.metrics is not None and self.calls.full:
                self.metrics.limited(PENDING_CALLS)
            raise
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        outcome: asyncio.Future[Payload] = loop.create_future()
        self._waiters[outgoing.message_id] = (turn, outcome)
        try:
            async with asyncio.timeout(timeout):
                self._advance()
                await turn
                if self.metrics is not None:
                    self.metrics.message("out", action)
                try:
                    await self.websocket.send(outgoing.frame, text=True)
                except ConnectionClosed:
                    raise ChargerNotConnected(f"{self.charge_point_id} is not connected") from None
                return await outcome
        except TimeoutError:
            raise CommandTimeout(
                f"{self.charge_point_id} did not answer {action} within {timeout:.1f} s"
            ) from None
        finally:
            del self._waiters[outgoing.message_id]
            self.calls.abandon(outgoing)
            self._advance()
            # the socket closed as this call was sent, or the deadline came as it failed:
            # its outcome is not awaited, and must not be logged as never retrieved
            for future in (turn, outcome):
                if future.done() and not future.cancelled():
                    future.exception()

    def _result(self, call: OutgoingCall, frame: Reply) -> Payload:
        action = call.action
        if isinstance(frame, rpc.CallError):
            raise ChargerCallError(
                f"{self.charge_point_id} answered {action} with {frame.error_code}: "
                f"{frame.description}",
                {
                    "error_code": frame.error_code,
                    "description": frame.description,
                    "details": frame.details,
                },
            )
        try:
            self.version.schemas.validate(action, frame.payload, response=True)
        except OcppError as exc:
            self.ctx.log.warning("invalid %s response: %s", action, exc.description)
            raise ChargerCallError(
                f"{self.charge_point_id} sent an invalid {action} response: {exc.description}",
                {"response": frame.payload},
            ) from None
        self.calls.answered(call, frame.payload)
        return frame.payload

    def _advance(self) -> None:
        """Let the next waiting call go out if the slot is free."""
        call = self.calls.next_to_send()
        waiters = None if call is None else self._waiters.get(call.message_id)
        # a call cancelled a moment ago is still queued: its own clean-up frees the slot
        if waiters is not None and not waiters[0].done():
            waiters[0].set_result(None)

    def _replied(self, call: OutgoingCall, frame: Reply) -> None:
        # Decided here, as the reply is read, not when the caller runs again: the charger
        # may send what it just accepted to send (NotifyReport after GetBaseReport) in the
        # next frame, which is read before the caller wakes.
        waiters = self._waiters.get(call.message_id)
        outcome = None if waiters is None or waiters[1].done() else waiters[1]
        try:
            result = self._result(call, frame)
        except ChargerCallError as error:
            if outcome is not None:
                outcome.set_exception(error)
        else:
            if outcome is not None:
                outcome.set_result(result)
        self._advance()

    def _fail(self, call: OutgoingCall, error: Exception) -> None:
        waiters = self._waiters.get(call.message_id)
        if waiters is None:
            return
        turn, reply = waiters
        waiting_on = reply if turn.done() else turn
        if not waiting_on.done():
            waiting_on.set_exception(error)
