"""Fleet: every charger with its live state, counts, filters and the site map."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def fleet_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "fleet.html", user, carrier=carrier, page="fleet")


routes = [Route("/fleet", fleet_page, methods=["GET"], name="console-fleet")]
