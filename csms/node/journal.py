"""The OCPP journal of one connection: every frame in and out, as rows for the journal
writer (fire-and-forget, batched across chargers: ``csms/store/journal.py``).

A row holds the frame as text: the exact frame received or sent. Only a CALL of an action
that can set a charger's password (``SECRET_ACTIONS``) is parsed again, and if it does set
one, journaled as its redacted re-serialisation (A01.FR.09)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from csms.domain.clock import Clock
from csms.domain.credentials import redact

JournalRow = tuple[Any, ...]  # charge point, at, direction, message type, id, action, frame

CALL = 2
# the actions ``redact`` masks a password in: only their frames pay for a parse
SECRET_ACTIONS = frozenset({"ChangeConfiguration", "SetVariables"})


class JournalSink(Protocol):
    def add(self, rows: Sequence[JournalRow]) -> None:
        """Queue rows without waiting (a failure is logged, nobody waits)."""
        ...


def redact_frame(action: str, frame: str) -> str:
    """``frame`` (a CALL of ``action``) with a password it sets masked: re-serialised only
    when there is one, else the same text."""
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return frame
    if not isinstance(message, list) or len(message) != 4:
        return frame
    payload = message[3]
    redacted = redact(action, payload)
    if redacted is payload:
        return frame
    return orjson.dumps([message[0], message[1], message[2], redacted]).decode()


class JournalRecorder:
    def __init__(self, charge_point_id: str, clock: Clock, sink: JournalSink) -> None:
        self.charge_point_id = charge_point_id
        self._clock = clock
        self._sink = sink

    def record(
        self,
        direction: str,
        message_type: int,
        message_id: str,
        action: str | None,
        frame: str | bytes,
    ) -> None:
        """Journal ``frame`` (the text as received or sent; bytes are UTF-8)."""
        self._sink.add([self.row(direction, message_type, message_id, action, frame)])

    def row(
        self,
        direction: str,
        message_type: int,
        message_id: str,
        action: str | None,
        frame: str | bytes,
    ) -> JournalRow:
        """The journal row of one frame, stamped now (queued later with :meth:`add`)."""
        text = frame.decode() if isinstance(frame, bytes) else frame
        if message_type == CALL and action in SECRET_ACTIONS:
            text = redact_frame(action, text)  # a password being set is never journaled
        at = self._clock()
        return (self.charge_point_id, at, direction, message_type, message_id, action, text)

    def add(self, rows: Sequence[JournalRow]) -> None:
        """Queue rows made by :meth:`row` (a CALL and its answer go in together: one
        submission, so an idle node writes one journal statement per message, not two)."""
        self._sink.add(rows)
