"""The browser console, served by the backoffice at ``/`` (see docs/console.md).

One module per page (``login``, ``fleet``, ``charger``, ``sessions``), templates in
``templates/``, scripts, styles and the vendored libraries in ``static/``. A page module
exposes ``routes``; :func:`install` mounts them all. Pages are shells: their data comes
from the JSON API, fetched by the page's script with the session cookie.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from backoffice.console import charger, fleet, login, sessions
from backoffice.console.manage import MANAGE_PAGES
from backoffice.console.web import HERE, STATIC_URL, SecurityHeaders
from csms.settings import BackofficeSettings

PAGES = (login, fleet, charger, sessions)


def install(app: FastAPI, settings: BackofficeSettings) -> None:
    """Serve the console's pages and assets, and the security headers on every response."""
    for page in PAGES:
        for route in page.routes:
            app.router.routes.append(route)
    for page in MANAGE_PAGES:  # the management pages (backoffice/console/manage.py)
        for route in page.routes:
            app.router.routes.append(route)
    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_middleware(SecurityHeaders, settings=settings)
