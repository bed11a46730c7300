"""Service status: nodes, breakers, the worker queue, PostgreSQL and Redis, alarm and
webhook counts, refreshed periodically (docs/topics/monitoring.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def status_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "status.html", user, carrier=carrier, page="status")


routes = [Route("/status", status_page, methods=["GET"], name="console-status")]
