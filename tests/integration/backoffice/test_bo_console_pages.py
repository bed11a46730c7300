"""The console's pages driven in a real headless Chromium against a real backoffice, a
cluster node and a simulated charger: the fleet row appears and changes colour with the
charger's status, commands answer on the charger page (dangerous ones ask first), the
session chart grows with the meter values, and a driver sees their own sessions only."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

import httpx
import pytest

from csms.node.server import Node
from tests.integration.backoffice.conftest import (
    Backoffice,
    NewAccount,
    register_charger,
    station,
)
from tests.integration.backoffice.console import browser, open_console
from tests.integration.backoffice.pricing import assign, create_tariff

if TYPE_CHECKING:
    from playwright.async_api import Browser, Dialog, Page

expect = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
).expect

__all__ = ["browser"]  # the fixture

FAULTED_RED = "rgb(179, 38, 30)"
AVAILABLE_GREEN = "rgb(18, 112, 58)"


async def test_fleet_charger_and_sessions(
    browser: Browser,
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    new_account: NewAccount,
    cluster_node: Node,
) -> None:
    operator = await new_account("operator")
    driver = await new_account("driver")
    other_driver = await new_account("driver")
    charge_point_id, password = await register_charger(client, operator)
    tag = f"TAG-{secrets.token_hex(4)}"
    token = await client.post(
        "/api/v1/id-tokens",
        json={"id_token": tag, "user_id": driver.user_id},
        headers=operator.headers,
    )
    assert token.status_code == 201, token.text

    # a few sites with coordinates: the map draws one marker each (no tiles: offline)
    site = f"SITE-{secrets.token_hex(3)}"
    for number, (latitude, longitude) in enumerate(((50.85, 4.35), (51.05, 3.72), (50.63, 5.57))):
        made = await client.post(
            "/api/v1/sites",
            json={
                "id": f"{site}-{number}",
                "name": f"Site {number}",
                "time_zone": "Europe/Brussels",
                "latitude": str(latitude),
                "longitude": str(longitude),
            },  # fmt: skip
            headers=operator.headers,
        )
        assert made.status_code == 201, made.text
    placed = await client.put(
        f"/api/v1/chargers/{charge_point_id}/site",
        json={"site_id": f"{site}-0"},
        headers=operator.headers,
    )
    assert placed.status_code == 200, placed.text
    # 1.00 EUR start + 0.25 EUR/kWh, +20 % VAT: the session page shows the breakdown
    await assign(
        client, operator, "charger", charge_point_id, await create_tariff(client, operator)
    )

    console = await open_console(browser, backoffice)
    sim = station(cluster_node, charge_point_id, password)
    try:
        await console.login(operator, f"/fleet?q={charge_point_id}")
        row = console.page.locator(f"tr[data-id='{charge_point_id}']")
        await expect(row).to_have_attribute("data-state", "offline")
        await expect(console.page.locator("body[data-live='live']")).to_have_count(1)
        markers = console.page.locator("#site-map path.leaflet-interactive")
        assert await markers.count() >= 3
        await expect(console.page.locator(f"#site-list [data-site='{site}-0']")).to_have_attribute(
            "data-state", "offline"
        )

        # the charger connects: its row turns available, live, without a reload
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        await sim.status_notification(1, "Available")
        await sim.status_notification(2, "Available")
        await expect(row).to_have_attribute("data-state", "available")
        badge = row.locator(".badge")
        await expect(badge).to_have_css("background-color", AVAILABLE_GREEN)
        await expect(row.locator("[data-connector='0/1']")).to_have_attribute(
            "data-status", "Available"
        )
        await expect(console.page.locator("[data-count='online']")).to_have_text("1")

        # a connector faults: red; it recovers: green again
        await sim.status_notification(1, "Faulted", "GroundFailure")
        await expect(row).to_have_attribute("data-state", "faulted")
        await expect(row.locator(".badge")).to_have_css("background-color", FAULTED_RED)
        await expect(console.page.locator("[data-count='faulted']")).to_have_text("1")
        await sim.status_notification(1, "Available")
        await expect(row).to_have_attribute("data-state", "available")
        # the counts and the site's marker follow
        await expect(console.page.locator("[data-count='faulted']")).to_have_text("0")
        await expect(console.page.locator(f"#site-list [data-site='{site}-0']")).to_have_attribute(
            "data-state", "available"
        )
        await console.screenshot("fleet-live")

        # the charger page: start a session with the command form, the charger's answer shown
        await row.get_by_role("link", name=charge_point_id).click()
        await expect(console.page.get_by_role("heading", name=charge_point_id)).to_be_visible()
        await expect(console.page.locator("#charger[data-live='live']")).to_have_count(1)
        await console.page.get_by_label("Id token").fill(tag)
        await console.page.get_by_role("button", name="Start session").click()
        answer = console.page.locator("#command-answer")
        await expect(answer).to_contain_text("RemoteStartTransaction")
        await expect(answer).to_contain_text("Accepted")

        # the chart follows the meter values
        chart = console.page.locator("#session-chart")
        await expect(chart).to_be_visible()
        await expect(chart.locator("canvas")).to_have_count(1)
        first = await _points(console.page, at_least=2)
        later = await _points(console.page, at_least=first + 3)
        assert later > first
        await console.screenshot("charger")

        # the journal: search, frames pretty-printed
        await console.page.get_by_label("Search", exact=True).fill("RemoteStartTransaction")
        await console.page.get_by_role("button", name="Search", exact=True).click()
        entry = console.page.locator(".journal-entry[data-action='RemoteStartTransaction']")
        await expect(entry.first).to_be_visible()
        await entry.first.locator("summary").click()
        await expect(entry.first.locator("pre")).to_contain_text(f'"idTag": "{tag}"')

        # a dangerous command asks first; dismissed, nothing is sent
        seen: list[str] = []

        async def dismiss(dialog: Dialog) -> None:
            seen.append(dialog.message)
            await dialog.dismiss()

        console.page.once("dialog", dismiss)
        await console.page.get_by_role("button", name="Reset").click()
        await expect(answer).to_contain_text("RemoteStartTransaction")  # unchanged
        assert seen and "Reset" in seen[0]
        # stopping the session asks too; accepted, the charger answers
        console.page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await console.page.get_by_role("button", name="Stop session").click()
        await expect(answer).to_contain_text("RemoteStopTransaction")
        await expect(answer).to_contain_text("Accepted")

        sessions = await client.get(
            "/api/v1/transactions",
            params={"charge_point_id": charge_point_id},
            headers=operator.headers,
        )
        (session,) = sessions.json()["items"]
        pk = session["id"]
        await console.goto("/sessions")
        await expect(console.page.locator(f"tr[data-session='{pk}']")).to_be_visible()
        await console.screenshot("sessions")
        await console.goto(f"/sessions/{pk}")
        await expect(console.page.locator("#session[data-outcome='200']")).to_have_count(1)
        await expect(console.page.locator("#facts")).to_contain_text(charge_point_id)
        await expect(console.page.locator("#session-chart canvas")).to_have_count(1)
        lines = console.page.locator("#cost-lines")
        await expect(lines).to_contain_text("FLAT")
        await expect(lines).to_contain_text("ENERGY")
        await expect(console.page.locator("#cost-totals")).to_contain_text("EUR")
        await console.screenshot("session")
        assert console.console_errors == [], console.console_errors
    finally:
        await sim.disconnect()
        await console.context.close()

    # the driver: their sessions only; another driver's session by URL is not found
    mine = await open_console(browser, backoffice)
    theirs = await open_console(browser, backoffice)
    try:
        await mine.login(driver)
        await expect(mine.page).to_have_url(f"{backoffice.url}/sessions")
        await expect(mine.page.get_by_role("heading", name="My sessions")).to_be_visible()
        await expect(mine.page.locator(f"tr[data-session='{pk}']")).to_be_visible()
        await expect(mine.page.get_by_role("link", name="Fleet")).to_have_count(0)
        await mine.screenshot("driver-sessions")
        await mine.goto(f"/sessions/{pk}")
        await expect(mine.page.locator("#session[data-outcome='200']")).to_have_count(1)
        await mine.goto("/fleet")
        await expect(mine.page.get_by_role("heading", name="Not allowed")).to_be_visible()

        await theirs.login(other_driver)
        await expect(theirs.page.locator("#session-rows")).to_contain_text("No session.")
        await theirs.goto(f"/sessions/{pk}")
        await expect(theirs.page.locator("#session[data-outcome='404']")).to_have_count(1)
        await expect(theirs.page.get_by_role("alert")).to_have_text("Session not found.")
        await expect(theirs.page.locator("#facts")).not_to_contain_text(charge_point_id)
    finally:
        await mine.context.close()
        await theirs.context.close()


async def _points(page: Page, *, at_least: int) -> int:
    """The chart's point count once it reaches ``at_least``."""
    await page.wait_for_function(
        "n => Number(document.getElementById('session-chart').dataset.points) >= n", arg=at_least
    )
    return int(await page.locator("#session-chart").get_attribute("data-points") or 0)


async def test_a_new_charger_appears_live(
    browser: Browser,
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    new_account: NewAccount,
    cluster_node: Node,
) -> None:
    """The fleet page is open; a charger registered and connected afterwards shows up in
    it without a reload (its first event reloads the first page, which has room)."""
    operator = await new_account("operator")
    prefix = f"NEW{secrets.token_hex(3)}"
    console = await open_console(browser, backoffice)
    try:
        await console.login(operator, f"/fleet?q={prefix}")
        await expect(console.page.locator("#fleet-rows")).to_contain_text("No charger matches.")
        await expect(console.page.locator("body[data-live='live']")).to_have_count(1)
        response = await client.post(
            "/api/v1/chargers",
            json={"charge_point_id": f"{prefix}-1", "auth": "none"},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text
        sim = station(cluster_node, f"{prefix}-1", None)
        await sim.connect()
        try:
            await sim.boot()
            await sim.status_notification(1, "Charging")
            row = console.page.locator(f"tr[data-id='{prefix}-1']")
            await expect(row).to_have_attribute("data-state", "charging")
            await expect(console.page.locator("[data-count='charging']")).to_have_text("1")
        finally:
            await sim.disconnect()
        # the disconnection turns it grey
        await expect(row).to_have_attribute("data-state", "offline")
    finally:
        await console.context.close()
