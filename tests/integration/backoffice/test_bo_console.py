"""The browser console in a real headless Chromium: log in, the fleet page, cookies, the
Content-Security-Policy; and the cookie session's CSRF protection over plain HTTP."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    Account,
    Backoffice,
    NewAccount,
    register_charger,
)
from tests.integration.backoffice.console import browser, open_console

if TYPE_CHECKING:
    from playwright.async_api import Browser

expect = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
).expect

__all__ = ["browser"]  # the fixture


async def test_login_fleet_and_headers(
    browser: Browser, backoffice: Backoffice, client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    charge_point_id, _ = await register_charger(client, operator)
    console = await open_console(browser, backoffice)
    try:
        # without a session every page sends to the login page, and back after it
        await console.goto("/fleet")
        await expect(console.page).to_have_url(f"{backoffice.url}/login?next=%2Ffleet")
        await console.screenshot("login")
        await console.page.get_by_label("Username").fill(operator.username)
        await console.page.get_by_label("Password").fill("wrong password")
        await console.page.get_by_role("button", name="Log in").click()
        await expect(console.page.get_by_role("alert")).to_contain_text("Wrong username")
        assert all("401" in e for e in console.console_errors), console.console_errors
        console.console_errors.clear()  # the refused login's 401
        await console.login(operator, "/fleet")
        await expect(console.page).to_have_url(f"{backoffice.url}/fleet")
        await expect(console.page.get_by_role("heading", name="Fleet")).to_be_visible()

        # the registered charger is listed (offline: it never connected)
        await console.page.get_by_label("Search").fill(charge_point_id)
        await console.page.get_by_role("button", name="Filter", exact=True).click()
        row = console.page.locator(f"tr[data-id='{charge_point_id}']")
        await expect(row).to_have_attribute("data-state", "offline")
        await expect(console.page.locator("[data-count='total']")).to_have_text("1")

        # cookies: the tokens out of the script's reach, the CSRF token readable
        access = await console.cookie("csms_access")
        refresh = await console.cookie("csms_refresh")
        csrf = await console.cookie("csms_csrf")
        assert access is not None and refresh is not None and csrf is not None
        assert access["httpOnly"] and refresh["httpOnly"] and not csrf["httpOnly"]
        assert {access["sameSite"], refresh["sameSite"], csrf["sameSite"]} == {"Strict"}
        assert not access["secure"]  # dev over http; production: Secure (unit-tested)
        visible = await console.page.evaluate("document.cookie")
        assert "csms_csrf=" in visible and "csms_access" not in visible

        # a strict CSP on the page; no inline script in it
        response = await console.page.request.get(f"{backoffice.url}/fleet")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        html = await response.text()
        assert "<script>" not in html and " on" + "click=" not in html
        assert console.console_errors == []
        await console.screenshot("fleet")
    finally:
        await console.context.close()


async def test_logout_revokes(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount
) -> None:
    monitor = await new_account("monitor")
    console = await open_console(browser, backoffice)
    try:
        await console.login(monitor, "/fleet")
        access = await console.cookie("csms_access")
        assert access is not None
        await console.page.get_by_role("button", name="Log out").click()
        await expect(console.page).to_have_url(f"{backoffice.url}/login")
        assert await console.cookie("csms_access") is None
        # the access token itself was revoked, not only forgotten by the browser
        async with httpx.AsyncClient(base_url=backoffice.url) as other:
            stolen = await other.get(
                "/api/v1/fleet", headers={"Authorization": f"Bearer {access['value']}"}
            )
        assert stolen.status_code == 401
    finally:
        await console.context.close()


@contextlib.asynccontextmanager
async def session_client(
    backoffice: Backoffice, account: Account
) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in to the console the way the login form does (cookies)."""
    async with httpx.AsyncClient(base_url=backoffice.url) as client:
        response = await client.post(
            "/api/v1/auth/session",
            data={"username": account.username, "password": USER_PASSWORD},
        )
        assert response.status_code == 200, response.text
        assert response.json()["role"] == account.role
        yield client


async def test_csrf_required_with_cookie_auth(
    backoffice: Backoffice, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    async with session_client(backoffice, operator) as cookies:
        body = {"charge_point_id": f"CSRF-{secrets.token_hex(4)}"}
        # reading with the cookie needs no CSRF token
        assert (await cookies.get("/api/v1/auth/session")).status_code == 200
        refused = await cookies.post("/api/v1/chargers", json=body)
        assert refused.status_code == 403, refused.text
        assert "CSRF" in refused.json()["detail"]
        forged = await cookies.post(
            "/api/v1/chargers", json=body, headers={"X-CSRF-Token": "0" * 64}
        )
        assert forged.status_code == 403
        csrf = cookies.cookies["csms_csrf"]
        created = await cookies.post("/api/v1/chargers", json=body, headers={"X-CSRF-Token": csrf})
        assert created.status_code == 201, created.text

        # the refresh needs it too, and gives a new CSRF token with the new access token
        assert (await cookies.post("/api/v1/auth/session/refresh")).status_code == 403
        renewed = await cookies.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": csrf})
        assert renewed.status_code == 200, renewed.text
        assert cookies.cookies["csms_csrf"] != csrf
        stale = await cookies.delete("/api/v1/auth/session", headers={"X-CSRF-Token": csrf})
        assert stale.status_code == 403
        closed = await cookies.delete(
            "/api/v1/auth/session", headers={"X-CSRF-Token": cookies.cookies["csms_csrf"]}
        )
        assert closed.status_code == 204
        assert (await cookies.get("/api/v1/auth/session")).status_code == 401

    # bearer clients are unaffected: no CSRF token, no cookie
    async with httpx.AsyncClient(base_url=backoffice.url) as bearer:
        body = {"charge_point_id": f"CSRF-{secrets.token_hex(4)}"}
        made = await bearer.post("/api/v1/chargers", json=body, headers=operator.headers)
        assert made.status_code == 201, made.text


async def test_session_refresh_keyboard_and_narrow_screen(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount
) -> None:
    monitor = await new_account("monitor")
    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(monitor, "/fleet")
        await expect(page.locator("body[data-live='live']")).to_have_count(1)

        # the access token is gone (expired): the script refreshes it and retries
        await console.context.clear_cookies(name="csms_access")
        async with page.expect_response(
            lambda r: "/api/v1/fleet?" in r.url and r.status == 200
        ) as retried:
            await page.get_by_role("button", name="Filter", exact=True).click()
        await retried.value
        assert await console.cookie("csms_access") is not None
        assert console.console_errors and all("401" in e for e in console.console_errors)
        console.console_errors.clear()  # the refused calls before the refresh
        # ... and a page load refreshes it on the server
        await console.context.clear_cookies(name="csms_access")
        await console.goto("/fleet")
        await expect(page).to_have_url(f"{backoffice.url}/fleet")
        await expect(page.get_by_role("heading", name="Fleet")).to_be_visible()
        assert await console.cookie("csms_access") is not None

        # keyboard: the first Tab reaches "Skip to content", which moves focus to the page
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main"
        # every form field has a label
        unlabelled = await page.evaluate(
            """[...document.querySelectorAll('input, select')]
                 .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"""
        )
        assert unlabelled == []

        # a phone-sized screen: one column, nothing wider than the screen
        await page.set_viewport_size({"width": 390, "height": 844})
        await console.goto("/fleet")
        await expect(page.get_by_role("heading", name="Fleet")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        await console.screenshot("fleet-narrow")
        assert console.console_errors == [], console.console_errors
    finally:
        await console.context.close()


async def test_charger_text_is_never_markup(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount
) -> None:
    """Ids and descriptions come from operators and chargers: shown as text, never HTML."""
    operator = await new_account("operator")
    charge_point_id = f"X<i>{secrets.token_hex(3)}"
    async with httpx.AsyncClient(base_url=backoffice.url) as client:
        created = await client.post(
            "/api/v1/chargers",
            json={"charge_point_id": charge_point_id, "description": "<img src=x id=pwned>"},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    console = await open_console(browser, backoffice)
    try:
        await console.login(operator, "/fleet")
        await console.page.get_by_label("Search").fill("<img src=x")
        await console.page.get_by_role("button", name="Filter", exact=True).click()
        link = console.page.get_by_role("link", name=charge_point_id)
        await expect(link).to_be_visible()
        assert await console.page.locator("#fleet-rows i, #pwned").count() == 0
        await link.click()
        await expect(console.page.get_by_role("heading", level=1)).to_contain_text(charge_point_id)
        await expect(console.page.locator("#facts")).to_contain_text("<img src=x id=pwned>")
        assert await console.page.locator("h1 i, #pwned").count() == 0
    finally:
        await console.context.close()
