"""One charger: connectors, the current session's chart, configuration, the OCPP journal
and commands."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def charger_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(
        request,
        "charger.html",
        user,
        carrier=carrier,
        page="fleet",
        charge_point_id=request.path_params["charge_point_id"],
    )


routes = [
    Route(
        "/chargers/{charge_point_id:path}",
        charger_page,
        methods=["GET"],
        name="console-charger",
    )
]
