"""The backoffice's exceptions and the one place every error becomes problem+json.

::

    ApiError                     an HTTP problem raised on purpose by the backoffice
     ├── Unauthorized            401: no, bad, expired or revoked credentials
     ├── Forbidden               403: the caller's role may not use this route
     ├── Conflict                409: the request contradicts the current state
     ├── TooManyRequests         429: rate limited (carries Retry-After)
     └── ServiceUnavailable      503: PostgreSQL or Redis is unreachable, stream limit

Errors of ``csms`` (:mod:`csms.errors`) are mapped here too: ``NotFound`` 404,
``AlreadyExists`` 409, ``InvalidInput`` 422, the command errors 409/504/503/422/502, and the
payment provider errors (a rejected webhook 400, a provider unavailable 503, refusing 502).
Every response is RFC 9457 ``application/problem+json``: ``type``, ``title``, ``status``,
``detail``, ``instance``, plus extensions. Nothing else reaches a client: an unexpected
exception is logged with its traceback and answered with a bare 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from csms.errors import (
    AlreadyExists,
    ChargerCallError,
    ChargerNotConnected,
    CommandError,
    CommandRejected,
    CommandTimeout,
    CsmsError,
    InUse,
    InvalidInput,
    NodeUnavailable,
    NotFound,
    PaymentError,
    ProviderUnavailable,
    WebhookRejected,
)
from csms.store.pool import unavailable as database_unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    status = 400
    type = "about:blank"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class Unauthorized(ApiError):
    status = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(ApiError):
    status = 403


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(ApiError):
    status = 503


# csms errors: (status, problem type)
_CSMS_ERRORS: tuple[tuple[type[CsmsError], int, str], ...] = (
    (NotFound, 404, "about:blank"),
    (AlreadyExists, 409, "about:blank"),
    (InUse, 409, "about:blank"),
    (InvalidInput, 422, "about:blank"),
    (ChargerNotConnected, 409, "urn:csms:problem:charger-not-connected"),
    (CommandTimeout, 504, "urn:csms:problem:command-timeout"),
    (NodeUnavailable, 503, "urn:csms:problem:node-unavailable"),
    (CommandRejected, 422, "urn:csms:problem:command-rejected"),
    (ChargerCallError, 502, "urn:csms:problem:charger-call-error"),
    (CommandError, 502, "urn:csms:problem:command-failed"),
    (WebhookRejected, 400, "urn:csms:problem:webhook-rejected"),
    (ProviderUnavailable, 503, "urn:csms:problem:payment-provider-unavailable"),
    (PaymentError, 502, "urn:csms:problem:payment-provider-error"),
)


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(
        orjson.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def status_of(exc: CsmsError) -> tuple[int, str]:
    """HTTP status and problem type of a csms error (500 for one nobody mapped)."""
    for cls, status, type_ in _CSMS_ERRORS:
        if isinstance(exc, cls):
            return status, type_
    return 500, "about:blank"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem(
        exc.status,
        exc.detail,
        instance=request.url.path,
        type_=exc.type,
        headers=exc.headers,
        **exc.extra,
    )


async def _csms_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CsmsError)
    status, type_ = status_of(exc)
    if status == 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(500, "internal error", instance=request.url.path)
    extra: dict[str, Any] = {}
    if isinstance(exc, CommandError):
        extra["code"] = exc.code
        if exc.extra:
            extra["charger"] = exc.extra
    return problem(status, str(exc), instance=request.url.path, type_=type_, **extra)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(
        exc.status_code,
        detail,
        instance=request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(first["loc"]) or "request"
    return problem(
        422,
        f"{where}: {first['msg']}",
        instance=request.url.path,
        type_="urn:csms:problem:validation",
        errors=errors,
    )


async def _unstorable(request: Request, exc: Exception) -> Response:
    # e.g. NUL characters or lone surrogates in text, an integer out of the column's range
    return problem(
        422,
        "a value cannot be stored (out of range or invalid characters)",
        instance=request.url.path,
        type_="urn:csms:problem:validation",
    )


RETRY_AFTER = "5"  # seconds: a restart or a failover of PostgreSQL or Redis


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: dependency unavailable: %s", request.method, request.url.path, exc)
    return problem(
        503,
        "a backing service is unavailable; try again shortly",
        instance=request.url.path,
        headers={"Retry-After": RETRY_AFTER},
    )


async def _interface_error(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):  # "connection is closed": the server went away
        return await _unavailable(request, exc)
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal error", instance=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after answering, so the server logs the traceback; the client gets
    # nothing but the status.
    return problem(500, "internal error", instance=request.url.path)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(CsmsError, _csms_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(asyncpg.DataError, _unstorable)
    app.add_exception_handler(UnicodeError, _unstorable)
    app.add_exception_handler(RedisError, _unavailable)
    app.add_exception_handler(asyncpg.PostgresConnectionError, _unavailable)
    app.add_exception_handler(asyncpg.OperatorInterventionError, _unavailable)
    app.add_exception_handler(asyncpg.TooManyConnectionsError, _unavailable)
    app.add_exception_handler(asyncpg.InterfaceError, _interface_error)
    app.add_exception_handler(ConnectionError, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
