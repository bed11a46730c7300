"""Payments end to end: the fake card processor on port 0, a backoffice configured to use it
(its webhooks come back to the backoffice), a worker running PgQueuer, drivers and
operators logged in with real JWTs, accounts made with ``csms.store.billing``."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from csms.domain import ledger
from csms.domain.billing import Account as BillingAccount
from csms.settings import BackofficeSettings, WorkerSettings
from csms.store import billing, users
from csms.worker.runtime import Worker, running_worker
from tests.fakes.card_processor import FakeCardProcessor, running_card_processor
from tests.integration.backoffice.conftest import (
    JWT_SECRET,
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    Account,
    Backoffice,
    login,
    serving,
)
from tests.timeouts import TIMEOUT

API_KEY = "sk_test_" + "k" * 24
WEBHOOK_SECRET = "whsec_" + "w" * 24
WEBHOOK_PATH = "/api/v1/payments/webhooks/card"
# fast enough for tests: a declined receivable is retried after 0.3 s, then 0.6 s
CARD = {
    "card_webhook_secret": WEBHOOK_SECRET,
    "card_api_key": API_KEY,
    "payment_max_attempts": 3,
    "payment_retry_delay": 0.3,
    "payment_retry_max_delay": 5.0,
    "payment_check_after": 1.0,
}


@pytest.fixture(scope="package")
async def card() -> AsyncIterator[FakeCardProcessor]:
    async with running_card_processor(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET) as fake:
        yield fake


@pytest.fixture(scope="package")
async def backoffice(
    card: FakeCardProcessor, database_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Backoffice]:
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"{redis_prefix}payments:",
        jwt_secret=JWT_SECRET,
        login_max_attempts_per_ip=100_000,
        max_page_size=50,
        db_pool_min=1,
        db_pool_max=6,
        card_api_url=card.url,
        **CARD,
    )
    async with serving(settings) as backoffice:
        card.webhook_url = backoffice.url + WEBHOOK_PATH
        yield backoffice


@pytest.fixture(scope="module")
async def worker(card: FakeCardProcessor, database_url: str) -> AsyncIterator[Worker]:
    """A worker for the tests of one module: stopped after them (it would take the jobs of
    tests elsewhere)."""
    settings = WorkerSettings(
        job_poll_interval=0.1,
        job_retry_delay=0.1,
        db_pool_min=1,
        db_pool_max=4,
        card_api_url=card.url,
        **CARD,
    )
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


@pytest.fixture(scope="package")
async def client(backoffice: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
        yield client


NewUser = Callable[[str], Awaitable[Account]]


@pytest.fixture(scope="package")
def new_user(client: httpx.AsyncClient, pool: asyncpg.Pool) -> NewUser:
    async def make(role: str) -> Account:
        username = f"pay-{role}-{secrets.token_hex(4)}"
        user = await users.add_user(pool, username, password_hash=USER_PASSWORD_HASH, role=role)
        response = await login(client, username, USER_PASSWORD)
        assert response.status_code == 200, response.text
        body = response.json()
        return Account(user.id, username, role, body["access_token"], body["refresh_token"])

    return make


@pytest.fixture(scope="package")
async def operator(new_user: NewUser) -> Account:
    return await new_user("operator")


@dataclass(frozen=True)
class Driver:
    user: Account
    account: BillingAccount

    @property
    def headers(self) -> dict[str, str]:
        return self.user.headers


NewDriver = Callable[..., Awaitable[Driver]]


@pytest.fixture(scope="package")
def new_driver(new_user: NewUser, pool: asyncpg.Pool) -> NewDriver:
    """A driver logged in, with a billing account of their own."""

    async def make(kind: str = "prepaid", **fields: Any) -> Driver:
        user = await new_user("driver")
        account = await billing.add_account(
            pool, kind=kind, currency="EUR", name=user.username, user_id=user.user_id, **fields
        )
        return Driver(user, account)

    return make


async def owe(pool: asyncpg.Pool, account_id: int, amount: str) -> None:
    """A postpaid account owes ``amount`` (as a settled session would leave it)."""
    value = Decimal(amount)
    entry = ledger.Entry(
        ledger.CHARGE,
        f"test-receivable:{account_id}:{secrets.token_hex(4)}",
        (
            ledger.debit(ledger.receivable(account_id), "EUR", value),
            ledger.credit(ledger.REVENUE, "EUR", value),
        ),
        account_id=account_id,
    )
    assert await billing.post_one(pool, entry) is not None


async def eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


async def entries_of(pool: asyncpg.Pool, payment_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT kind FROM ledger_entries WHERE payment_id = $1 ORDER BY id", payment_id
    )
    return [r["kind"] for r in rows]
