"""The alarms and status pages driven in a real headless Chromium against a real backoffice,
a cluster node and a simulated charger over a real WebSocket: a connector that reports
Faulted raises an alarm that appears on the alarms page live (no reload) and on the
charger page; a monitor acknowledges it with a note and the history shows who; an
operator clears it (after a confirmation) and it moves to the cleared ones; a driver gets
neither page; the status page shows the node alive."""

from __future__ import annotations

import re
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
from tests.integration.backoffice.console import Console, browser, open_console

if TYPE_CHECKING:
    from playwright.async_api import Browser

expect = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
).expect

__all__ = ["browser"]  # the fixture


async def test_alarm_raised_live_acknowledged_and_cleared(
    browser: Browser,
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    new_account: NewAccount,
    cluster_node: Node,
) -> None:
    operator = await new_account("operator")
    monitor = await new_account("monitor")
    charge_point_id, password = await register_charger(client, operator)
    note = f"crew sent {secrets.token_hex(3)}"

    watcher = await open_console(browser, backoffice)
    clearer = await open_console(browser, backoffice)
    sim = station(cluster_node, charge_point_id, password)
    try:
        # the monitor watches this charger's open alarms: none yet
        await watcher.login(monitor, f"/alarms?charger={charge_point_id}")
        await expect(watcher.page.get_by_role("heading", name="Alarms", exact=True)).to_be_visible()
        await expect(watcher.page.locator("#alarm-rows")).to_contain_text("No alarm matches.")
        await expect(watcher.page.locator("body[data-live='live']")).to_have_count(1)

        # OCPP 1.6 StatusNotification Faulted: connector_faulted, shown live without a reload
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        await sim.status_notification(1, "Faulted", "GroundFailure")
        row = watcher.page.locator("#alarm-rows tr[data-type='connector_faulted']")
        await expect(row).to_have_count(1)
        await expect(row).to_have_attribute("data-state", "raised")
        await expect(row).to_have_attribute("data-severity", "major")
        await expect(row).to_contain_text(charge_point_id)
        alarm_id = await row.get_attribute("data-id")
        assert alarm_id
        major = watcher.page.locator("[data-severity-count='major']")
        await expect(major).to_have_text(re.compile(r"^[1-9][0-9]*$"))

        # the monitor acknowledges with a note; no clear form for a monitor
        await row.get_by_role("button", name=f"Details of alarm {alarm_id}").click()
        detail = watcher.page.locator("#alarm-detail")
        await expect(detail).to_have_attribute("data-state", "raised")
        await expect(watcher.page.locator("#clear-form")).to_have_count(0)
        await watcher.page.get_by_label("Acknowledgement note").fill(note)
        await watcher.page.get_by_role("button", name="Acknowledge", exact=True).click()
        await expect(detail).to_have_attribute("data-state", "acknowledged")
        acked = watcher.page.locator("#alarm-history tr[data-action='acknowledged']")
        await expect(acked.locator(".by")).to_have_text(monitor.username)
        await expect(acked.locator(".note")).to_have_text(note)
        await expect(row).to_have_attribute("data-state", "acknowledged")
        await expect(
            watcher.page.get_by_role("button", name="Acknowledge", exact=True)
        ).to_be_hidden()
        await watcher.screenshot("alarms")

        # the charger page lists the open alarm, and its configuration drift
        profile = await client.post(
            "/api/v1/config/profiles",
            json={
                "id": f"console-{secrets.token_hex(3)}",
                "ocpp_version": "1.6",
                "selector": {"chargers": [charge_point_id]},
                "settings": {"HeartbeatInterval": "321"},
            },
            headers=operator.headers,
        )
        assert profile.status_code == 201, profile.text
        await clearer.login(operator, f"/chargers/{charge_point_id}")
        charger_alarm = clearer.page.locator(f"#charger-alarms tr[data-id='{alarm_id}']")
        await expect(charger_alarm).to_have_attribute("data-state", "acknowledged")
        drift = clearer.page.locator("#drift tr[data-setting='HeartbeatInterval']")
        await expect(drift).to_contain_text("321")
        await expect(drift).to_contain_text(profile.json()["id"])
        await expect(clearer.page.locator("#drift-summary")).to_contain_text("Desired settings")

        # the operator clears it: asked first (cancel sends nothing), then confirmed
        await clearer.goto(f"/alarms?charger={charge_point_id}")
        await clearer.page.get_by_role("button", name=f"Details of alarm {alarm_id}").click()
        await clearer.page.get_by_label("Clearing note").fill("replaced the RCD")
        await clearer.page.locator("#clear-form").get_by_role("button", name="Clear alarm").click()
        dialog = clearer.page.get_by_role("dialog")
        await expect(dialog).to_contain_text(f"Clear alarm #{alarm_id}")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(clearer.page.locator("#alarm-detail")).to_have_attribute(
            "data-state", "acknowledged"
        )
        await clearer.page.locator("#clear-form").get_by_role("button", name="Clear alarm").click()
        await clearer.page.get_by_role("dialog").get_by_role("button", name="Clear alarm").click()
        await expect(clearer.page.locator("#alarm-detail")).to_have_attribute(
            "data-state", "cleared"
        )
        cleared = clearer.page.locator("#alarm-history tr[data-action='cleared']")
        await expect(cleared.locator(".by")).to_have_text(operator.username)

        # the monitor's page follows live: gone from the open list, in the cleared ones
        await expect(row).to_have_count(0)
        await expect(
            watcher.page.locator(f"#cleared-rows tr[data-id='{alarm_id}']")
        ).to_contain_text(operator.username)
        await expect(detail).to_have_attribute("data-state", "cleared")
        assert watcher.console_errors == [], watcher.console_errors
        assert clearer.console_errors == [], clearer.console_errors

        found = await client.get(f"/api/v1/alarms/{alarm_id}", headers=operator.headers)
        assert [(h["action"], h["by"]) for h in found.json()["history"]][-2:] == [
            ("acknowledged", monitor.username),
            ("cleared", operator.username),
        ]
    finally:
        await sim.disconnect()
        await watcher.context.close()
        await clearer.context.close()


async def test_status_page_and_who_may_see_it(
    browser: Browser,
    backoffice: Backoffice,
    new_account: NewAccount,
    cluster_node: Node,
) -> None:
    monitor = await new_account("monitor")
    driver = await new_account("driver")
    node_id = cluster_node.settings.node_id

    staff = await open_console(browser, backoffice)
    outsider = await open_console(browser, backoffice)
    try:
        await staff.login(monitor, "/status")
        node = staff.page.locator(f"#nodes tr[data-node='{node_id}']")
        await expect(node).to_have_attribute("data-alive", "yes")
        await expect(node).to_contain_text("alive")
        await expect(
            staff.page.locator("#dependencies tr[data-dependency='postgres']")
        ).to_have_attribute("data-up", "yes")
        await expect(
            staff.page.locator("#dependencies tr[data-dependency='redis']")
        ).to_have_attribute("data-up", "yes")
        await expect(staff.page.locator("#dependencies")).to_contain_text(" ms")
        await expect(staff.page.get_by_role("link", name="Status")).to_have_attribute(
            "aria-current", "page"
        )
        await staff.screenshot("status")
        assert staff.console_errors == [], staff.console_errors

        # a driver: neither page, and no link to them
        await outsider.login(driver)
        await expect(outsider.page.get_by_role("link", name="Alarms")).to_have_count(0)
        for path in ("/alarms", "/status"):
            await outsider.goto(path)
            await expect(outsider.page.get_by_role("heading", name="Not allowed")).to_be_visible()
    finally:
        await staff.context.close()
        await outsider.context.close()


async def test_narrow_screen_and_labels(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount
) -> None:
    """On a 380 px screen nothing is wider than the screen and every input has a label."""
    monitor = await new_account("monitor")
    context = await browser.new_context(viewport={"width": 380, "height": 800})
    console = Console(backoffice, context, await context.new_page())
    try:
        await console.login(monitor, "/alarms")
        for path in ("/alarms", "/alarms?state=cleared", "/status"):
            await console.goto(path)
            await expect(console.page.locator("main h1")).to_be_visible()
            await expect(console.page.locator("main tbody[aria-busy]")).to_have_count(0)
            width = await console.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 380, (path, width)
            unlabelled = await console.page.evaluate(
                """[...document.querySelectorAll('input, select, textarea')]
                     .filter((f) => f.type !== 'hidden' && !f.labels.length)
                     .map((f) => f.id || f.name)"""
            )
            assert unlabelled == [], (path, unlabelled)
        assert console.console_errors == [], console.console_errors
    finally:
        await context.close()
