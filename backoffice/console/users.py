"""Users (admin only, like ``/api/v1/users``): the list, create, change role, password or
disabled, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.console.web import forbidden, page_user, render
from backoffice.permissions import Role


async def users_page(request: Request) -> Response:
    user, carrier = await page_user(request)
    if user is None:
        assert carrier is not None
        return carrier
    if user.role is not Role.ADMIN:
        return forbidden(request, user, carrier)
    return render(request, "users.html", user, carrier=carrier, page="users")


routes = [Route("/users", users_page, methods=["GET"], name="console-users")]
