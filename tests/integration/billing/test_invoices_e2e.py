"""Invoices end to end (issue 13), as operators and drivers meet them: sessions driven by
simulated stations over real WebSockets (a 1.6 charger delivering October's session late, as
one that was offline does, and a 2.0.1 session now), settled by a real ``csms worker``
(PgQueuer) that also issues the per-session invoice; the October billing run asked over REST
with a real JWT and carried out by the worker, once however often it is asked; the driver
downloads the PDF of their invoice; an operator credits a line."""

from __future__ import annotations

import asyncio
import io
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pypdf
import pytest

from csms.domain import ledger
from csms.domain.billing import POSTPAID, PREPAID
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.passwords import hash_password
from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings
from csms.store import billing, users
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Backoffice, login, serving
from tests.integration.billing.test_settlement import priced_charger
from tests.integration.conftest import RegisterCharger, RegisterToken
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

SELLER = {
    "invoice_seller_name": "ACME Charging B.V.",
    "invoice_seller_address": "Main street 1\\n1000 AA Amsterdam",
    "invoice_seller_vat_id": "NL123456789B01",
}
PASSWORD = "e2e-invoices-password"


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[Node]:
    settings = NodeSettings(host="127.0.0.1", port=0, node_id=f"inv-{secrets.token_hex(3)}")
    async with running_node(settings, database_url) as running:
        yield running


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1, **SELLER)  # type: ignore[arg-type]
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


@pytest.fixture
async def backoffice(
    database_url: str, redis_url: str, redis_prefix: str
) -> AsyncIterator[Backoffice]:
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret="invoices-e2e-jwt-secret-" + "k" * 40,
        db_pool_min=1,
        db_pool_max=4,
        **SELLER,  # type: ignore[arg-type]
    )
    async with serving(settings) as running:
        yield running


@pytest.fixture
async def client(backoffice: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
        yield client


Login = Callable[[str], Awaitable[tuple[int, dict[str, str]]]]


@pytest.fixture
def user(client: httpx.AsyncClient, pool: asyncpg.Pool) -> Login:
    """A new user of ``role``, logged in: (user id, Authorization header)."""
    password_hash = hash_password(PASSWORD)

    async def make(role: str) -> tuple[int, dict[str, str]]:
        name = f"{role}-{secrets.token_hex(4)}"
        created = await users.add_user(pool, name, password_hash=password_hash, role=role)
        response = await login(client, name, PASSWORD)
        assert response.status_code == 200, response.text
        return created.id, {"Authorization": f"Bearer {response.json()['access_token']}"}

    return make


async def eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


async def late_october_session(
    node: Node, pool: asyncpg.Pool, cp: str, password: str | None, tag: str
) -> int:
    """A 1.6 session of 15 October delivered now (the charger was offline): 10 kWh. Its pk."""
    station = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=cp,
            version="1.6",
            password=password,
            call_timeout=TIMEOUT,
        )
    )
    await station.connect()
    try:
        assert (await station.boot())["status"] == "Accepted"
        started = await station.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": tag,
                "meterStart": 1000,
                "timestamp": "2026-10-15T10:00:00.000Z",
            },
        )
        assert started["idTagInfo"]["status"] == "Accepted"
        transaction_id = started["transactionId"]
        await station.call(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": 11_000,
                "timestamp": "2026-10-15T11:25:00.000Z",
                "reason": "Local",
                "idTag": tag,
            },
        )
    finally:
        await station.disconnect()
    pk: int = await pool.fetchval(
        "SELECT id FROM transactions WHERE charge_point_id = $1 AND transaction_id = $2",
        cp,
        str(transaction_id),
    )
    return pk


async def session_now(node: Node, cp: str, password: str | None, tag: str) -> None:
    """A 2.0.1 session now: 2 kWh."""
    station = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=cp,
            version="2.0.1",
            password=password,
            call_timeout=TIMEOUT,
        )
    )
    await station.connect()
    try:
        await station.boot()
        await station.authorize(tag)
        tx = await station.start_transaction(1, tag, 5000)
        await station.send_meter_values(tx, 6000)
        await station.stop_transaction(tx, "Local", meter_stop_wh=7000)
    finally:
        await station.disconnect()


def pdf_text(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)


async def test_sessions_are_invoiced_per_session_and_per_month_and_read_as_pdf(
    node: Node,
    worker: Worker,
    client: httpx.AsyncClient,
    user: Login,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
) -> None:
    charger = await register_charger()
    await priced_charger(pool, charger.charge_point_id)  # 0.40 / kWh + 25 % VAT
    _, operator = await user("operator")
    alice_id, alice = await user("driver")
    _, bob = await user("driver")
    fleet = await billing.add_account(
        pool, kind=POSTPAID, currency="EUR", name="Fleet Ltd", address="Dock 2", user_id=alice_id
    )
    wallet = await billing.add_account(
        pool, kind=PREPAID, currency="EUR", name="Pay as you go", invoicing="session"
    )
    fleet_tag, wallet_tag = await register_token(), await register_token()
    await billing.link_token(pool, fleet_tag, fleet.id)
    await billing.link_token(pool, wallet_tag, wallet.id)
    topup = ledger.Entry(
        ledger.TOPUP,
        f"e2e-topup:{wallet.id}",
        (
            ledger.debit(ledger.clearing("manual"), "EUR", Decimal("20.00")),
            ledger.credit(ledger.wallet(wallet.id), "EUR", Decimal("20.00")),
        ),
        account_id=wallet.id,
    )
    assert await billing.post_one(pool, topup) is not None

    # a per-session account: the worker settles the session and issues its invoice
    await session_now(node, charger.charge_point_id, charger.password, wallet_tag)

    async def wallet_invoices() -> list[dict[str, Any]]:
        listed = await client.get(
            "/api/v1/invoices", params={"account_id": wallet.id}, headers=operator
        )
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    (session_invoice,) = await eventually(wallet_invoices)
    assert session_invoice["total_incl_vat"] == "1.00" and session_invoice["paid"] is True
    assert session_invoice["period_start"] is None
    assert session_invoice["seller"]["name"] == "ACME Charging B.V."
    assert session_invoice["seller"]["address"] == "Main street 1\n1000 AA Amsterdam"

    # a postpaid account invoiced per month: October's session, delivered late
    pk = await late_october_session(
        node, pool, charger.charge_point_id, charger.password, fleet_tag
    )
    charge = await eventually(lambda: billing.charge_of(pool, pk))
    assert charge.incl_vat == Decimal("5.00") and charge.invoice_id is None

    asked = await client.post("/api/v1/billing/runs", json={"period": "2026-10"}, headers=operator)
    assert asked.status_code == 202, asked.text
    assert asked.json()["period"] == "2026-10" and asked.json()["accounts"] >= 1

    async def october() -> list[dict[str, Any]]:
        listed = await client.get(
            "/api/v1/invoices",
            params={"account_id": fleet.id, "period": "2026-10"},
            headers=operator,
        )
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    (listed,) = await eventually(october)
    assert listed["period_start"].startswith("2026-10-01T00:00:00")
    assert listed["buyer"] == {
        "name": "Fleet Ltd",
        "address": "Dock 2",
        "country": "",
        "vat_id": "",
        "email": "",
        "account_id": fleet.id,
    }

    # the driver finds it among their own, reads it, downloads its PDF
    mine = await client.get("/api/v1/me/invoices", headers=alice)
    assert [i["id"] for i in mine.json()["items"]] == [listed["id"]]
    detail = (await client.get(f"/api/v1/invoices/{listed['id']}", headers=alice)).json()
    (line,) = detail["lines"]
    assert line["transaction_pk"] == pk and line["charge_id"] == charge.id
    assert line["started_at"].startswith("2026-10-15T10:00:00")
    assert line["ended_at"].startswith("2026-10-15T11:25:00")
    assert line["energy_wh"] == "10000" and line["tariff"].endswith(" v1")
    assert (line["vat_rate"], line["excl_vat"], line["vat"], line["incl_vat"]) == (
        "25",
        "4.00",
        "1.00",
        "5.00",
    )
    assert (detail["total_excl_vat"], detail["total_vat"], detail["total_incl_vat"]) == (
        "4.00",
        "1.00",
        "5.00",
    )
    pdf = await client.get(f"/api/v1/invoices/{listed['id']}/pdf", headers=alice)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert listed["number"] in text and "ACME Charging B.V." in text and "Fleet Ltd" in text
    assert f"Charging session {pk} at {charger.charge_point_id}, connector 1" in text
    assert "2026-10-15 10:00 - 11:25 (1 h 25 min)" in text
    assert f"10.000 {line['tariff']} 25 4.00 1.00 5.00" in text
    assert "Period Oct 1, 2026 - Oct 31, 2026" in text
    assert "Total €5.00" in text
    # another driver cannot tell it exists
    foreign = await client.get(f"/api/v1/invoices/{listed['id']}/pdf", headers=bob)
    assert foreign.status_code == 404

    # asked again: the worker runs it again and issues nothing new
    again = await client.post("/api/v1/billing/runs", json={"period": "2026-10"}, headers=operator)
    assert again.status_code == 202, again.text

    async def run_done() -> bool:
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE dedupe_key = 'billing_run:2026-10'"
        )
        return waiting == 0

    await eventually(run_done)
    assert [i["id"] for i in await october()] == [listed["id"]]

    # an operator credits its line: off what the fleet owes, and the driver sees it
    credited = await client.post(
        f"/api/v1/invoices/{listed['id']}/credit-notes",
        json={"reason": "the session was a test", "lines": [1]},
        headers=operator,
    )
    assert credited.status_code == 201, credited.text
    assert credited.json()["total_incl_vat"] == "5.00"
    assert (await billing.balances(pool, fleet))["receivable"] == Decimal("0")
    kinds = [
        i["kind"] for i in (await client.get("/api/v1/me/invoices", headers=alice)).json()["items"]
    ]
    assert kinds == ["credit_note", "invoice"]
    note_pdf = await client.get(f"/api/v1/invoices/{credited.json()['id']}/pdf", headers=alice)
    assert "the session was a test" in pdf_text(note_pdf.content)
