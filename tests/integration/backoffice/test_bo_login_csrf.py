"""Login CSRF: the console's cookie login refuses a browser posting it from another site
(a page elsewhere cannot log its visitor in as the page's own account)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.backoffice.conftest import USER_PASSWORD, Backoffice, NewAccount

LOGIN = "/api/v1/auth/session"


async def _login(backoffice: Backoffice, username: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=backoffice.url) as client:
        return await client.post(
            LOGIN, data={"username": username, "password": USER_PASSWORD}, headers=headers
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a redirect chain: no site to trust
        {"Sec-Fetch-Site": "cross-site"},
        # the right host name on another port is another origin
        {"Origin": "http://127.0.0.1:1"},
    ],
)
async def test_a_login_posted_from_another_site_is_refused(
    backoffice: Backoffice, new_account: NewAccount, headers: dict[str, str]
) -> None:
    operator = await new_account("operator")
    refused = await _login(backoffice, operator.username, headers)
    assert refused.status_code == 403, refused.text
    assert "this site" in refused.json()["detail"]
    assert "set-cookie" not in refused.headers  # no session was opened


async def test_a_login_from_this_site_or_no_browser_opens_the_session(
    backoffice: Backoffice, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    here = urlsplit(backoffice.url)
    for headers in (
        {"Origin": f"{here.scheme}://{here.netloc}", "Sec-Fetch-Site": "same-origin"},
        # behind a proxy: the Origin is the public host the proxy names
        {"Origin": "https://console.example.com", "X-Forwarded-Host": "console.example.com"},
        {},  # curl or a script: no browser, nothing a page could drive
    ):
        opened = await _login(backoffice, operator.username, headers)
        assert opened.status_code == 200, (headers, opened.text)
        assert opened.json()["username"] == operator.username
        assert "csms_access" in opened.cookies
