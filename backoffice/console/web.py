"""What every console page shares: templates, who is logged in, the security headers.

Pages are server-rendered shells (Jinja2) that carry no data: their script fetches
``/api/v1/...`` with the session cookie, so every role and ownership check is the API's.
The shell only needs to know who is logged in, to draw the navigation of their role and
to send a visitor without a session to the login page.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.errors import ApiError
from backoffice.permissions import REFRESH_COOKIE, Principal, Role, authenticate
from backoffice.services import browser_sessions, sessions
from backoffice.state import State
from csms.settings import BackofficeSettings

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_URL = "/console/static"
templates = Jinja2Templates(directory=HERE / "templates")

STAFF = frozenset({Role.ADMIN, Role.OPERATOR, Role.MONITOR})
OPERATORS = frozenset({Role.ADMIN, Role.OPERATOR})

# Swagger UI (/docs) loads its script from a CDN and runs inline script: not ours to police.
_NO_CSP = ("/docs",)


def content_security_policy(settings: BackofficeSettings) -> str:
    """No inline script, nothing from elsewhere (map tiles from CSMS_CONSOLE_TILE_URL's
    origin, if one is set)."""
    images = "'self' data:"
    tile_url = settings.console_tile_url
    if tile_url:
        parts = urlsplit(tile_url)
        images += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the CSP and the other browser hardening headers to every response but /docs."""

    def __init__(self, app: ASGIApp, settings: BackofficeSettings) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(settings).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(_NO_CSP):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.headers if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def state_of(request: Request) -> State:
    state: State = request.app.state.backoffice
    return state


async def page_user(request: Request) -> tuple[Principal | None, Response | None]:
    """The logged-in user of a page request, from the access cookie, or after a refresh
    with the refresh cookie (its cookies set on the response the page must then use).
    ``(None, redirect to /login)`` without a session."""
    state = state_of(request)
    try:
        return await authenticate(request, state, None), None
    except ApiError:
        pass
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if refresh_token:
        address = request.client.host if request.client else "unknown"
        try:
            tokens = await sessions.refresh(state, refresh_token, address)
        except ApiError:
            pass
        else:
            carrier = Response()
            browser_sessions.set_cookies(state, carrier, tokens)
            principal = await authenticate(request, state, tokens.access_token)
            return principal, carrier
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return None, RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def render(
    request: Request,
    template: str,
    user: Principal | None,
    *,
    carrier: Response | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """The page ``template`` for ``user``; cookies a refresh set on ``carrier`` kept."""
    state = state_of(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "is_staff": user is not None and user.role in STAFF,
            "is_operator": user is not None and user.role in OPERATORS,
            "static": STATIC_URL,
            "tile_url": state.settings.console_tile_url or "",
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    if carrier is not None:
        for name, value in carrier.raw_headers:
            if name == b"set-cookie":
                response.raw_headers.append((name, value))
    return response


def forbidden(request: Request, user: Principal, carrier: Response | None) -> Response:
    return render(request, "forbidden.html", user, carrier=carrier, status_code=403)
