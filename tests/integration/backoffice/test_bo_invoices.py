"""Invoices over REST with real JWTs (issue 13): staff list and filter them, read one with
its lines and as PDF, issue credit notes and ask for billing runs; a driver reads only their
own (`/me/invoices`; another's answers 404 like a missing one). Bad input answers 422
naming the field, and issues nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pypdf
import pytest

from csms.domain.billing import PREPAID
from csms.domain.invoices import Invoice
from tests.integration.backoffice.conftest import Account, NewAccount
from tests.integration.billing.invoice_helpers import (
    account,
    charged,
    charger,
    invoice_service,
    new_series,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Billed:
    alice: Account  # a driver with a billing account of her own
    bob: Account
    alice_account_id: int
    invoices: tuple[Invoice, ...]  # Alice's, oldest first: two per session, one period
    bobs: Invoice


@pytest.fixture(scope="module")
async def billed(pool: asyncpg.Pool, new_account: NewAccount) -> Billed:
    alice, bob = await new_account("driver"), await new_account("driver")
    cp = await charger(pool)
    service = invoice_service(pool, series=new_series(), credit_note_series=new_series("C"))
    alices = await account(pool, invoicing="session", user_id=alice.user_id, name="Alice A.")
    issued = []
    for incl, ended in (("5.00", datetime(2026, 4, 3, tzinfo=UTC)), ("2.50", datetime.now(UTC))):
        charge = await charged(pool, cp, alices, ended_at=ended, incl_vat=incl)
        issued.append((await service.issue_for_charge(charge.id)).invoice)
    bobs = await account(pool, kind=PREPAID, invoicing="session", user_id=bob.user_id)
    charge = await charged(pool, cp, bobs, ended_at=datetime.now(UTC))
    bob_invoice = (await service.issue_for_charge(charge.id)).invoice
    assert all(issued) and bob_invoice is not None
    return Billed(alice, bob, alices.id, tuple(i for i in issued if i), bob_invoice)


async def get(client: httpx.AsyncClient, url: str, who: Account, **params: Any) -> httpx.Response:
    return await client.get(url, headers=who.headers, params=params)


async def test_staff_list_invoices_filtered_and_paged(
    client: httpx.AsyncClient, accounts: dict[str, Account], billed: Billed
) -> None:
    monitor = accounts["monitor"]
    listed = await get(client, "/api/v1/invoices", monitor, account_id=billed.alice_account_id)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [i.id for i in reversed(billed.invoices)]  # newest first
    first = items[-1]
    assert first["number"] == billed.invoices[0].number_text
    assert first["kind"] == "invoice" and first["currency"] == "EUR"
    assert first["total_incl_vat"] == "5.00" and first["total_vat"] == "1.00"
    assert first["vat_totals"] == [{"rate": "25", "excl_vat": "4.00", "vat": "1.00"}]
    assert first["buyer"]["name"] == "Alice A." and first["buyer"]["account_id"] == (
        billed.alice_account_id
    )
    assert "lines" not in first

    april = await get(
        client, "/api/v1/invoices", monitor, account_id=billed.alice_account_id, period="2026-04"
    )
    assert [i["id"] for i in april.json()["items"]] == []  # issued now, not in April
    this_month = datetime.now(UTC).strftime("%Y-%m")
    now = await get(
        client, "/api/v1/invoices", monitor, account_id=billed.alice_account_id, period=this_month
    )
    assert len(now.json()["items"]) == 2
    notes = await get(
        client, "/api/v1/invoices", monitor, account_id=billed.alice_account_id, kind="credit_note"
    )
    assert notes.json()["items"] == []

    page = await get(client, "/api/v1/invoices", monitor, account_id=billed.alice_account_id,
                     limit=1)  # fmt: skip
    assert [i["id"] for i in page.json()["items"]] == [billed.invoices[1].id]
    following = await get(
        client,
        "/api/v1/invoices",
        monitor,
        account_id=billed.alice_account_id,
        limit=1,
        cursor=page.json()["next_cursor"],
    )
    assert [i["id"] for i in following.json()["items"]] == [billed.invoices[0].id]
    assert following.json()["next_cursor"] is None

    for params, field in (
        ({"period": "2026-13"}, "period"),
        ({"period": "november"}, "query.period"),
        ({"kind": "receipt"}, "query.kind"),
        ({"cursor": "nope"}, "cursor"),
        ({"account_id": "0"}, "query.account_id"),
    ):
        bad = await get(client, "/api/v1/invoices", monitor, **params)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["detail"].startswith(field), (params, bad.json())


async def test_an_invoice_with_its_lines_and_as_pdf(
    client: httpx.AsyncClient, accounts: dict[str, Account], billed: Billed
) -> None:
    invoice = billed.invoices[0]
    detail = await get(client, f"/api/v1/invoices/{invoice.id}", accounts["operator"])
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["number"] == invoice.number_text and body["series_number"] == invoice.number
    (line,) = body["lines"]
    assert line["line_no"] == 1 and line["transaction_pk"] == invoice.lines[0].transaction_pk
    assert line["energy_wh"] == "10000" and line["vat_rate"] == "25"
    assert (line["excl_vat"], line["vat"], line["incl_vat"]) == ("4.00", "1.00", "5.00")
    assert line["started_at"].startswith("2026-04-02T22:35") and line["ended_at"].startswith(
        "2026-04-03T00:00"
    )
    assert body["seller"]["name"] == "ACME Charging B.V." and body["credit_notes"] == []

    pdf = await get(client, f"/api/v1/invoices/{invoice.id}/pdf", accounts["monitor"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{invoice.number_text}.pdf"'
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert invoice.number_text in text and "Alice A." in text
    assert f"Charging session {invoice.lines[0].transaction_pk} at" in text
    assert "10.000 " in text and "Total €5.00" in text

    missing = await get(client, "/api/v1/invoices/987654321/pdf", accounts["operator"])
    assert missing.status_code == 404 and missing.json()["detail"] == "invoice 987654321 not found"


async def test_staff_find_the_invoice_of_a_session(
    client: httpx.AsyncClient, accounts: dict[str, Account], billed: Billed
) -> None:
    """The console's staff session page links the session's invoice this way."""
    for invoice in (*billed.invoices, billed.bobs):
        session = invoice.lines[0].transaction_pk
        found = await get(client, "/api/v1/invoices", accounts["monitor"], transaction_pk=session)
        assert found.status_code == 200, found.text
        assert [(i["id"], i["number"]) for i in found.json()["items"]] == [
            (invoice.id, invoice.number_text)
        ]
    none = await get(client, "/api/v1/invoices", accounts["operator"], transaction_pk=2**62)
    assert none.json()["items"] == []
    bad = await get(client, "/api/v1/invoices", accounts["monitor"], transaction_pk=0)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("query.transaction_pk")
    driver = await get(client, "/api/v1/invoices", billed.alice, transaction_pk=1)
    assert driver.status_code == 403


async def test_a_driver_reads_only_their_own_invoices(
    client: httpx.AsyncClient, billed: Billed, new_account: NewAccount
) -> None:
    mine = await get(client, "/api/v1/me/invoices", billed.alice)
    assert mine.status_code == 200
    assert [i["id"] for i in mine.json()["items"]] == [i.id for i in reversed(billed.invoices)]
    own = await get(client, f"/api/v1/invoices/{billed.invoices[0].id}/pdf", billed.alice)
    assert own.status_code == 200 and own.content.startswith(b"%PDF-")
    for url in (f"/api/v1/invoices/{billed.bobs.id}", f"/api/v1/invoices/{billed.bobs.id}/pdf"):
        foreign = await get(client, url, billed.alice)
        absent = await get(client, url.replace(str(billed.bobs.id), "987654321"), billed.alice)
        assert (foreign.status_code, absent.status_code) == (404, 404)
        assert foreign.json()["detail"].replace(str(billed.bobs.id), "X") == absent.json()[
            "detail"
        ].replace("987654321", "X")
    assert (await get(client, "/api/v1/invoices", billed.alice)).status_code == 403
    bobs = await get(client, "/api/v1/me/invoices", billed.bob)
    assert [i["id"] for i in bobs.json()["items"]] == [billed.bobs.id]
    assert bobs.json()["items"][0]["paid"] is True  # prepaid: paid from the wallet
    nobody = await new_account("driver")
    assert (await get(client, "/api/v1/me/invoices", nobody)).json() == {
        "items": [],
        "next_cursor": None,
    }


async def test_operators_issue_credit_notes(
    client: httpx.AsyncClient, accounts: dict[str, Account], billed: Billed, pool: asyncpg.Pool
) -> None:
    invoice = billed.invoices[1]  # 2.50
    url = f"/api/v1/invoices/{invoice.id}/credit-notes"
    operator = accounts["operator"]
    before = await pool.fetchval("SELECT count(*) FROM invoices WHERE credits_invoice_id = $1",
                                 invoice.id)  # fmt: skip
    for body, field in (
        ({"reason": "x", "amount": "2.51"}, "amount: 2.51 is more than what is left"),
        ({"reason": "x", "amount": "-1"}, "amount: must be positive"),
        ({"reason": "x", "amount": "0.001"}, "amount: at most 2 decimals in EUR"),
        ({"reason": "x", "amount": "ten"}, "body.amount"),
        ({"reason": "x", "lines": [2]}, "lines: "),
        ({"reason": "x", "lines": [1, 1]}, "lines: a line is given twice"),
        ({"reason": "x", "amount": "1.00", "lines": [1]}, "amount: give an amount or lines"),
        ({"reason": "   "}, "reason: 1-500 characters"),
        ({"amount": "1.00"}, "body.reason"),
        ({"reason": "x", "by": "me"}, "body.by"),
    ):
        refused = await client.post(url, json=body, headers=operator.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"].startswith(field), (body, refused.json())
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM invoices WHERE credits_invoice_id = $1", invoice.id
        )
        == before
    )

    created = await client.post(
        url, json={"reason": "charger fault", "amount": "1.00"}, headers=operator.headers
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["kind"] == "credit_note" and note["credits_invoice_id"] == invoice.id
    assert note["credits_number"] == invoice.number_text
    assert (note["reason"], note["created_by"]) == ("charger fault", operator.username)
    assert note["total_incl_vat"] == "1.00"
    assert note["lines"][0]["description"].startswith(f"Credit of {invoice.number_text}")
    rest = await client.post(url, json={"reason": "goodwill"}, headers=operator.headers)
    assert rest.status_code == 201 and rest.json()["total_incl_vat"] == "1.50"
    done = await client.post(url, json={"reason": "again"}, headers=operator.headers)
    assert done.status_code == 422 and "credited in full already" in done.json()["detail"]
    of_note = await client.post(
        f"/api/v1/invoices/{note['id']}/credit-notes", json={"reason": "x"},
        headers=operator.headers,
    )  # fmt: skip
    assert of_note.status_code == 422 and "is a credit note" in of_note.json()["detail"]
    missing = await client.post(
        "/api/v1/invoices/987654321/credit-notes", json={"reason": "x"}, headers=operator.headers
    )
    assert missing.status_code == 404

    # the invoice lists its credit notes; Alice sees them, but not who issued them
    detail = (await get(client, f"/api/v1/invoices/{invoice.id}", operator)).json()
    assert [c["id"] for c in detail["credit_notes"]] == [note["id"], rest.json()["id"]]
    hers = await get(client, "/api/v1/me/invoices", billed.alice, kind="credit_note")
    assert [(n["id"], n["created_by"]) for n in hers.json()["items"]] == [
        (rest.json()["id"], None),
        (note["id"], None),
    ]
    mine = await get(client, f"/api/v1/invoices/{note['id']}", billed.alice)
    assert mine.status_code == 200 and mine.json()["created_by"] is None
    assert mine.json()["reason"] == "charger fault"
    refused = await client.post(url, json={"reason": "x"}, headers=accounts["monitor"].headers)
    assert refused.status_code == 403


async def test_operators_ask_for_billing_runs(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"]
    url = "/api/v1/billing/runs"
    try:
        asked = await client.post(url, json={"period": "2026-05"}, headers=operator.headers)
        assert asked.status_code == 202, asked.text
        body = asked.json()
        assert body["period"] == "2026-05" and body["queued"] is True
        assert body["period_start"].startswith("2026-05-01T00:00:00")
        assert body["period_end"].startswith("2026-06-01T00:00:00")
        assert isinstance(body["accounts"], int)
        # asked again while it waits for a worker: one run
        again = await client.post(url, json={"period": "2026-05"}, headers=operator.headers)
        assert again.status_code == 202 and again.json()["queued"] is False
    finally:
        await pool.execute("DELETE FROM pgqueuer WHERE dedupe_key = 'billing_run:2026-05'")
    this_month = datetime.now(UTC).strftime("%Y-%m")
    for body, field in (
        ({"period": this_month}, f"period: {this_month} has not ended"),
        ({"period": "2026-13"}, "period: a month as YYYY-MM"),
        ({"period": "Nov 2026"}, "body.period"),
        ({}, "body.period"),
        ({"period": "2026-05", "dry_run": True}, "body.dry_run"),
    ):
        refused = await client.post(url, json=body, headers=operator.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["detail"].startswith(field), (body, refused.json())
    for role in ("monitor", "driver"):
        response = await client.post(
            url, json={"period": "2026-05"}, headers=accounts[role].headers
        )
        assert response.status_code == 403
