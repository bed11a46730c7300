"""The console's management pages in a real headless Chromium, each over the REST API with
the session cookie: tariffs (the API's 422 details shown next to the fields, then created,
published and assigned), sites, id tokens, users (admin only, like the API) and a firmware
campaign's waves with pause, resume and cancel. Screenshots go to docs/console/."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from tests.integration.backoffice.conftest import (
    Account,
    Backoffice,
    NewAccount,
    all_items,
    register_charger,
)
from tests.integration.backoffice.console import Console, browser, open_console

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

expect = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
).expect

__all__ = ["browser"]  # the fixture

NEGATIVE_PRICE = """{"currency": "EUR", "elements": [{"price_components":
  [{"type": "ENERGY", "price": "-0.30", "vat": "21", "step_size": 1}]}]}"""
GOOD_PRICE = NEGATIVE_PRICE.replace('"-0.30"', '"0.30"')


def script_errors(console: Console) -> list[str]:
    """The page's script errors; the refused requests (4xx the test provokes) the browser
    also logs are not errors of the page."""
    return [e for e in console.console_errors if not e.startswith("Failed to load resource")]


async def find_on_pages(page: Page, rows: Any, wanted: Any) -> None:
    """Page on (Next page) until ``wanted`` is shown: each page loaded (``aria-busy`` off)
    before looking at it."""
    while True:
        await expect(rows).not_to_have_attribute("aria-busy", "true")
        if await wanted.count():
            return
        await page.get_by_role("button", name="Next page").click()


def error_of(page: Page, form: str, name: str) -> Any:
    """The error message the page shows next to a form's field."""
    return page.locator(f"#{form}-{name}-error")


async def test_tariffs_validation_errors_then_created_published_and_assigned(
    browser: Browser, backoffice: Backoffice, client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    tariff_id = f"T-{secrets.token_hex(4)}"
    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(operator, "/tariffs")
        await expect(page.get_by_role("heading", name="Tariffs", exact=True)).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Tariffs")).to_have_attribute(
            "aria-current", "page"
        )
        await expect(nav.get_by_role("link", name="Users")).to_have_count(0)  # admin only

        # 1. the request's validation (pydantic): the id's pattern, next to the id field
        await page.get_by_label("Tariff id").fill("bad id!")
        await page.get_by_label("Description").fill("console test")
        await page.get_by_label("Definition (JSON)").fill(NEGATIVE_PRICE)
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(error_of(page, "tariff", "id")).to_contain_text("should match pattern")
        await expect(page.get_by_label("Tariff id")).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_label("Tariff id")).to_be_focused()
        await expect(error_of(page, "tariff", "definition")).to_be_hidden()

        # 2. the tariff's own validation (the service's 422 detail): next to the definition
        await page.get_by_label("Tariff id").fill(tariff_id)
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(error_of(page, "tariff", "definition")).to_have_text(
            "elements[0].price_components[0].price: must not be negative"
        )
        await expect(error_of(page, "tariff", "id")).to_be_hidden()
        await console.screenshot("tariffs-error")

        # JSON that does not parse is refused before it is sent
        await page.get_by_label("Definition (JSON)").fill('{"currency": "EUR",')
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(error_of(page, "tariff", "definition")).to_contain_text("not valid JSON")
        await page.get_by_label("Definition (JSON)").fill(NEGATIVE_PRICE)

        # 3. correct: created as draft v1, listed
        await page.get_by_label("Definition (JSON)").fill(GOOD_PRICE)
        await page.get_by_role("button", name="Create", exact=True).click()
        row = page.locator(f"#tariff-rows tr[data-id='{tariff_id}']")
        await expect(row).to_contain_text("v1")
        await expect(page.locator("#notice")).to_contain_text("draft version 1 saved")
        await expect(error_of(page, "tariff", "definition")).to_be_hidden()

        # publish it, then assign it as a site's tariff
        await row.get_by_role("button", name="Publish").click()
        await expect(page.locator("#notice")).to_contain_text(f"Tariff {tariff_id} version 1")
        await expect(row.get_by_role("button", name="Publish")).to_have_count(0)
        detail = await client.get(f"/api/v1/tariffs/{tariff_id}", headers=operator.headers)
        assert detail.json()["published_version"] == 1
        target = f"S-{secrets.token_hex(4)}"
        await page.get_by_label("Scope").select_option("site")
        await page.get_by_label("Target").fill(target)
        await page.locator("#assign-tariff_id").select_option(tariff_id)
        await page.get_by_role("button", name="Assign", exact=True).click()
        await expect(page.locator("#assign-error")).to_have_text(f"site {target} not found")
        site = {"id": target, "name": "Console site", "time_zone": "Europe/Amsterdam"}
        made = await client.post("/api/v1/sites", json=site, headers=operator.headers)
        assert made.status_code == 201, made.text
        await page.get_by_label("Target").fill(target)
        await page.locator("#assign-tariff_id").select_option(tariff_id)
        await page.get_by_role("button", name="Assign", exact=True).click()
        assigned = page.locator(f"#assignment-rows tr[data-target='{target}']")
        await expect(assigned).to_contain_text(tariff_id)
        listed = await all_items(
            client, "/api/v1/tariff-assignments", operator.headers, {"scope": "site"}
        )
        assert {"site", target, tariff_id} <= set(
            next(a for a in listed if a["target"] == target).values()
        )

        # edit: a new draft (v2) of the published tariff, the field prefilled from v1
        await row.get_by_role("button", name=f"Edit tariff {tariff_id}").click()
        await expect(page.get_by_label("Tariff id")).to_have_attribute("readonly", "")
        definition = page.get_by_label("Definition (JSON)")
        await expect(definition).to_have_value(_contains('"0.30"'))
        await definition.fill(GOOD_PRICE.replace('"0.30"', '"0.35"'))
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.locator("#notice")).to_contain_text("draft version 2 saved")
        await expect(row.get_by_role("button", name="Publish")).to_be_visible()
        await console.screenshot("tariffs")
        assert script_errors(console) == []
    finally:
        await console.context.close()


def _contains(text: str) -> Any:
    import re

    return re.compile(re.escape(text))


async def test_sites_and_id_tokens_created_edited_deleted(
    browser: Browser, backoffice: Backoffice, client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    site_id = f"S-{secrets.token_hex(4)}"
    token = f"TOK{secrets.token_hex(4).upper()}"
    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(operator, "/sites")
        await page.get_by_label("Site id").fill(site_id)
        await page.get_by_label("Name").fill("Console depot")
        await page.get_by_label("Time zone").fill("Mars/Olympus")
        await page.get_by_label("Latitude").fill("52.370216")
        await page.get_by_label("Longitude").fill("4.895168")
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(error_of(page, "site", "time_zone")).to_contain_text("not an IANA time zone")
        await page.get_by_label("Time zone").fill("Europe/Amsterdam")
        await page.get_by_label("City").fill("Amsterdam")
        await page.get_by_role("button", name="Create", exact=True).click()
        row = page.locator(f"#site-rows tr[data-id='{site_id}']")
        await expect(row).to_contain_text("52.370216, 4.895168")
        site = (await client.get(f"/api/v1/sites/{site_id}", headers=operator.headers)).json()
        assert site["city"] == "Amsterdam" and site["latitude"] == "52.370216"
        # the fleet page lists it and draws it on the map (the coordinates are used there)
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Fleet").click()
        await expect(page.locator(f"#site-list li[data-site='{site_id}']")).to_contain_text(
            "Console depot"
        )
        await expect(page.locator("#site-map .leaflet-interactive").first).to_be_visible()
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Sites").click()
        row = page.locator(f"#site-rows tr[data-id='{site_id}']")
        await expect(row).to_be_visible()

        # edit: the name changes, the coordinates cleared
        await row.get_by_role("button", name=f"Edit site {site_id}").click()
        await expect(page.get_by_label("Name")).to_have_value("Console depot")
        await page.get_by_label("Name").fill("Console depot North")
        await page.get_by_label("Latitude").fill("")
        await page.get_by_label("Longitude").fill("")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(row).to_contain_text("Console depot North")
        site = (await client.get(f"/api/v1/sites/{site_id}", headers=operator.headers)).json()
        assert site["latitude"] is None and site["name"] == "Console depot North"
        await console.screenshot("sites")

        # delete asks first: cancelling keeps it
        await row.get_by_role("button", name=f"Delete site {site_id}").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text(f"Delete site {site_id}")
        await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(row).to_be_visible()
        await row.get_by_role("button", name=f"Delete site {site_id}").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        gone = await client.get(f"/api/v1/sites/{site_id}", headers=operator.headers)
        assert gone.status_code == 404

        # id tokens: register one bound to no driver, block it, see it found
        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Id tokens")
            .click()
        )
        await expect(page.get_by_role("heading", name="Id tokens")).to_be_visible()
        await page.locator("#token-id_token").fill(token)
        await page.get_by_label("Driver (user id)").fill("999999999")
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(page.locator("#token-error")).to_contain_text("user 999999999 not found")
        await page.get_by_label("Driver (user id)").fill("")
        await page.get_by_label("Description").fill("console card")
        await page.get_by_role("button", name="Create", exact=True).click()
        row = page.locator(f"#token-rows tr[data-id='{token}']")
        await expect(row).to_contain_text("Accepted")
        await row.get_by_role("button", name=f"Block id token {token}").click()
        await page.get_by_role("dialog").get_by_role("button", name="Block").click()
        await expect(row).to_contain_text("Blocked")
        stored = await client.get(f"/api/v1/id-tokens/{token}", headers=operator.headers)
        assert stored.json()["status"] == "Blocked"
        assert stored.json()["description"] == "console card"
        await console.screenshot("id-tokens")
        assert script_errors(console) == []
    finally:
        await console.context.close()


async def test_users_page_for_admins_only(
    browser: Browser, backoffice: Backoffice, client: httpx.AsyncClient, new_account: NewAccount
) -> None:
    operator = await new_account("operator")
    admin = await new_account("admin")
    console = await open_console(browser, backoffice)
    try:
        await console.login(operator, "/users")
        response = await console.page.request.get(f"{backoffice.url}/users")
        assert response.status == 403
        await expect(console.page.get_by_role("heading", name="Not allowed")).to_be_visible()
        await expect(console.page.locator("#user-form")).to_have_count(0)
        api = await console.page.request.get(f"{backoffice.url}/api/v1/users")
        assert api.status == 403  # the API refuses the operator's cookie too
    finally:
        await console.context.close()

    console = await open_console(browser, backoffice)
    page = console.page
    username = f"console-{secrets.token_hex(4)}"
    try:
        await console.login(admin, "/users")
        await expect(page.get_by_role("heading", name="Users")).to_be_visible()
        # a new user is never created disabled: that box is only shown when editing
        await expect(page.get_by_label("Disabled (cannot log in)")).to_be_hidden()
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill("short")
        await page.get_by_label("Role", exact=True).select_option("monitor")
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(error_of(page, "user", "password")).to_contain_text("at least 12")
        await page.get_by_label("Password").fill("a long enough password")
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(page.locator("#notice")).to_contain_text(f"User {username} created")
        await page.locator("#filter-role").select_option("monitor")
        await page.get_by_role("button", name="Filter", exact=True).click()
        row = page.locator(f"#user-rows tr[data-username='{username}']")
        # other tests' monitors may fill the first pages
        await find_on_pages(page, page.locator("#user-rows"), row)
        await expect(row).to_contain_text("monitor")

        # change the role to operator and disable: the API's answer is listed
        await row.get_by_role("button", name=f"Edit user {username}").click()
        await page.locator("#user-role").select_option("operator")
        await page.get_by_label("Disabled (cannot log in)").check()
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.locator("#notice")).to_contain_text(f"User {username} saved (operator)")
        listed = await all_items(client, "/api/v1/users", admin.headers, {"role": "operator"})
        made = next(u for u in listed if u["username"] == username)
        assert made["disabled"] is True
        await page.locator("#filter-role").select_option("operator")
        await page.get_by_role("button", name="Filter", exact=True).click()
        await find_on_pages(page, page.locator("#user-rows"), row)
        await expect(row).to_contain_text("disabled")
        await console.screenshot("users")

        # delete, confirmed
        await page.locator("#filter-role").select_option("")
        await page.get_by_role("button", name="Filter", exact=True).click()
        user_id = made["id"]
        gone = await client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
        assert gone.status_code == 200
        await _delete_user(page, client, admin, username, user_id)
        assert script_errors(console) == []
    finally:
        await console.context.close()


async def _delete_user(
    page: Page, client: httpx.AsyncClient, admin: Account, username: str, user_id: int
) -> None:
    row = page.locator(f"#user-rows tr[data-username='{username}']")
    await find_on_pages(page, page.locator("#user-rows"), row)
    await row.get_by_role("button", name=f"Delete user {username}").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.locator("#notice")).to_contain_text(f"User {username} deleted")
    gone = await client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
    assert gone.status_code == 404


async def test_firmware_campaign_waves_failures_retry_pause_resume_cancel(
    browser: Browser,
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    new_account: NewAccount,
    pool: asyncpg.Pool,
) -> None:
    """No worker runs here: the canary's failure is written into the campaign's store the way
    the worker records one (the failure path itself is tested with simulated chargers in
    tests/integration/firmware); the page shows it and retries it through the API."""
    operator = await new_account("operator")
    monitor = await new_account("monitor")
    chargers = [(await register_charger(client, operator))[0] for _ in range(4)]
    image = b"CSMS-SIM-FIRMWARE 9.9.9\n" + secrets.token_bytes(1000)
    uploaded = await client.post(
        "/api/v1/firmware/artifacts",
        headers=operator.headers,
        data={"version": "9.9.9"},
        files={"file": ("fw-9.9.9.bin", image, "application/octet-stream")},
    )
    assert uploaded.status_code == 201, uploaded.text
    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={
            "artifact_id": uploaded.json()["id"],
            "target": {"chargers": chargers},
            "name": "console test",
            "canary": 1,
            "waves": ["50%", "100%"],
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    campaign_id = campaign["id"]
    assert campaign["status"] == "running"
    canary = await pool.fetchval(
        "UPDATE firmware_targets SET state = 'failed', attempts = 2,"
        " last_status = 'InstallationFailed', failure = 'install failed (injected)',"
        " finished_at = now(), updated_at = now()"
        " WHERE campaign_id = $1 AND wave = 0 RETURNING charge_point_id",
        campaign["id"],
    )
    assert canary in chargers

    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(operator, "/firmware")
        link = page.get_by_role("link", name=f"#{campaign_id} console test")
        await find_on_pages(page, page.locator("#campaign-rows"), link)  # newest last
        await console.screenshot("firmware")
        await link.click()
        await expect(page).to_have_url(f"{backoffice.url}/firmware/{campaign_id}")
        waves = page.locator("#wave-rows tr")
        await expect(waves).to_have_count(len(campaign["wave_progress"]))
        sizes = [str(w["size"]) for w in campaign["wave_progress"]]
        assert sum(w["size"] for w in campaign["wave_progress"]) == len(chargers)
        for index, size in enumerate(sizes):
            await expect(waves.nth(index).locator("td").nth(1)).to_have_text(size)
        await expect(page.locator("#campaign-facts")).to_contain_text("9.9.9")
        await expect(page.locator("#campaign-badge")).to_have_text("running")
        await expect(page.get_by_role("button", name="Resume")).to_be_disabled()

        # the failed canary: counted in its wave, listed with its failure, retried
        failure = page.locator(f"#failure-rows tr[data-id='{canary}']")
        await expect(failure).to_contain_text("install failed (injected)")
        await expect(failure).to_contain_text("InstallationFailed")
        await expect(waves.nth(0).locator("td").nth(5)).to_have_text("1")  # failed
        await expect(waves.nth(0)).to_contain_text("100.0 %")
        await console.screenshot("firmware-campaign-failure")
        await page.get_by_role("button", name="Retry failed").click()
        await expect(page.locator("#notice")).to_contain_text("1 retried, 0 skipped")
        await expect(page.locator("#failure-rows")).to_contain_text("No charger failed.")
        await expect(page.get_by_role("button", name="Retry failed")).to_be_disabled()
        targets = await client.get(
            f"/api/v1/firmware/campaigns/{campaign_id}/targets", headers=operator.headers
        )
        retried = next(t for t in targets.json()["items"] if t["charge_point_id"] == canary)
        assert retried["state"] == "pending" and retried["attempts"] == 0

        await page.get_by_role("button", name="Pause").click()
        await expect(page.locator("#campaign-badge")).to_have_text("paused")
        state = await client.get(
            f"/api/v1/firmware/campaigns/{campaign_id}", headers=operator.headers
        )
        assert state.json()["status"] == "paused"
        await expect(page.get_by_role("button", name="Pause")).to_be_disabled()
        await expect(page.locator("#event-rows")).to_contain_text("created")
        await expect(page.locator("#event-rows")).to_contain_text(operator.username)
        await expect(page.locator("#event-rows")).to_contain_text("paused")
        await console.screenshot("firmware-campaign")

        await page.get_by_role("button", name="Resume").click()
        await expect(page.locator("#campaign-badge")).to_have_text("running")
        await page.get_by_role("button", name="Cancel campaign").click()
        await page.get_by_role("dialog").get_by_role("button", name="Cancel campaign").click()
        await expect(page.locator("#campaign-badge")).to_have_text("cancelled")
        await expect(page.get_by_role("button", name="Cancel campaign")).to_be_disabled()
        state = await client.get(
            f"/api/v1/firmware/campaigns/{campaign_id}", headers=operator.headers
        )
        assert state.json()["status"] == "cancelled"
        assert script_errors(console) == []
    finally:
        await console.context.close()

    # a monitor sees the campaign but gets no buttons (the API would refuse them: 403)
    console = await open_console(browser, backoffice)
    try:
        await console.login(monitor, f"/firmware/{campaign_id}")
        await expect(console.page.locator("#campaign-badge")).to_have_text("cancelled")
        await expect(console.page.get_by_role("button", name="Pause")).to_have_count(0)
        refused = await client.post(
            f"/api/v1/firmware/campaigns/{campaign_id}/resume", headers=monitor.headers
        )
        assert refused.status_code == 403
    finally:
        await console.context.close()


async def test_narrow_screen_labels_and_keyboard(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount
) -> None:
    admin = await new_account("admin")
    context = await browser.new_context(viewport={"width": 380, "height": 800})
    console = Console(backoffice, context, await context.new_page())
    page = console.page
    try:
        await console.login(admin, "/sites")
        for path in ("/sites", "/tariffs", "/id-tokens", "/users", "/firmware"):
            await console.goto(path)
            await expect(page.locator("main h1")).to_be_visible()
            # nothing wider than the screen (wide tables scroll in their own box)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 380, (path, width)
            # every input has a label
            unlabelled = await page.evaluate(
                """[...document.querySelectorAll('input, select, textarea')]
                     .filter((f) => f.type !== 'hidden' && !f.labels.length)
                     .map((f) => f.id || f.name)"""
            )
            assert unlabelled == [], (path, unlabelled)
        await console.goto("/sites")
        await expect(page.locator("#site-rows")).not_to_contain_text("Loading")
        await console.screenshot("sites-narrow")

        # keyboard only: the skip link first, then into the form, and submit with Enter
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main"
        await page.locator("#site-id").focus()
        await page.keyboard.type("bad id")
        await page.keyboard.press("Enter")  # submits the form
        await expect(page.locator("#site-id-error")).to_contain_text("should match pattern")
        assert await page.evaluate("document.activeElement.id") == "site-id"
        assert script_errors(console) == []
    finally:
        await context.close()
