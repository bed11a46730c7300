"""Correlation of CALLs with their answers: one outstanding CALL at a time (OCPP-J).

No sockets: the station sends the frame, the reader feeds answers to :meth:`resolve`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from simulators.errors import CallError, OutstandingCallError
from simulators.framing import Call, CallErrorFrame, CallResult


@dataclass
class _Pending:
    call: Call
    future: asyncio.Future[dict[str, Any]]


class CallTracker:
    """Holds the one outstanding CALL and resolves it from CALLRESULT/CALLERROR frames."""

    def __init__(self) -> None:
        self._pending: _Pending | None = None

    @property
    def pending(self) -> Call | None:
        """The outstanding CALL, if any."""
        return self._pending.call if self._pending else None

    def begin(self, call: Call) -> asyncio.Future[dict[str, Any]]:
        """Register ``call`` as outstanding; the future gets the CALLRESULT payload."""
        if self._pending is not None:
            raise OutstandingCallError(
                f"{call.action} while {self._pending.call.action} is outstanding"
            )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending = _Pending(call, future)
        return future

    def resolve(self, frame: CallResult | CallErrorFrame) -> bool:
        """Answer the outstanding CALL; False when ``frame`` answers no outstanding CALL."""
        pending = self._pending
        if pending is None or pending.call.message_id != frame.message_id:
            return False
        self._pending = None
        if pending.future.done():
            return True
        if isinstance(frame, CallResult):
            pending.future.set_result(frame.payload)
        else:
            pending.future.set_exception(CallError(frame.code, frame.description, frame.details))
        return True

    def abort(self, exc: BaseException) -> None:
        """Fail the outstanding CALL (the connection was lost)."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.future.done():
            pending.future.set_exception(exc)

    def finish(self, call: Call) -> None:
        """Forget ``call`` (it timed out or was cancelled); later answers are ignored."""
        if self._pending is not None and self._pending.call is call:
            self._pending = None
