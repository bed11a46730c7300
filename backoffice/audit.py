"""The audit choke point: every state-changing API request (POST, PUT, PATCH, DELETE under
``/api/``) leaves one ``audit_log`` row, whatever its route and whatever its outcome.

:class:`AuditMiddleware` sees the request as it goes by: the caller (the principal
:func:`backoffice.permissions.authenticate` found, put in the scope by :func:`remember`),
the route template and its path parameters, the query and body (redacted by key name, see
:mod:`csms.domain.audit`), the status and the response body (also redacted), the client
address and the request id (``X-Request-ID``, the client's if it sent a sane one, echoed on
the response). The row is written before the last byte of the response leaves, so a client
that has its answer can find the row. A route adds what only it knows with :func:`note`
(the login's attempted username, the charger's answer to a command).

If the row cannot be written (PostgreSQL down), the action has happened already: the
response goes out, the failure is logged at ERROR (method, route, status and request id,
never the params) and counted in ``csms_backoffice_audit_failures_total``.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from csms.domain.audit import NewAuditEntry, outcome_of, redact, target_of
from csms.store import audit as audit_store

if TYPE_CHECKING:
    from backoffice.permissions import Principal
    from backoffice.state import State

log = logging.getLogger(__name__)

AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED_PREFIX = "/api/"
MAX_CAPTURE = 64 * 1024  # bytes of a request or response body kept for the record
PRINCIPAL_KEY = "csms.principal"
NOTE_KEY = "csms.audit"
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def is_audited(method: str, path: str) -> bool:
    """Whether a request is recorded: a state-changing method on an API route."""
    return method in AUDITED_METHODS and path.startswith(AUDITED_PREFIX)


def remember(request: Request, principal: Principal) -> None:
    """Called by authentication: the caller of this request, for its audit row."""
    request.scope[PRINCIPAL_KEY] = principal


def note(request: Request, **fields: Any) -> None:
    """What the middleware cannot see, for this request's row: ``action`` (a readable
    name), ``actor`` / ``actor_user_id`` / ``actor_role`` (who, when there is no bearer
    token: the login), ``target``, ``result`` (redacted before it is stored) and
    ``failed`` (the request succeeded but the action did not)."""
    request.scope.setdefault(NOTE_KEY, {}).update(fields)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _parse(content_type: str | None, body: bytes, total: int) -> Any:
    """A body as the record keeps it: JSON and forms parsed, anything else its size."""
    if not total:
        return None
    kind = (content_type or "").split(";")[0].strip().lower()
    if total > len(body):
        return {"content_type": kind, "bytes": total, "truncated": True}
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return {"content_type": kind, "bytes": total, "invalid": True}
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return {"content_type": kind, "bytes": total, "invalid": True}
        return dict(parse_qsl(text, keep_blank_values=True))
    return {"content_type": kind, "bytes": total}


class _Capture:
    def __init__(self) -> None:
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = MAX_CAPTURE - len(self.data)
        if room > 0:
            self.data.extend(chunk[:room])


class AuditMiddleware:
    """Records every state-changing API request in ``audit_log`` (see the module)."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state
        self.failures = Counter(
            "csms_backoffice_audit_failures",
            "Audit entries that could not be written (the action itself went through)",
            registry=state.metrics.registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request_body = _Capture()
        response_body = _Capture()
        status: int | None = None
        response_type: str | None = None
        recorded = False

        async def receive_tee() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.add(message.get("body", b""))
            return message

        # The response is held until its last byte (or MAX_CAPTURE of it) is here, the row
        # written, then let go: a client that has its answer (even a 204, complete with its
        # headers) finds the row.
        held: list[Message] = []

        async def record_and_release() -> None:
            nonlocal recorded
            recorded = True
            await self._record(
                scope, request_id, request_body, status, response_type, response_body
            )
            for pending in held:
                await send(pending)
            held.clear()

        async def send_tee(message: Message) -> None:
            nonlocal status, response_type
            if recorded:
                await send(message)
                return
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                for key, value in headers:
                    if bytes(key).lower() == b"content-type":
                        response_type = bytes(value).decode("latin-1")
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                held.append({**message, "headers": headers})
                return
            held.append(message)
            if message["type"] == "http.response.body":
                response_body.add(message.get("body", b""))
                if not message.get("more_body", False) or response_body.total > MAX_CAPTURE:
                    await record_and_release()

        try:
            await self.app(scope, receive_tee, send_tee)
        except Exception:
            if not recorded:
                recorded = True
                await self._record(scope, request_id, request_body, status or 500, None, _Capture())
            raise
        if not recorded:  # an app that ended without the last body message
            await record_and_release()

    async def _record(
        self,
        scope: Scope,
        request_id: str,
        request_body: _Capture,
        status: int | None,
        response_type: str | None,
        response_body: _Capture,
    ) -> None:
        try:
            entry = self._entry(
                scope, request_id, request_body, status, response_type, response_body
            )
            await audit_store.record(self.state.pool, entry)
        except Exception:
            self.failures.inc()
            log.exception(
                "audit entry not recorded: %s %s (status %s, request %s)",
                scope.get("method"),
                getattr(scope.get("route"), "path", "unmatched"),
                status,
                request_id,
            )

    def _entry(
        self,
        scope: Scope,
        request_id: str,
        request_body: _Capture,
        status: int | None,
        response_type: str | None,
        response_body: _Capture,
    ) -> NewAuditEntry:
        notes: dict[str, Any] = scope.get(NOTE_KEY, {})
        principal: Principal | None = scope.get(PRINCIPAL_KEY)
        route = scope.get("route")
        template = route.path if isinstance(route, APIRoute) else None
        path_params = {str(k): str(v) for k, v in (scope.get("path_params") or {}).items()}
        params: dict[str, Any] = {}
        raw_query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if query:
            params["query"] = query
        body = _parse(_header(scope, b"content-type"), bytes(request_body.data), request_body.total)
        if body is not None:
            params["body"] = body
        params = redact(params)
        if "result" in notes:
            result = redact(notes["result"])
        else:
            result = redact(_parse(response_type, bytes(response_body.data), response_body.total))
        client = scope.get("client")
        return NewAuditEntry(
            source="api",
            action=str(notes.get("action") or _action(route, scope)),
            outcome=outcome_of(status, failed=bool(notes.get("failed"))),
            actor_user_id=notes.get("actor_user_id", principal.user_id if principal else None),
            actor=notes.get("actor", principal.username if principal else None),
            actor_role=notes.get("actor_role", str(principal.role) if principal else None),
            method=str(scope["method"]),
            route=template,
            target=notes.get("target") or target_of(path_params, params),
            target_params=redact(path_params),
            params=params,
            status=status,
            result=result,
            client=str(client[0]) if client else None,
            request_id=request_id,
        )


def _action(route: object, scope: Scope) -> str:
    """``<tag>.<endpoint name>`` (``commands.send_command``), from the route itself."""
    if isinstance(route, APIRoute):
        tag = str(route.tags[0]) if route.tags else "api"
        return f"{'-'.join(tag.lower().split())}.{route.name}"
    return f"unmatched.{str(scope['method']).lower()}"


def route_action(route: APIRoute) -> str:
    """The action name a route's rows carry when the route does not :func:`note` one."""
    return _action(route, {"method": ""})
