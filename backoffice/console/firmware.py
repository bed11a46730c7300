"""Firmware campaigns: the list, and one campaign with its waves' progress, its failures,
its events and the pause, resume, cancel and retry-failed buttons."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def campaigns_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "firmware.html", user, carrier=carrier, page="firmware")


async def campaign_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(
        request,
        "campaign.html",
        user,
        carrier=carrier,
        page="firmware",
        campaign_id=request.path_params["campaign_id"],
    )


routes = [
    Route("/firmware", campaigns_page, methods=["GET"], name="console-firmware"),
    Route("/firmware/{campaign_id:int}", campaign_page, methods=["GET"], name="console-campaign"),
]
