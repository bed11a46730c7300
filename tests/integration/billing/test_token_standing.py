"""Token standing at Authorize over a real WebSocket, both versions (issue 13: "a blocked
account's tokens are refused at Authorize with a clear status").

With billing enabled a token that would be Accepted is judged by the account it bills to:
blocked or closed answers Blocked; a prepaid wallet below its hold amount (its minimum)
answers 2.0.1 NoCredit (C01.FR.07: the status gives the reason of a rejection;
AuthorizationStatusEnumType NoCredit) and 1.6 Blocked (1.6 7.2 AuthorizationStatus has no
NoCredit; Authorize.conf and StartTransaction.conf carry it in idTagInfo, 7.27). A
session's hold is out of the wallet, so a second session needs a second hold's worth.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from csms.domain import ledger
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings, WorkerSettings
from csms.store import billing
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.integration.billing.test_settlement import priced_charger
from tests.integration.conftest import RegisterCharger, Registered, RegisterToken
from tests.timeouts import TIMEOUT

VERSIONS = ["1.6", "2.0.1"]
NO_CREDIT = {"1.6": "Blocked", "2.0.1": "NoCredit"}


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[Node]:
    settings = NodeSettings(host="127.0.0.1", port=0, node_id=f"stand-{secrets.token_hex(3)}")
    assert settings.billing_enabled  # the default
    async with running_node(settings, database_url) as running:
        yield running


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1)
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


async def account_for(
    pool: asyncpg.Pool,
    tag: str,
    *,
    kind: str = "prepaid",
    wallet: str = "0",
    hold: str = "0",
    status: str = "open",
) -> int:
    account = await billing.add_account(
        pool, kind=kind, currency="EUR", name="Driver", hold_amount=Decimal(hold), status=status
    )
    await billing.link_token(pool, tag, account.id)
    if Decimal(wallet):
        await topup(pool, account.id, Decimal(wallet))
    return account.id


async def topup(pool: asyncpg.Pool, account_id: int, amount: Decimal) -> None:
    entry = ledger.Entry(
        ledger.TOPUP,
        f"test-topup:{account_id}:{secrets.token_hex(4)}",
        (
            ledger.debit(ledger.clearing("manual"), "EUR", amount),
            ledger.credit(ledger.wallet(account_id), "EUR", amount),
        ),
        account_id=account_id,
    )
    assert await billing.post_one(pool, entry) is not None


async def connected(node: Node, charger: Registered, version: str) -> Station:
    station = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charger.charge_point_id,
            version=version,
            password=charger.password,
            call_timeout=TIMEOUT,
        )
    )
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    return station


def status_of(answer: dict[str, Any] | None) -> str:
    assert answer is not None
    info = answer.get("idTagInfo") or answer.get("idTokenInfo")
    assert info is not None, answer
    return str(info["status"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_authorize_answers_the_accounts_standing(
    node: Node,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    funded, low, empty, blocked, closed, postpaid, unbilled = [
        await register_token() for _ in range(7)
    ]
    await account_for(pool, funded, wallet="25.00", hold="20.00")
    await account_for(pool, low, wallet="19.99", hold="20.00")
    await account_for(pool, empty)
    await account_for(pool, blocked, wallet="50", status="blocked")
    await account_for(pool, closed, status="closed")
    await account_for(pool, postpaid, kind="postpaid")
    station = await connected(node, await register_charger(), version)
    try:
        answers = {
            tag: status_of(await station.authorize(tag))
            for tag in (funded, low, empty, blocked, closed, postpaid, unbilled)
        }
    finally:
        await station.disconnect()
    assert answers == {
        funded: "Accepted",
        low: NO_CREDIT[version],
        empty: NO_CREDIT[version],
        blocked: "Blocked",
        closed: "Blocked",
        postpaid: "Accepted",
        unbilled: "Accepted",  # bills to no account: settlement puts it in review
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_running_sessions_hold_counts_and_its_settlement_gives_it_back(
    node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    """Wallet 25.00, hold 20.00: the first session holds 20.00, so the token has 5.00 left
    and no credit for a second one until the first is settled (its hold released, its
    cost charged: 1 kWh x 0.40 + 25 % VAT = 0.50, so 24.50 left)."""
    tag = await register_token(allow_concurrent=True)
    account_id = await account_for(pool, tag, wallet="25.00", hold="20.00")
    account = await billing.get_account(pool, account_id)
    assert account is not None
    charger = await register_charger()
    await priced_charger(pool, charger.charge_point_id)
    station = await connected(node, charger, version)
    try:
        assert status_of(await station.authorize(tag)) == "Accepted"
        tx = await station.start_transaction(1, tag, 1000)
        assert status_of(tx.start_response) == "Accepted"
        held = await eventually(lambda: _held(pool, account))
        assert held == {"wallet": Decimal("5.00"), "held": Decimal("20.00")}
        assert status_of(await station.authorize(tag)) == NO_CREDIT[version]
        # the refused token may still stop its own session: stopping never waits on money
        stopped = await station.stop_transaction(tx, "Local", meter_stop_wh=2000)
        if version == "1.6":
            assert status_of(stopped) == "Accepted"
        # settled: charged, its hold released
        released = await eventually(lambda: _released(pool, account))
        assert released == {"wallet": Decimal("24.50"), "held": Decimal("0")}
        assert status_of(await station.authorize(tag)) == "Accepted"
    finally:
        await station.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_start_without_credit_is_refused_in_its_answer(
    node: Node,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    """1.6 StartTransaction.conf idTagInfo / 2.0.1 TransactionEventResponse idTokenInfo
    (E01.FR.11 the CSMS verifies the token of a started transaction): the session is
    recorded with the decision, as with any refused token."""
    tag = await register_token()
    await account_for(pool, tag, wallet="1.00", hold="20.00")
    charger = await register_charger()
    station = await connected(node, charger, version)
    try:
        tx = await station.start_transaction(1, tag, 1000)
        assert status_of(tx.start_response) == NO_CREDIT[version]
    finally:
        await station.disconnect()
    stored = await pool.fetchval(
        "SELECT authorization_status FROM transactions WHERE charge_point_id = $1",
        charger.charge_point_id,
    )
    assert stored == "NoCredit"


@pytest.mark.parametrize("version", VERSIONS)
async def test_billing_disabled_does_not_look_at_accounts(
    database_url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    version: str,
) -> None:
    tag = await register_token()
    await account_for(pool, tag, status="blocked")
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"nobill-{secrets.token_hex(3)}",
        billing_enabled=False,
    )
    async with running_node(settings, database_url) as node:
        station = await connected(node, await register_charger(), version)
        try:
            assert status_of(await station.authorize(tag)) == "Accepted"
        finally:
            await station.disconnect()


async def _held(pool: asyncpg.Pool, account: Any) -> dict[str, Decimal] | None:
    balances = await billing.balances(pool, account)
    if balances["held"] == 0:
        return None
    return {"wallet": balances["wallet"], "held": balances["held"]}


async def _released(pool: asyncpg.Pool, account: Any) -> dict[str, Decimal] | None:
    balances = await billing.balances(pool, account)
    released = await pool.fetchval(
        "SELECT count(*) FROM ledger_entries WHERE account_id = $1 AND kind = 'release'",
        account.id,
    )
    if not released:
        return None
    return {"wallet": balances["wallet"], "held": balances["held"]}


async def eventually(check: Any) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found
