"""The console's management pages by role, over plain HTTP (no browser needed): each role
gets the pages the API lets it use, a visitor without a session the login page, and no
page carries inline script (the browser tests are in test_bo_console_manage.py)."""

from __future__ import annotations

import httpx

from tests.integration.backoffice.conftest import USER_PASSWORD, Backoffice, NewAccount

PAGES = ("/tariffs", "/sites", "/id-tokens", "/firmware", "/users")


async def test_pages_by_role_without_inline_script(
    backoffice: Backoffice, new_account: NewAccount
) -> None:
    """Each role gets the pages the API lets it use; no page carries inline script."""
    async with httpx.AsyncClient(base_url=backoffice.url) as anonymous:
        for path in PAGES:
            response = await anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next=%2F{path[1:]}"
    allowed = {
        "admin": set(PAGES),
        "operator": set(PAGES) - {"/users"},
        "monitor": set(PAGES) - {"/users"},
        "driver": set(),
    }
    forms = {"/tariffs": 'id="tariff-form"', "/sites": 'id="site-form"'}
    for role, pages in allowed.items():
        account = await new_account(role)
        async with httpx.AsyncClient(base_url=backoffice.url) as browser_like:
            opened = await browser_like.post(
                "/api/v1/auth/session",
                data={"username": account.username, "password": USER_PASSWORD},
            )
            assert opened.status_code == 200, opened.text
            for path in PAGES:
                response = await browser_like.get(path)
                assert response.status_code == (200 if path in pages else 403), (role, path)
                html = response.text
                assert "<script>" not in html and " on" + "click=" not in html
                assert "script-src 'self'" in response.headers["content-security-policy"]
                for form_path, marker in forms.items():
                    if path == form_path and path in pages:
                        # a monitor reads: no form to change anything
                        assert (marker in html) == (role != "monitor"), (role, path)
                nav_has_users = 'href="/users"' in html
                assert nav_has_users == (role == "admin"), (role, path)
