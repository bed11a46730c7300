"""The OCPP journal of one connection: every frame in and out, as rows for the journal
writer (fire-and-forget, batched across chargers: ``csms/store/journal.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from csms.domain.clock import Clock
from csms.domain.credentials import redact

JournalRow = tuple[Any, ...]  # charge point, at, direction, message type, id, action, payload


class JournalSink(Protocol):
    def add(self, rows: Sequence[JournalRow]) -> None:
        """Queue rows without waiting (a failure is logged, nobody waits)."""
        ...


class JournalRecorder:
    def __init__(self, charge_point_id: str, clock: Clock, sink: JournalSink) -> None:
        self.charge_point_id = charge_point_id
        self._clock = clock
        self._sink = sink

    def record(
        self, direction: str, message_type: int, message_id: str, action: str | None, payload: Any
    ) -> None:
        self._sink.add([self.row(direction, message_type, message_id, action, payload)])

    def row(
        self, direction: str, message_type: int, message_id: str, action: str | None, payload: Any
    ) -> JournalRow:
        """The journal row of one frame, stamped now (queued later with :meth:`add`)."""
        return (
            self.charge_point_id,
            self._clock(),
            direction,
            message_type,
            message_id,
            action,
            redact(action, payload),  # a password being set is never journaled
        )

    def add(self, rows: Sequence[JournalRow]) -> None:
        """Queue rows made by :meth:`row` (a CALL and its answer go in together: one
        submission, so an idle node writes one journal statement per message, not two)."""
        self._sink.add(rows)
