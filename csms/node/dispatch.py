"""What a charger sends, answered: parse, gate, validate, hand to the version's handler.
The one place where an OcppError becomes a CALLERROR.

No socket here: ``receive`` takes a frame and returns the reply to send (or None); replies
to our own calls go to the connection's ``on_reply``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from csms.errors import (
    InternalFailure,
    NotImplementedAction,
    NotSupportedAction,
    OcppError,
    PropertyViolation,
    RateLimited,
    SecurityViolation,
)
from csms.node import rpc
from csms.node.calls import CallCorrelator, OutgoingCall
from csms.node.context import Context
from csms.node.journal import JournalRecorder, JournalRow
from csms.node.limits import MESSAGE_RATE, MessageLimit
from csms.node.metrics import NodeMetrics
from csms.node.version import OcppVersion
from csms.store.pool import unavailable as database_unavailable

BOOT = "BootNotification"
PENDING = "Pending"
_JOURNAL_RAW_LIMIT = 4096

Reply = rpc.CallResult | rpc.CallError
OnReply = Callable[[OutgoingCall, Reply], None]


class Dispatcher:
    def __init__(
        self,
        ctx: Context,
        version: OcppVersion,
        calls: CallCorrelator,
        on_reply: OnReply,
        *,
        journal: JournalRecorder | None = None,
        metrics: NodeMetrics | None = None,
        validate_responses: bool = True,
        limit: MessageLimit | None = None,
    ) -> None:
        self.ctx = ctx
        self.limit = limit
        self.version = version
        self.calls = calls
        self.on_reply = on_reply
        self.journal = journal
        self.metrics = metrics
        self.validate_responses = validate_responses

    async def receive(self, data: str | bytes) -> bytes | None:
        """The reply to one received frame (None: nothing to send)."""
        try:
            frame = rpc.parse(data, self.version.dialect)
        except rpc.BadFrame as bad:
            if self.limit is not None and not self.limit.allow():
                return None if bad.silent else self._refuse(bad.message_id)
            self._journal("in", 0, bad.message_id, None, _raw_text(data))
            self.ctx.log.warning("bad frame: %s", bad.error.description)
            if bad.silent:
                return None
            return self._error(bad.message_id, None, bad.error)
        if isinstance(frame, rpc.Call):
            if self.limit is not None and not self.limit.allow():
                return self._refuse(frame.message_id)
            if _NUL[type(data)] in data and _contains_nul(frame.payload):
                # Valid JSON, but PostgreSQL text cannot hold NUL: refuse it whole.
                received = self._row("in", rpc.CALL, frame.message_id, frame.action, data)
                return self._error(
                    frame.message_id,
                    frame.action,
                    PropertyViolation("NUL character (\\u0000) in a string value"),
                    received,
                )
            # The CALL's row is stamped now and queued with its answer's (one journal
            # submission per message); if no answer comes (cancelled), it is queued alone.
            received = self._row("in", rpc.CALL, frame.message_id, frame.action, data)
            try:
                if self.metrics is None:
                    return await self._answer(frame, received)
                return await self._measured(frame, self.metrics, received)
            finally:
                if received:
                    self._add(received)
        if isinstance(frame, rpc.CallResult):
            self._journal("in", rpc.CALLRESULT, frame.message_id, None, data)
        else:
            self._journal("in", rpc.CALLERROR, frame.message_id, None, data)
        call = self.calls.receive(frame)
        if call is None:
            self.ctx.log.info("reply %s to no call of ours, ignored", frame.message_id)
        else:
            self.on_reply(call, frame)
        return None

    async def _measured(
        self, call: rpc.Call, metrics: NodeMetrics, received: list[JournalRow]
    ) -> bytes:
        started = time.perf_counter()
        answer = await self._answer(call, received)
        known = call.action if call.action in self.version.schemas.actions else "unknown"
        metrics.message("in", known)
        metrics.handled(known, time.perf_counter() - started)
        return answer

    def _may_send(self, action: str) -> bool:
        """Until BootNotification is Accepted only a boot, or (Pending) what we asked for
        (2.0.1 B02.FR.09 / B03.FR.07; 1.6 section 4.2)."""
        link = self.ctx.link
        if link.accepted or action == BOOT:
            return True
        return link.registration_status == PENDING and self.calls.requested(action)

    async def _answer(self, call: rpc.Call, received: list[JournalRow]) -> bytes:
        """The answer to ``call``; its journal row goes out with ``received`` (emptied)."""
        action = call.action
        version = self.version
        try:
            handler = version.routes.get(action)
            if handler is None:
                if action in version.schemas.actions:
                    raise NotSupportedAction(f"{action} is not sent by a charger")
                raise NotImplementedAction(f"unknown action {action[:64]!r}")
            if not self._may_send(action):
                raise SecurityViolation("BootNotification has not been accepted")
            version.schemas.validate(action, call.payload)
            result = await handler(self.ctx, call.payload)
            if self.validate_responses:
                try:
                    version.schemas.validate(action, result, response=True)
                except OcppError as exc:
                    self.ctx.log.error("our %s response is invalid: %s", action, exc)
                    raise InternalFailure("internal error") from exc
        except OcppError as error:
            # what a charger sent that we refuse: a warning with the reason, never a traceback
            self.ctx.log.warning(
                "%s refused: %s %s",
                action[:64],
                self.version.dialect.code(error.kind),
                error.description[:200],
            )
            return self._error(call.message_id, action, error, received)
        except Exception as exc:
            if database_unavailable(exc):  # a restart or failover: no traceback, a clear error
                self.ctx.log.warning("%s not handled: PostgreSQL unavailable (%s)", action, exc)
                failure = InternalFailure("database unavailable; send it again later")
                return self._error(call.message_id, action, failure, received)
            self.ctx.log.exception("%s handler failed", action)
            failure = InternalFailure("internal error")
            return self._error(call.message_id, action, failure, received)
        answer = rpc.call_result(call.message_id, result)
        self._journal("out", rpc.CALLRESULT, call.message_id, action, answer, received)
        return answer

    def _refuse(self, message_id: str) -> bytes:
        """Over the message rate: GenericError, nothing handled and nothing journaled (the
        limit is there to keep a flood off the database; the refusals are counted)."""
        limit = self.limit
        assert limit is not None
        if self.metrics is not None:
            self.metrics.limited(MESSAGE_RATE)
        if limit.first_refusal_of_window:
            self.ctx.log.warning(
                "over the message rate (%g/s, burst %g): refusing messages",
                limit.limits.message_rate,
                limit.limits.message_burst,
            )
        retry_after = round(limit.retry_after, 1)
        error = RateLimited(
            f"message rate limit exceeded; retry in {retry_after:g} s",
            {"retryAfter": retry_after},
        )
        return rpc.call_error(message_id, error, self.version.dialect)

    def _error(
        self,
        message_id: str,
        action: str | None,
        error: OcppError,
        received: list[JournalRow] | None = None,
    ) -> bytes:
        answer = rpc.call_error(message_id, error, self.version.dialect)
        self._journal("out", rpc.CALLERROR, message_id, action, answer, received)
        return answer

    def _journal(
        self,
        direction: str,
        message_type: int,
        message_id: str,
        action: str | None,
        frame: str | bytes,
        before: list[JournalRow] | None = None,
    ) -> None:
        """Queue a frame's row (the frame as received or sent), after the rows ``before``
        (which it empties)."""
        if self.journal is None:
            return
        row = self.journal.row(direction, message_type, message_id, action, frame)
        if before:
            rows = [*before, row]
            before.clear()
            self.journal.add(rows)
        else:
            self.journal.add([row])

    def _row(
        self,
        direction: str,
        message_type: int,
        message_id: str,
        action: str | None,
        frame: str | bytes,
    ) -> list[JournalRow]:
        """A frame's row, to be queued later ([] without a journal)."""
        if self.journal is None:
            return []
        return [self.journal.row(direction, message_type, message_id, action, frame)]

    def _add(self, rows: list[JournalRow]) -> None:
        if self.journal is not None:
            self.journal.add(rows)


# How a NUL character appears in a JSON text (it may not appear raw).
_NUL: dict[type, Any] = {str: "\\u0000", bytes: b"\\u0000"}


def _raw_text(data: str | bytes) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return text[:_JOURNAL_RAW_LIMIT].replace("\x00", "\ufffd")


def _contains_nul(value: Any) -> bool:
    """Whether a NUL character is in any string (key or value) of ``value`` (iterative: the
    value is what a charger sent)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False
