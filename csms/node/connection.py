"""One charger socket: receive frames, dispatch CALLs, answer. The one place where an
OcppError becomes a CALLERROR."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from csms.cluster.routing import Owner
from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    CommandRejected,
    CommandTimeout,
    InternalFailure,
    NotImplementedAction,
    NotSupportedAction,
    OcppError,
    PropertyViolation,
    SecurityViolation,
)
from csms.node import rpc, validation
from csms.node.context import Handler, Session

log = logging.getLogger(__name__)

BOOT = "BootNotification"
DATA_TRANSFER = "DataTransfer"  # the one action both sides send
_JOURNAL_RAW_LIMIT = 4096
# CSMS-initiated calls waiting for the one outstanding slot; more is a clear error.
MAX_QUEUED_CALLS = 32


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
        # Cluster ownership of this socket (None until claimed, e.g. while Redis is down).
        self.owner: Owner | None = None
        # CSMS-initiated calls: one outstanding at a time (OCPP-J 4.1.1 / 2.0.1 part 4 4.1.1).
        self._call_lock = asyncio.Lock()
        self._queued_calls = 0
        self._pending: tuple[str, asyncio.Future[rpc.CallResult | rpc.CallError]] | None = None
        self.closed = False
        # Actions we asked for (TriggerMessage, GetReport) that a Pending charger may send
        # (2.0.1 B02.FR.09 ff., 1.6 section 4.2).
        self._triggered: set[str] = set()

    @property
    def charge_point_id(self) -> str:
        return self.session.charge_point_id

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
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            if self._pending is not None and not self._pending[1].done():
                self._pending[1].set_exception(
                    ChargerNotConnected(f"{self.charge_point_id} disconnected during the call")
                )

    async def call(self, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a CALL to the charger and return its CALLRESULT payload.

        The request is validated against the version's schema before it leaves; calls wait
        in turn for the one outstanding slot (at most MAX_QUEUED_CALLS waiting); ``timeout``
        covers the wait and the answer.
        """
        subprotocol = self.dialect.subprotocol
        if action not in self._known_actions or (action in self.routes and action != DATA_TRANSFER):
            raise CommandRejected(f"{action} is not a CSMS-initiated action of {subprotocol}")
        try:
            validation.validate(subprotocol, action, payload)
        except OcppError as exc:
            raise CommandRejected(
                f"invalid {action} request: {exc.description}", exc.details
            ) from None
        if self.closed:
            raise ChargerNotConnected(f"{self.charge_point_id} is not connected")
        if self._queued_calls >= MAX_QUEUED_CALLS:
            raise CommandRejected(
                f"{self.charge_point_id} already has {MAX_QUEUED_CALLS} commands waiting"
            )
        self._queued_calls += 1
        try:
            async with asyncio.timeout(timeout):
                async with self._call_lock:
                    frame = await self._exchange(action, payload)
        except TimeoutError:
            raise CommandTimeout(
                f"{self.charge_point_id} did not answer {action} within {timeout:.1f} s"
            ) from None
        finally:
            self._queued_calls -= 1
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
            validation.validate(subprotocol, action, frame.payload, response=True)
        except OcppError as exc:
            self.session.log.warning("invalid %s response: %s", action, exc.description)
            raise ChargerCallError(
                f"{self.charge_point_id} sent an invalid {action} response: {exc.description}",
                {"response": frame.payload},
            ) from None
        if frame.payload.get("status") == "Accepted":
            self._triggered.update(_requested_actions(action, payload))
        return frame.payload

    def _requested(self, action: str) -> bool:
        """A Pending charger may send what we asked for; a Rejected one nothing."""
        return self.session.registration_status == "Pending" and action in self._triggered

    async def _exchange(
        self, action: str, payload: dict[str, Any]
    ) -> rpc.CallResult | rpc.CallError:
        message_id = uuid.uuid4().hex
        future: asyncio.Future[rpc.CallResult | rpc.CallError] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending = (message_id, future)
        try:
            self._journal("out", rpc.CALL, message_id, action, payload)
            if self.session.services.metrics is not None:
                self.session.services.metrics.message("out", action)
            try:
                await self.websocket.send(rpc.call(message_id, action, payload), text=True)
            except ConnectionClosed:
                raise ChargerNotConnected(f"{self.charge_point_id} is not connected") from None
            return await future
        finally:
            self._pending = None

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
            if _NUL[type(data)] in data and _contains_nul(frame.payload):
                # Valid JSON, but PostgreSQL text cannot hold NUL: refuse it whole.
                self._journal("in", rpc.CALL, frame.message_id, frame.action, _raw_json(data))
                return self._error(
                    frame.message_id,
                    frame.action,
                    PropertyViolation("NUL character (\\u0000) in a string value"),
                )
            self._journal("in", rpc.CALL, frame.message_id, frame.action, frame.payload)
            return await self._handle_call(frame)
        if _NUL[type(data)] in data and _contains_nul(frame):
            self._journal("in", 0, frame.message_id, None, _raw_json(data))
        elif isinstance(frame, rpc.CallResult):
            self._journal("in", rpc.CALLRESULT, frame.message_id, None, frame.payload)
        else:
            self._journal("in", rpc.CALLERROR, frame.message_id, None, _error_payload(frame))
        pending = self._pending
        if pending is not None and pending[0] == frame.message_id and not pending[1].done():
            pending[1].set_result(frame)
        else:
            self.session.log.info("reply %s to no call of ours, ignored", frame.message_id)
        return None

    async def _handle_call(self, call: rpc.Call) -> bytes:
        metrics = self.session.services.metrics
        if metrics is None:
            return await self._answer(call)
        started = time.perf_counter()
        answer = await self._answer(call)
        known = call.action if call.action in self._known_actions else "unknown"
        metrics.message("in", known)
        metrics.handled(known, time.perf_counter() - started)
        return answer

    async def _answer(self, call: rpc.Call) -> bytes:
        action = call.action
        try:
            handler = self.routes.get(action)
            if handler is None:
                if action in self._known_actions:
                    raise NotSupportedAction(f"{action} is not sent by a charger")
                raise NotImplementedAction(f"unknown action {action[:64]!r}")
            if not self.session.accepted and action != BOOT and not self._requested(action):
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


# How a NUL character appears in a JSON text (it may not appear raw).
_NUL: dict[type, Any] = {str: "\\u0000", bytes: b"\\u0000"}


def _raw_text(data: str | bytes) -> str:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return text[:_JOURNAL_RAW_LIMIT].replace("\x00", "\ufffd")


_TRIGGERS = {"TriggerMessage", "ExtendedTriggerMessage"}
_REPORTS = {"GetBaseReport", "GetReport"}


def _requested_actions(action: str, payload: dict[str, Any]) -> set[str]:
    """The charger-initiated actions an accepted CSMS request asks the charger to send."""
    if action in _REPORTS:
        return {"NotifyReport"}
    if action not in _TRIGGERS:
        return set()
    requested = str(payload.get("requestedMessage", ""))
    if requested.startswith("Sign"):
        return {"SignCertificate"}
    return {requested}


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains_nul(v) for v in value)
    if isinstance(value, rpc.CallResult):
        return _contains_nul(value.payload)
    if isinstance(value, rpc.CallError):
        return _contains_nul([value.error_code, value.description, value.details])
    return False


def _raw_json(data: str | bytes) -> dict[str, str]:
    """A frame for the journal that PostgreSQL can store: escaped NULs made visible."""
    return {"raw": _raw_text(data).replace("\\u0000", "\\ufffd")}


def _error_payload(frame: rpc.CallError) -> dict[str, Any]:
    return {
        "errorCode": frame.error_code,
        "errorDescription": frame.description,
        "errorDetails": frame.details,
    }
