"""The browser console's login, refresh and logout, with cookies instead of a JSON body
(see backoffice/services/browser_sessions.py and docs/console.md)."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Cookie, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from backoffice.deps import AnyUser, Public, StateDep
from backoffice.errors import Forbidden, Unauthorized
from backoffice.permissions import CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from backoffice.routes import API
from backoffice.services import browser_sessions, sessions
from csms.store import users

router = APIRouter(prefix=f"{API}/auth/session", tags=["auth"])


class SessionPublic(BaseModel):
    """Who is logged in to the console."""

    user_id: int
    username: str
    role: str
    expires_at: int = Field(description="When the access token expires (Unix seconds)")


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def cross_site_refusal(request: Request) -> str | None:
    """Why a cookie login comes from another site (login CSRF: a page elsewhere posting
    its own credentials to log the visitor in as someone else), or None.

    A browser says where a POST comes from: ``Sec-Fetch-Site`` and ``Origin``. The login
    must come from this site: ``Origin`` naming the host the request was sent to (its
    ``Host``, or the ``X-Forwarded-Host`` a proxy set; a page cannot set either). A client
    that sends neither (curl, scripts) is no browser a page could drive, and may log in.
    """
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return "a login posted from another site"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    host = urlsplit(origin).netloc.lower() if origin != "null" else ""
    served = {
        value.strip().lower()
        for name in ("host", "x-forwarded-host")
        for value in request.headers.get(name, "").split(",")
        if value.strip()
    }
    if not host or host not in served:
        return f"a login posted from origin {origin!r}, not from this site"
    return None


@router.post("", response_model=SessionPublic)
async def open_session(
    _: Public,
    state: StateDep,
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> SessionPublic:
    """Log in to the console: the tokens go into HttpOnly cookies (``csms_access``,
    ``csms_refresh``) and the CSRF token into ``csms_csrf``, which the console sends back in
    ``X-CSRF-Token``. Rate-limited like ``/auth/token``. A login a browser posts from
    another site is refused (403): see :func:`cross_site_refusal`."""
    refusal = cross_site_refusal(request)
    if refusal is not None:
        raise Forbidden(f"{refusal}: log in from this site's login page")
    tokens = await sessions.login(state, form.username, form.password, _address(request))
    claims = browser_sessions.set_cookies(state, response, tokens)
    return SessionPublic(
        user_id=claims.user_id,
        username=form.username,
        role=claims.role,
        expires_at=claims.expires_at,
    )


@router.post("/refresh", response_model=SessionPublic)
async def refresh_session(
    _: Public,
    state: StateDep,
    request: Request,
    response: Response,
    refresh_token: Annotated[
        str, Cookie(alias=REFRESH_COOKIE, max_length=256, description="Set by the login")
    ],
) -> SessionPublic:
    """A fresh access token (and the next refresh token) for the cookie session. Needs the
    ``csms_csrf`` cookie's value in ``X-CSRF-Token``; 422 without a session cookie."""
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(f"CSRF check failed: send the {CSRF_COOKIE} cookie in {CSRF_HEADER}")
    tokens = await sessions.refresh(state, refresh_token, _address(request))
    claims = browser_sessions.set_cookies(state, response, tokens)
    user = await users.get_user(state.pool, claims.user_id)
    if user is None:
        raise Unauthorized("the user is gone")
    return SessionPublic(
        user_id=user.id, username=user.username, role=claims.role, expires_at=claims.expires_at
    )


@router.get("", response_model=SessionPublic)
async def current_session(caller: AnyUser) -> SessionPublic:
    """Who the cookie (or bearer token) belongs to."""
    return SessionPublic(
        user_id=caller.user_id,
        username=caller.username,
        role=caller.role.value,
        expires_at=caller.claims.expires_at,
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def close_session(
    caller: AnyUser, state: StateDep, request: Request, response: Response
) -> None:
    """Log out of the console: the access token and the refresh token's session are
    revoked and the cookies cleared."""
    await sessions.logout(state, caller, request.cookies.get(REFRESH_COOKIE), everywhere=False)
    browser_sessions.clear_cookies(state, response)
