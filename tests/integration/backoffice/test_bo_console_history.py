"""History on the console's pages in a real headless Chromium against a real backoffice: the
charger page's Firmware section lists the charger's update in a firmware campaign (created
through the API; no worker runs here, so its failure is written into the campaign's store
the way the worker records it) and the firmware statuses a simulated charger reported over
a real WebSocket; a staff session page links the invoice that bills the session."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from csms.domain.clock import utc_now
from csms.node.server import Node
from tests.integration.backoffice.conftest import (
    Backoffice,
    NewAccount,
    register_charger,
    station,
)
from tests.integration.backoffice.console import browser, open_console
from tests.integration.billing.invoice_helpers import (
    account,
    charged,
    charger,
    invoice_service,
    new_series,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser

expect = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed: pip install -e '.[dev]'"
).expect

__all__ = ["browser"]  # the fixture


async def test_charger_page_lists_firmware_updates_and_statuses(
    browser: Browser,
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    new_account: NewAccount,
    cluster_node: Node,
    pool: asyncpg.Pool,
) -> None:
    operator = await new_account("operator")
    monitor = await new_account("monitor")
    charge_point_id, password = await register_charger(client, operator)
    version = f"7.{secrets.randbelow(1000)}.1"
    image = f"CSMS-SIM-FIRMWARE {version}\n".encode() + secrets.token_bytes(300)
    uploaded = await client.post(
        "/api/v1/firmware/artifacts",
        headers=operator.headers,
        data={"version": version},
        files={"file": (f"fw-{version}.bin", image, "application/octet-stream")},
    )
    assert uploaded.status_code == 201, uploaded.text
    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={
            "artifact_id": uploaded.json()["id"],
            "target": {"chargers": [charge_point_id]},
            "name": "history test",
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    await pool.execute(
        "UPDATE firmware_targets SET state = 'failed', attempts = 3,"
        " last_status = 'InstallationFailed', failure = 'install failed (injected)',"
        " finished_at = now(), updated_at = now() WHERE campaign_id = $1",
        campaign_id,
    )
    sim = station(cluster_node, charge_point_id, password)
    await sim.connect()
    try:
        await sim.boot()
        for status in ("Downloading", "InstallationFailed"):  # 1.6 FirmwareStatusNotification
            await sim.call("FirmwareStatusNotification", {"status": status})
    finally:
        await sim.disconnect()

    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(monitor, f"/chargers/{charge_point_id}")
        section = page.get_by_role("region", name="Firmware")
        await expect(section.locator("#firmware-summary")).to_contain_text(
            "last reported status: InstallationFailed"
        )
        row = section.locator(f"#firmware-updates tr[data-campaign='{campaign_id}']")
        await expect(row).to_contain_text(version)
        await expect(row).to_contain_text("failed")
        await expect(row).to_contain_text("install failed (injected)")
        await expect(row.locator("td").nth(4)).to_have_text("3")
        link = row.get_by_role("link", name=f"#{campaign_id} history test")
        await expect(link).to_have_attribute("href", f"/firmware/{campaign_id}")
        statuses = section.locator("#firmware-statuses tr th")
        await expect(statuses).to_have_text(["InstallationFailed", "Downloading"])  # newest first
        await section.scroll_into_view_if_needed()
        await console.screenshot("charger-firmware")
        await link.click()
        await expect(page).to_have_url(f"{backoffice.url}/firmware/{campaign_id}")
        assert console.console_errors == []
    finally:
        await console.context.close()


async def test_staff_session_page_links_its_invoice(
    browser: Browser, backoffice: Backoffice, new_account: NewAccount, pool: asyncpg.Pool
) -> None:
    monitor = await new_account("monitor")
    cp = await charger(pool)
    payer = await account(pool, invoicing="session", name="History H.")
    invoiced = await charged(pool, cp, payer, ended_at=utc_now())
    issued = await invoice_service(pool, series=new_series()).issue_for_charge(invoiced.id)
    assert issued.invoice is not None
    pending = await charged(pool, cp, await account(pool, invoicing="period"), ended_at=utc_now())

    console = await open_console(browser, backoffice)
    page = console.page
    try:
        await console.login(monitor, f"/sessions/{invoiced.transaction_pk}")
        link = page.locator("#invoice").get_by_role(
            "link", name=f"Invoice {issued.invoice.number_text} (PDF)"
        )
        await expect(link).to_have_attribute("href", f"/api/v1/invoices/{issued.invoice.id}/pdf")
        async with page.expect_download() as download:
            await link.click()
        assert (await download.value).suggested_filename == f"{issued.invoice.number_text}.pdf"

        await page.goto(f"{backoffice.url}/sessions/{pending.transaction_pk}")
        await expect(page.locator("#invoice")).to_have_text("Not invoiced yet.")
        assert console.console_errors == []
    finally:
        await console.context.close()
