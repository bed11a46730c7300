"""Id tokens (RFID cards, app tokens): the list, register, edit (block, expiry, driver)
and delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import STAFF, forbidden, page_user, render


async def tokens_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role not in STAFF:
        return forbidden(request, user, carrier)
    return render(request, "tokens.html", user, carrier=carrier, page="tokens")


routes = [Route("/id-tokens", tokens_page, methods=["GET"], name="console-id-tokens")]
