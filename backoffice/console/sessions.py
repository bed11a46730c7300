"""Sessions: the list (staff: all, a driver: their own, with invoices) and one session
with its meter chart and cost breakdown."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import page_user, render


async def sessions_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    return render(request, "sessions.html", user, carrier=carrier, page="sessions")


async def session_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    raw = request.path_params["transaction_pk"]
    return render(
        request, "session.html", user, carrier=carrier, page="sessions", transaction_pk=raw
    )


routes = [
    Route("/sessions", sessions_page, methods=["GET"], name="console-sessions"),
    Route("/sessions/{transaction_pk:int}", session_page, methods=["GET"], name="console-session"),
]
