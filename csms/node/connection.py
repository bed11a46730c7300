"""One charger socket: receive frames, dispatch CALLs, answer. The one place where an
OcppError becomes a CALLERROR."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from csms.errors import (
    InternalFailure,
    NotImplementedAction,
    NotSupportedAction,
    OcppError,
    SecurityViolation,
)
from csms.node import rpc, validation
from csms.node.context import Handler, Session

log = logging.getLogger(__name__)

BOOT = "BootNotification"
_JOURNAL_RAW_LIMIT = 4096


class ChargerConnection:
    """Serves one charger's socket until it closes."""

    def __init__(
        self,
        websocket: ServerConnection,
        session: Session,
        dialect: rpc.Dialect,
        routes: Mapping[str, Handler],
    ) -> None:
        self.websocket = websocket
        self.session = session
        self.dialect = dialect
        self.routes = routes
        self._known_actions = validation.known_actions(dialect.subprotocol)
        self._validate_responses = session.services.settings.validate_responses

    @property
    def charge_point_id(self) -> str:
        return self.session.charge_point_id

    async def serve(self) -> None:
        """Answer frames until the socket closes."""
        try:
            async for message in self.websocket:
                reply = await self.handle(message)
                if reply is not None:
                    await self.websocket.send(reply, text=True)
        except ConnectionClosed:
            pass

    async def handle(self, data: str | bytes) -> bytes | None:
        """The reply to one received frame (None: nothing to send)."""
        try:
            frame = rpc.parse(data, self.dialect)
        except rpc.BadFrame as bad:
            self._journal("in", 0, bad.message_id, None, {"raw": _raw_text(data)})
            self.session.log.warning("bad frame: %s", bad.error.description)
            if bad.silent:
                return None
            return self._error(bad.message_id, None, bad.error)
        if isinstance(frame, rpc.Call):
            self._journal("in", rpc.CALL, frame.message_id, frame.action, frame.payload)
            return await self._handle_call(frame)
        if isinstance(frame, rpc.CallResult):
            self._journal("in", rpc.CALLRESULT, frame.message_id, None, frame.payload)
        else:
            self._journal("in", rpc.CALLERROR, frame.message_id, None, _error_payload(frame))
        self.session.log.info("reply %s to no call of ours, ignored", frame.message_id)
        return None

    async def _handle_call(self, call: rpc.Call) -> bytes:
        action = call.action
        try:
            handler = self.routes.get(action)
            if handler is None:
                if action in self._known_actions:
                    raise NotSupportedAction(f"{action} is not sent by a charger")
                raise NotImplementedAction(f"unknown action {action[:64]!r}")
            if not self.session.accepted and action != BOOT:
                # 2.0.1 B02.FR.09 / B03.FR.07; 1.6 section 4.2 (Pending/Rejected)
                raise SecurityViolation("BootNotification has not been accepted")
            validation.validate(self.dialect.subprotocol, action, call.payload)
            result = await handler(self.session, call.payload)
            if self._validate_responses:
                try:
                    validation.validate(self.dialect.subprotocol, action, result, response=True)
                except OcppError as exc:
                    self.session.log.error("our %s response is invalid: %s", action, exc)
                    raise InternalFailure("internal error") from exc
        except OcppError as error:
            return self._error(call.message_id, action, error)
        except Exception:
            self.session.log.exception("%s handler failed", action)
            return self._error(call.message_id, action, InternalFailure("internal error"))
        self._journal("out", rpc.CALLRESULT, call.message_id, action, result)
        return rpc.call_result(call.message_id, result)

    def _error(self, message_id: str, action: str | None, error: OcppError) -> bytes:
        payload = {
            "errorCode": self.dialect.code(error.kind),
            "errorDescription": error.description,
            "errorDetails": error.details,
        }
        self._journal("out", rpc.CALLERROR, message_id, action, payload)
        return rpc.call_error(message_id, error, self.dialect)

    def _journal(
        self, direction: str, message_type: int, message_id: str, action: str | None, payload: Any
    ) -> None:
        writer = self.session.services.journal_writer
        if writer is None:
            return
        row = (
            self.charge_point_id,
            self.session.services.clock(),
            direction,
            message_type,
            message_id,
            action,
            payload,
        )
        writer.add([row])


def _raw_text(data: str | bytes) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return text[:_JOURNAL_RAW_LIMIT]


def _error_payload(frame: rpc.CallError) -> dict[str, Any]:
    return {
        "errorCode": frame.error_code,
        "errorDescription": frame.description,
        "errorDetails": frame.details,
    }
