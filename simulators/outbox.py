"""Delivery of transaction messages, in order, through the offline queue.

Every transaction message is appended to the queue and delivered from its head, so the
CSMS sees them in the order they happened. While the station is offline, or while an
older backlog waits for :meth:`Outbox.flush`, new messages just wait in the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from simulators.adapter import VersionAdapter
from simulators.errors import CallError, ConnectionLostError, NotConnectedError
from simulators.framing import new_message_id
from simulators.offline import OfflineQueue, TransactionMessage

CallFn = Callable[[str, dict[str, Any], str], Awaitable[dict[str, Any]]]
AnswerFn = Callable[[TransactionMessage, dict[str, Any]], None]


class Outbox:
    """The offline queue plus the rules for delivering and replaying it."""

    def __init__(
        self,
        adapter: VersionAdapter,
        call: CallFn,
        is_connected: Callable[[], bool],
        log: logging.Logger | logging.LoggerAdapter[Any],
        on_answer: AnswerFn | None = None,
    ) -> None:
        self._adapter = adapter
        self._on_answer = on_answer
        self._call = call
        self._is_connected = is_connected
        self._log = log
        self._queue = OfflineQueue()
        self._lock = asyncio.Lock()
        self._parked = False
        #: CALLERRORs answered to replayed messages (which were dropped).
        self.errors: list[CallError] = []
        #: (message id, action, payload) of the last delivered transaction message.
        self.last_sent: tuple[str, str, dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return len(self._queue) > 0

    @property
    def queue(self) -> OfflineQueue:
        """The queued messages, oldest first."""
        return self._queue

    async def submit(self, message: TransactionMessage) -> dict[str, Any] | None:
        """Deliver ``message`` after any older one; None when it stays queued."""
        if not self._queue:
            self._parked = False
        online = self._is_connected()
        if not online:
            self._adapter.mark_offline(message)
        self._queue.append(message)
        if not online or self._parked:
            self._parked = True
            return None
        await self._pump(message, None)
        return message.response

    async def flush(self) -> list[dict[str, Any]]:
        """Replay the whole queue; return the answers of the delivered messages."""
        self._parked = False
        results: list[dict[str, Any]] = []
        await self._pump(None, results)
        return results

    async def _pump(
        self, until: TransactionMessage | None, results: list[dict[str, Any]] | None
    ) -> None:
        async with self._lock:
            while (head := self._queue.peek()) is not None:
                if until is not None and (until.delivered or until not in self._queue):
                    return
                if until is not None and self._parked:
                    return
                if await self._deliver(head, until, results) and head is until:
                    return
            self._parked = False

    async def _deliver(
        self,
        head: TransactionMessage,
        until: TransactionMessage | None,
        results: list[dict[str, Any]] | None,
    ) -> bool:
        """Try to deliver the head; True if it left the queue."""
        payload = self._adapter.finalize(head)
        if payload is None:
            self._queue.pop()
            self._log.warning("dropped %s: its transaction never got an id", head.action)
            return True
        message_id = new_message_id()
        try:
            response = await self._call(head.action, payload, message_id)
        except (NotConnectedError, ConnectionLostError):
            self._parked = True
            return False
        except (CallError, TimeoutError) as exc:
            self._queue.pop()
            if head is until or until is None and isinstance(exc, TimeoutError):
                raise
            self._log.warning("replayed %s refused, dropped: %r", head.action, exc)
            if isinstance(exc, CallError):
                self.errors.append(exc)
            return True
        self._queue.pop()
        head.delivered, head.response = True, response
        self.last_sent = (message_id, head.action, payload)
        self._adapter.on_delivered(head, response)
        if self._on_answer is not None:
            self._on_answer(head, response)
        if head.kind == "start":
            head.transaction.start_response = response
        elif head.kind == "stop":
            head.transaction.stop_response = response
        if results is not None:
            results.append(response)
        return True
