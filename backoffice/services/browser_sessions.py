"""Console sessions in cookies: the same access and refresh tokens as the API's login,
kept where the browser's JavaScript cannot read them.

``csms_access`` (the access token) and ``csms_refresh`` (the refresh token) are HttpOnly,
SameSite=Strict and, outside dev mode, Secure. ``csms_csrf`` is readable by the console's
script, which echoes it in ``X-CSRF-Token`` on every request that may change something
(checked in :func:`backoffice.permissions.authenticate`); it is an HMAC of the access
token's ``jti``, so it changes with every token and cannot be forged.
"""

from __future__ import annotations

from starlette.responses import Response

from backoffice.permissions import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from backoffice.schemas.auth import TokenResponse
from backoffice.security import AccessClaims
from backoffice.state import State

COOKIE_PATH = "/"


def set_cookies(state: State, response: Response, tokens: TokenResponse) -> AccessClaims:
    """Put a login's (or refresh's) tokens and the CSRF token in cookies; the claims."""
    claims = state.tokens.verify(tokens.access_token)
    secure = not state.settings.is_dev
    cookies = (
        (ACCESS_COOKIE, tokens.access_token, tokens.expires_in, True),
        (REFRESH_COOKIE, tokens.refresh_token, tokens.refresh_expires_in, True),
        (CSRF_COOKIE, state.tokens.csrf_token(claims.jti), tokens.refresh_expires_in, False),
    )
    for name, value, max_age, httponly in cookies:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            secure=secure,
            httponly=httponly,
            samesite="strict",
        )
    return claims


def clear_cookies(state: State, response: Response) -> None:
    secure = not state.settings.is_dev
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path=COOKIE_PATH, secure=secure, httponly=name != CSRF_COOKIE, samesite="strict"
        )
