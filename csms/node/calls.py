"""The CSMS-initiated calls of one charger, without I/O.

OCPP-J allows one outstanding CALL per direction (1.6 J 4.1.1, 2.0.1 part 4 4.1.1): a
:class:`CallCorrelator` keeps the outstanding call and a bounded queue of the ones waiting
their turn, matches replies to the outstanding call by message id, journals each call as it
goes out, and remembers what we asked a charger to send (TriggerMessage, GetReport), which
a charger that is not yet accepted may then send. It never waits and never sends: the
connection (``csms/node/connection.py``) sends ``next_to_send()`` and waits for replies.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from csms.errors import ChargerNotConnected, CommandRejected
from csms.node import rpc
from csms.node.journal import JournalRecorder

# Calls a charger may have waiting (the outstanding one included); more is a clear error.
MAX_QUEUED_CALLS = 32

_TRIGGERS = frozenset({"TriggerMessage", "ExtendedTriggerMessage"})
_REPORTS = frozenset({"GetBaseReport", "GetReport"})
ACCEPTED = "Accepted"


@dataclass(slots=True)
class OutgoingCall:
    message_id: str
    action: str
    payload: dict[str, Any]
    frame: bytes = field(repr=False)


def _new_message_id() -> str:
    return uuid.uuid4().hex


class CallCorrelator:
    def __init__(
        self,
        charge_point_id: str,
        *,
        journal: JournalRecorder | None = None,
        max_queued: int = MAX_QUEUED_CALLS,
        new_message_id: Callable[[], str] = _new_message_id,
    ) -> None:
        self.charge_point_id = charge_point_id
        self._journal = journal
        self._max_queued = max_queued
        self._new_message_id = new_message_id
        self._queue: deque[OutgoingCall] = deque()
        self._outstanding: OutgoingCall | None = None
        self._triggered: set[str] = set()
        self.closed = False

    @property
    def outstanding(self) -> OutgoingCall | None:
        return self._outstanding

    @property
    def waiting(self) -> int:
        """Calls queued or outstanding."""
        return len(self._queue) + (self._outstanding is not None)

    @property
    def full(self) -> bool:
        """Whether another call would be refused (``CSMS_CHARGER_MAX_PENDING_CALLS``)."""
        return self.waiting >= self._max_queued

    def request(self, action: str, payload: dict[str, Any]) -> OutgoingCall:
        """Queue a call; it goes out when ``next_to_send`` returns it."""
        if self.closed:
            raise ChargerNotConnected(f"{self.charge_point_id} is not connected")
        if self.full:
            raise CommandRejected(
                f"{self.charge_point_id} already has {self._max_queued} commands waiting"
            )
        message_id = self._new_message_id()
        call = OutgoingCall(message_id, action, payload, rpc.call(message_id, action, payload))
        self._queue.append(call)
        return call

    def next_to_send(self) -> OutgoingCall | None:
        """The call to send now, if the slot is free and one waits; it is outstanding from
        here on (and journaled)."""
        if self._outstanding is not None or not self._queue or self.closed:
            return None
        call = self._outstanding = self._queue.popleft()
        if self._journal is not None:
            self._journal.record("out", rpc.CALL, call.message_id, call.action, call.frame)
        return call

    def receive(self, reply: rpc.CallResult | rpc.CallError) -> OutgoingCall | None:
        """The outstanding call ``reply`` answers (the slot is free again), or None: a
        reply to no call of ours (late, after a timeout, or made up)."""
        call = self._outstanding
        if call is None or call.message_id != reply.message_id:
            return None
        self._outstanding = None
        return call

    def abandon(self, call: OutgoingCall) -> None:
        """Give up on ``call`` (timed out, cancelled): out of the queue, or out of the slot
        (a late reply is then ignored). Nothing happens if it was answered."""
        if self._outstanding is call:
            self._outstanding = None
        else:
            try:
                self._queue.remove(call)
            except ValueError:
                pass

    def answered(self, call: OutgoingCall, response: dict[str, Any]) -> None:
        """The charger accepted ``call``'s request: note what it will send because of it."""
        if response.get("status") == ACCEPTED:
            self._triggered.update(requested_actions(call.action, call.payload))

    def requested(self, action: str) -> bool:
        """Whether we asked the charger to send ``action`` (a Pending charger may, 2.0.1
        B02.FR.09 ff., 1.6 section 4.2)."""
        return action in self._triggered

    def close(self) -> list[OutgoingCall]:
        """The connection is gone: every call not answered, outstanding first."""
        self.closed = True
        failed = [] if self._outstanding is None else [self._outstanding]
        failed.extend(self._queue)
        self._outstanding = None
        self._queue.clear()
        return failed


def requested_actions(action: str, payload: dict[str, Any]) -> set[str]:
    """The charger-initiated actions an accepted CSMS request asks the charger to send."""
    if action in _REPORTS:
        return {"NotifyReport"}
    if action not in _TRIGGERS:
        return set()
    requested = str(payload.get("requestedMessage", ""))
    if requested.startswith("Sign"):
        return {"SignCertificate"}
    return {requested}
