"""Alarms: open alarms by severity with acknowledge and clear, each one's history, live
from the event stream; the cleared ones (docs/topics/alarms.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def alarms_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "alarms.html", user, carrier=carrier, page="alarms")


routes = [Route("/alarms", alarms_page, methods=["GET"], name="console-alarms")]
