"""Browser fixtures of the console tests: the Debian chromium driven by Playwright.

No browser is downloaded: the tests launch ``/usr/bin/chromium`` (Debian's ``chromium``
package) and are skipped, saying why, when it or the ``playwright`` package is missing.
Screenshots go to docs/console/ (docs/console.md shows them) and to the test artifacts
directory (``CSMS_TEST_ARTIFACTS``, default ``test-artifacts/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.backoffice.conftest import USER_PASSWORD, Account, Backoffice
from tests.timeouts import TIMEOUT

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

CHROMIUM = Path(os.environ.get("CSMS_TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "console"
ARTIFACTS = Path(os.environ.get("CSMS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "console"
WAIT_MS = TIMEOUT * 1000


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium (browser tests)")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    # assertions wait as long as actions do (5 s by default: too short on a loaded machine)
    expect.set_options(timeout=WAIT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


class Console:
    """A browser context (its own cookies) on the console of ``backoffice``."""

    def __init__(self, backoffice: Backoffice, context: BrowserContext, page: Page) -> None:
        self.url = backoffice.url
        self.context = context
        self.page = page
        self.console_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    async def login(self, account: Account, next_path: str = "/") -> None:
        await self.page.goto(f"{self.url}/login?next={next_path}")
        await self.page.get_by_label("Username").fill(account.username)
        await self.page.get_by_label("Password").fill(USER_PASSWORD)
        await self.page.get_by_role("button", name="Log in").click()
        await self.page.wait_for_url(lambda url: "/login" not in url)

    async def goto(self, path: str) -> None:
        await self.page.goto(f"{self.url}{path}")

    async def screenshot(self, name: str) -> Path:
        """Save the page as docs/console/NAME.png and copy it to the artifacts."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return path

    async def cookie(self, name: str) -> dict[str, Any] | None:
        for cookie in await self.context.cookies():
            if cookie["name"] == name:
                return dict(cookie)
        return None


async def open_console(browser: Browser, backoffice: Backoffice) -> Console:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    return Console(backoffice, context, page)
