"""Tariffs: the list, create and edit (a draft, then publish), and where they are assigned."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def tariffs_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "tariffs.html", user, carrier=carrier, page="tariffs")


routes = [Route("/tariffs", tariffs_page, methods=["GET"], name="console-tariffs")]
