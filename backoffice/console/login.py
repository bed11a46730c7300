"""The login page, and ``/`` sending each role to its home page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from backoffice.console.web import STAFF, page_user, render


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no //host, no scheme): not an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


async def login_page(request: Request) -> Response:
    return render(request, "login.html", None, next=_safe_next(request.query_params.get("next")))


async def home(request: Request) -> Response:
    user, redirect = await page_user(request)
    if user is None:
        assert redirect is not None
        return redirect
    target = "/fleet" if user.role in STAFF else "/sessions"
    response = RedirectResponse(target, status_code=303)
    if redirect is not None:  # cookies of a refresh
        for name, value in redirect.raw_headers:
            if name == b"set-cookie":
                response.raw_headers.append((name, value))
    return response


routes = [
    Route("/", home, methods=["GET"], name="console-home"),
    Route("/login", login_page, methods=["GET"], name="console-login"),
]
