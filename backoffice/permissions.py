"""Who may call what: one dependency on every route.

Every route declares exactly one of :class:`Allow` (the roles that may call it; the caller
is authenticated from the bearer token) or :func:`public` (no credentials). A test walks
``app.routes`` and fails on a route with neither, and docs/api.md's role table is checked
against :func:`route_table`.

Roles (the paper's system users): ``admin`` everything including users; ``operator``
chargers, tokens, commands, tariffs and sites; ``monitor`` read-only; ``driver`` their own
tokens and sessions (and their costs), and the tariff that applies to their own tokens. An
object a driver does not own is answered 404 exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from redis.exceptions import RedisError

from backoffice import audit
from backoffice.errors import Forbidden, ServiceUnavailable, Unauthorized
from backoffice.security import AccessClaims, InvalidToken
from backoffice.state import State, get_state
from csms.store import users
from csms.store.pool import unavailable as database_unavailable

log = logging.getLogger(__name__)

TOKEN_URL = "/api/v1/auth/token"

ACCESS_COOKIE = "csms_access"
"""HttpOnly cookie of the browser console holding the access token (a JWT)."""
REFRESH_COOKIE = "csms_refresh"
"""HttpOnly cookie of the browser console holding the refresh token."""
CSRF_COOKIE = "csms_csrf"
"""Readable cookie: the console's JavaScript echoes it in :data:`CSRF_HEADER`."""
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    MONITOR = "monitor"
    DRIVER = "driver"


ALL_ROLES = tuple(Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user_id: int
    username: str
    role: Role
    claims: AccessClaims

    @property
    def is_driver(self) -> bool:
        return self.role is Role.DRIVER


_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def revoked_key(state: State, jti: str) -> str:
    return state.redis_key("revoked", jti)


async def authenticate(
    request: Request,
    state: Annotated[State, Depends(get_state)],
    token: Annotated[str | None, Depends(_bearer)],
) -> Principal:
    """The caller of a valid, unrevoked access token whose user still has that role.

    The token comes from ``Authorization: Bearer`` or, without that header, from the
    console's :data:`ACCESS_COOKIE`. A cookie-authenticated request that may change
    something (not GET/HEAD/OPTIONS) must carry the session's CSRF token in
    :data:`CSRF_HEADER` (403 without it): a cross-site form cannot set a header.
    """
    principal = await _authenticate(state, request, token, degraded=False)
    audit.remember(request, principal)  # the actor of this request's audit row
    return principal


async def authenticate_degraded(
    request: Request,
    state: Annotated[State, Depends(get_state)],
    token: Annotated[str | None, Depends(_bearer)],
) -> Principal:
    """:func:`authenticate` for the routes that must answer while PostgreSQL or Redis is
    down (the service status): a check that cannot be made within ``DEGRADED_TIMEOUT``
    (the user row, the logout record) is skipped with a warning, and the token is taken
    on its signature, expiry and role claim alone. A check that can be made still
    refuses."""
    return await _authenticate(state, request, token, degraded=True)


DEGRADED_TIMEOUT = 1.0


async def _authenticate(
    state: State, request: Request, token: str | None, *, degraded: bool
) -> Principal:
    from_cookie = False
    if not token:
        token = request.cookies.get(ACCESS_COOKIE)
        from_cookie = bool(token)
    if not token:
        raise Unauthorized("a bearer access token is required")
    try:
        claims = state.tokens.verify(token)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    if from_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), state.tokens.csrf_token(claims.jti).encode()):
            raise Forbidden(
                f"CSRF check failed: a request authenticated by the session cookie must send "
                f"the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header"
            )
    try:
        async with asyncio.timeout(DEGRADED_TIMEOUT if degraded else None):
            user = await users.get_user(state.pool, claims.user_id)
    except Exception as exc:
        if not degraded or not (isinstance(exc, TimeoutError) or database_unavailable(exc)):
            raise
        log.warning("cannot read the caller's user (PostgreSQL: %s): trusting the token", exc)
        if claims.role not in tuple(Role):
            raise Unauthorized("the access token names no known role") from None
        username, role = str(claims.user_id), Role(claims.role)
    else:
        if (
            user is None
            or user.disabled
            or user.token_version != claims.token_version
            or user.role != claims.role
        ):
            raise Unauthorized("the access token was revoked")
        username, role = user.username, Role(user.role)
    try:
        async with asyncio.timeout(DEGRADED_TIMEOUT if degraded else None):
            logged_out = await state.redis.exists(revoked_key(state, claims.jti))
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("cannot check token revocation: %s", exc)
        if not degraded:
            raise ServiceUnavailable("cannot check the access token now; retry") from None
        logged_out = False
    if logged_out:
        raise Unauthorized("the access token was revoked")
    return Principal(claims.user_id, username, role, claims)


class Allow:
    """Dependency: the authenticated caller, if their role is one of ``roles`` (403 if not)."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in self.roles:
            raise Forbidden(f"the {principal.role} role may not do this")
        return principal

    def __repr__(self) -> str:
        return f"Allow({', '.join(sorted(self.roles))})"


class AllowDegraded(Allow):
    """:class:`Allow` over :func:`authenticate_degraded`: for the routes that report an
    outage (the service status) and so must answer during one."""

    async def __call__(
        self, principal: Annotated[Principal, Depends(authenticate_degraded)]
    ) -> Principal:
        return await super().__call__(principal)


async def public() -> None:
    """Dependency marking a route that needs no credentials (health, login, metrics)."""


def _checks(dependencies: list[Any]) -> Iterator[Allow | None]:
    for dependant in dependencies:
        if isinstance(dependant.call, Allow):
            yield dependant.call
        elif dependant.call is public:
            yield None
        yield from _checks(dependant.dependencies)


def route_permissions(route: APIRoute) -> list[Allow | None]:
    """The permission checks of a route: Allow instances, None for :func:`public`."""
    return list(_checks(route.dependant.dependencies))


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, however routers were included."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x: lazy includes
    except ImportError:
        candidates: list[Any] = list(app.routes)
    else:
        candidates = [context.original_route for context in iter_route_contexts(app.routes)]
    return [route for route in candidates if isinstance(route, APIRoute)]


def route_table(app: FastAPI) -> list[tuple[str, str, tuple[Role, ...] | None]]:
    """``(method, path, roles)`` of every API route; roles None for public routes.

    Raises LookupError for a route without exactly one check.
    """
    table: list[tuple[str, str, tuple[Role, ...] | None]] = []
    for route in api_routes(app):
        checks = route_permissions(route)
        if len(checks) != 1:
            raise LookupError(f"{route.path} has {len(checks)} permission checks, not 1")
        check = checks[0]
        roles = None if check is None else tuple(r for r in ALL_ROLES if r in check.roles)
        for method in sorted(route.methods or ()):
            table.append((method, route.path, roles))
    return table


def markdown_table(app: FastAPI) -> str:
    """The route x role table of docs/api.md."""
    lines = [
        "| method | path | " + " | ".join(r.value for r in ALL_ROLES) + " |",
        "|---|---|" + "---|" * len(ALL_ROLES),
    ]
    for method, path, roles in route_table(app):
        if roles is None:
            cells = ["public"] * len(ALL_ROLES)
        else:
            cells = [
                ("own" if r is Role.DRIVER else "yes") if r in roles else "-" for r in ALL_ROLES
            ]
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
