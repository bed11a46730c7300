"""Sites: the list, create, edit (name, time zone, address, the coordinates the fleet map
uses) and delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def sites_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "sites.html", user, carrier=carrier, page="sites")


routes = [Route("/sites", sites_page, methods=["GET"], name="console-sites")]
