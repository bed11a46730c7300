"""Answering CSMS-initiated CALLs: validate, route, handle.

This is the one place where a :class:`~simulators.errors.CallError` raised by a handler,
a schema violation or an unexpected exception becomes a CALLERROR frame.
"""

from __future__ import annotations

import logging
from typing import Any

from simulators.adapter import VersionAdapter
from simulators.context import StationContext
from simulators.errors import CallError, FramingError
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.schemas import SchemaViolation


class Dispatcher:
    """Turns a CALL into its CALLRESULT or CALLERROR using a version's routes."""

    def __init__(
        self,
        adapter: VersionAdapter,
        ctx: StationContext,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._adapter = adapter
        self._ctx = ctx
        self._log = log

    def _error(self, call: Call, kind: str, description: str) -> CallErrorFrame:
        return CallErrorFrame(call.message_id, self._adapter.error_codes[kind], description)

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        """Validate ``call``, run its handler and validate the response."""
        schemas = self._adapter.schemas
        handler = self._adapter.routes.get(call.action)
        if handler is None:
            kind = "not_supported" if schemas.knows(call.action) else "not_implemented"
            return self._error(call, kind, f"{call.action} is not handled by this station")
        try:
            schemas.validate(call.action, call.payload)
        except SchemaViolation as exc:
            return self._error(call, exc.kind, exc.message)
        try:
            response = handler(self._ctx, call.payload)
        except CallError as exc:
            return CallErrorFrame(call.message_id, exc.code, exc.description, exc.details)
        except Exception:
            self._log.exception("handler for %s failed", call.action)
            return self._error(call, "internal", f"{call.action} failed")
        try:
            schemas.validate(call.action, response, response=True)
        except SchemaViolation as exc:
            self._log.error("invalid %s response from handler: %s", call.action, exc.message)
            return self._error(call, "internal", f"{call.action} produced an invalid response")
        return CallResult(call.message_id, response)

    def framing_error(self, exc: FramingError) -> CallErrorFrame | None:
        """The CALLERROR for an unreadable frame, when it has a message id to answer."""
        if exc.message_id is None:
            return None
        return CallErrorFrame(exc.message_id, self._adapter.error_codes["framing"], exc.reason)
