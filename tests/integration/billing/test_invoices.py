"""Invoices against real PostgreSQL (issue 13): gap-free numbers per series under concurrent
issue, a failed issue leaves no gap, a charge is invoiced once, per-period runs are
idempotent and move no money, credit notes never credit more than what is left and post
their ledger entry with who and why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from csms.domain import ledger
from csms.domain.billing import INVOICE_PER_SESSION, PREPAID, Account
from csms.domain.invoices import ChargedSession, Draft, invoice_of_charges
from csms.errors import InvalidInput, NotFound
from csms.store import billing
from csms.store.invoices import PostgresInvoices, take_number
from csms.store.pool import create_pool
from tests.integration.billing.invoice_helpers import (
    SELLER,
    account,
    charged,
    charger,
    invoice_service,
    new_series,
)

pytestmark = pytest.mark.integration
D = Decimal


@pytest.fixture
async def wide_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Enough connections for 50 issues to be in flight at once."""
    pool = await create_pool(database_url, min_size=2, max_size=30)
    yield pool
    await pool.close()


async def numbers(pool: asyncpg.Pool, series: str) -> list[int]:
    rows = await pool.fetch("SELECT number FROM invoices WHERE series = $1 ORDER BY 1", series)
    return [r["number"] for r in rows]


async def test_fifty_concurrent_issues_are_numbered_1_to_50(wide_pool: asyncpg.Pool) -> None:
    cp = await charger(wide_pool)
    ended = datetime.now(UTC) - timedelta(hours=1)
    charges = []
    for _ in range(50):
        payer = await account(wide_pool, invoicing=INVOICE_PER_SESSION)
        charges.append(await charged(wide_pool, cp, payer, ended_at=ended))
    series = new_series()
    service = invoice_service(wide_pool, series=series)

    outcomes = await asyncio.gather(*(service.issue_for_charge(c.id) for c in charges))

    assert {o.outcome for o in outcomes} == {"issued"}
    issued = [o.invoice for o in outcomes if o.invoice is not None]
    assert sorted(i.number for i in issued) == list(range(1, 51))  # no gap, no duplicate
    assert await numbers(wide_pool, series) == list(range(1, 51))
    assert (
        await wide_pool.fetchval("SELECT next_number FROM invoice_series WHERE series = $1", series)
        == 51
    )
    for charge, invoice in zip(charges, issued, strict=True):
        assert invoice.account_id == charge.account_id
        assert [line.charge_id for line in invoice.lines] == [charge.id]
        assert invoice.total_incl_vat == charge.incl_vat
        assert invoice.number_text == f"{series}-{invoice.number:06d}"
    invoiced = await wide_pool.fetch(
        "SELECT invoice_id FROM charges WHERE id = ANY($1::bigint[])", [c.id for c in charges]
    )
    assert sorted(r["invoice_id"] for r in invoiced) == sorted(i.id for i in issued)


async def test_a_failure_after_taking_a_number_leaves_no_gap(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    ended = datetime.now(UTC) - timedelta(hours=1)
    payer = await account(pool, invoicing=INVOICE_PER_SESSION)
    first = await charged(pool, cp, payer, ended_at=ended)
    second = await charged(pool, cp, payer, ended_at=ended)
    series = new_series()
    service = invoice_service(pool, series=series)
    assert (await service.issue_for_charge(first.id)).outcome == "issued"

    def broken(account: Account, sessions: list[ChargedSession]) -> Draft:
        draft = invoice_of_charges(sessions, account=account, seller=SELLER, issued_at=ended)
        (line,) = draft.lines
        # a line naming a charge that does not exist: its insert fails after the number
        return replace(draft, lines=(replace(line, charge_id=2**62),))

    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await PostgresInvoices(pool).issue_invoice(
            series=series, account_id=payer.id, compose=broken, charge_ids=[second.id]
        )
    assert await numbers(pool, series) == [1]
    assert (await billing.list_charges(pool, account_id=payer.id, uninvoiced=True))[0].id == (
        second.id
    )

    again = await service.issue_for_charge(second.id)
    assert again.outcome == "issued" and again.invoice is not None
    assert again.invoice.number == 2
    assert await numbers(pool, series) == [1, 2]


async def test_a_rolled_back_number_is_given_to_the_next_issue(pool: asyncpg.Pool) -> None:
    series = new_series()
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        assert await take_number(connection, series) == 1
        await transaction.rollback()
    async with pool.acquire() as connection, connection.transaction():
        assert await take_number(connection, series) == 1
        assert await take_number(connection, series) == 2


async def test_a_charge_issued_concurrently_is_invoiced_once(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    payer = await account(pool, invoicing=INVOICE_PER_SESSION)
    charge = await charged(pool, cp, payer, ended_at=datetime.now(UTC) - timedelta(hours=1))
    series = new_series()
    service = invoice_service(pool, series=series)

    outcomes = await asyncio.gather(*(service.issue_for_charge(charge.id) for _ in range(6)))

    assert sorted(o.outcome for o in outcomes) == ["issued"] + ["nothing"] * 5
    assert await numbers(pool, series) == [1]
    assert (await service.issue_for_charge(charge.id)).outcome == "nothing"
    # an account invoiced per period is not invoiced per session
    periodic = await account(pool)
    other = await charged(pool, cp, periodic, ended_at=datetime.now(UTC) - timedelta(hours=1))
    assert (await service.issue_for_charge(other.id)).outcome == "nothing"
    assert (await service.issue_for_charge(2**62)).outcome == "nothing"


async def test_a_billing_run_invoices_each_account_once_and_moves_no_money(
    pool: asyncpg.Pool,
) -> None:
    cp = await charger(pool)
    july = datetime(2026, 7, 10, 12, tzinfo=UTC)
    fleet = await account(pool, name="Fleet Ltd", address="Dock 2", vat_id="GB999")
    wallet = await account(pool, kind=PREPAID, name="Prepaid Driver")
    per_session = await account(pool, invoicing=INVOICE_PER_SESSION)
    idle = await account(pool)
    fleet_july = [
        await charged(pool, cp, fleet, ended_at=july, incl_vat="5.00"),
        await charged(pool, cp, fleet, ended_at=july + timedelta(days=20), incl_vat="2.42",
                      vat_rate="21"),
    ]  # fmt: skip
    fleet_august = await charged(pool, cp, fleet, ended_at=datetime(2026, 8, 2, tzinfo=UTC))
    wallet_july = await charged(pool, cp, wallet, ended_at=july, incl_vat="1.25")
    await charged(pool, cp, per_session, ended_at=july)
    mine = {fleet.id, wallet.id, per_session.id, idle.id}
    entries_before = await pool.fetchval("SELECT count(*) FROM ledger_entries")
    service = invoice_service(pool, series=new_series())

    steps: list[tuple[int, str]] = []
    summary = await service.run(
        service.ended_period("2026-07"), progress=lambda s: steps.append((s.account_id, s.outcome))
    )

    ours = {i.account_id: i for i in summary.issued if i.account_id in mine}
    assert set(ours) == {fleet.id, wallet.id}  # per-session and idle accounts: none
    assert (fleet.id, "issued") in steps and (wallet.id, "issued") in steps
    invoice = await service.invoice(ours[fleet.id].id)
    assert [line.charge_id for line in invoice.lines] == [c.id for c in fleet_july]
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        D("6.00"),
        D("1.42"),
        D("7.42"),
    )
    assert [(v.rate, v.excl_vat, v.vat) for v in invoice.vat_totals] == [
        (D("21"), D("2.00"), D("0.42")),
        (D("25"), D("4.00"), D("1.00")),
    ]
    assert invoice.period_start == datetime(2026, 7, 1, tzinfo=UTC)
    assert invoice.period_end == datetime(2026, 8, 1, tzinfo=UTC)
    assert invoice.buyer.name == "Fleet Ltd" and invoice.buyer.vat_id == "GB999"
    assert invoice.seller == SELLER and not invoice.paid
    prepaid = ours[wallet.id]
    assert prepaid.paid and prepaid.total_incl_vat == wallet_july.incl_vat
    # an invoice moves no money: the charges posted it
    assert await pool.fetchval("SELECT count(*) FROM ledger_entries") == entries_before
    assert (await billing.balances(pool, fleet))["receivable"] == D("12.42")
    # August's charge waits for August
    assert (await billing.charge_of(pool, fleet_august.transaction_pk)).invoice_id is None  # type: ignore[union-attr]

    # again: nothing new for these accounts; a late July charge goes into August's invoice
    late = await charged(pool, cp, fleet, ended_at=july + timedelta(days=1), incl_vat="3.00")
    again = await service.run(service.ended_period("2026-07"))
    assert not [i for i in again.issued if i.account_id in mine]
    assert not set(await service.accounts_to_invoice(service.ended_period("2026-07"))) & mine
    august = await service.run(service.ended_period("2026-08"))
    (fleet_aug,) = [i for i in august.issued if i.account_id == fleet.id]
    assert sorted(line.charge_id for line in fleet_aug.lines) == sorted([fleet_august.id, late.id])
    listed = await service.invoices(account_id=fleet.id, period="2026-07")
    assert [i.id for i in listed] == [invoice.id]


async def test_concurrent_runs_issue_one_invoice_per_account(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    june = datetime(2026, 6, 10, tzinfo=UTC)
    payers = [await account(pool) for _ in range(3)]
    for payer in payers:
        await charged(pool, cp, payer, ended_at=june)
    series = new_series()
    service = invoice_service(pool, series=series)
    period = service.ended_period("2026-06")

    runs = await asyncio.gather(*(service.run(period) for _ in range(3)))

    issued = [i for run in runs for i in run.issued if i.account_id in {p.id for p in payers}]
    assert sorted(i.account_id for i in issued) == sorted(p.id for p in payers)
    assert await numbers(pool, series) == list(range(1, len(await numbers(pool, series)) + 1))


async def test_a_period_that_has_not_ended_is_refused(pool: asyncpg.Pool) -> None:
    service = invoice_service(pool)
    this_month = datetime.now(UTC).strftime("%Y-%m")
    with pytest.raises(InvalidInput, match=f"period: {this_month} has not ended"):
        await service.run(service.period(this_month))
    with pytest.raises(InvalidInput, match="period: a month as YYYY-MM"):
        service.ended_period("2026-13")


async def test_credit_notes_give_back_no_more_than_was_invoiced(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    ended = datetime.now(UTC) - timedelta(hours=1)
    payer = await account(pool, invoicing=INVOICE_PER_SESSION)
    charge = await charged(pool, cp, payer, ended_at=ended, incl_vat="10.00")
    cn_series = new_series("C")
    service = invoice_service(pool, series=new_series(), credit_note_series=cn_series)
    issued = await service.issue_for_charge(charge.id)
    assert issued.invoice is not None
    invoice = issued.invoice
    receivable = (await billing.balances(pool, payer))["receivable"]

    # five credits of 3.00 at once against 10.00: three fit, two are refused
    results = await asyncio.gather(
        *(
            service.credit(invoice.id, reason=f"goodwill {i}", by="alice", amount="3.00")
            for i in range(5)
        ),
        return_exceptions=True,
    )
    notes = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(notes) == 3 and len(refused) == 2
    assert all(isinstance(r, InvalidInput) and "more than what is left" in str(r) for r in refused)
    assert sorted(n.number for n in notes) == [1, 2, 3]  # the refused took no number
    assert await numbers(pool, cn_series) == [1, 2, 3]

    note = await service.invoice(notes[0].id)
    assert note.kind == "credit_note" and note.series == cn_series
    assert note.credits_invoice_id == invoice.id and note.credits_number == invoice.number_text
    assert note.reason is not None and note.reason.startswith("goodwill")
    assert note.created_by == "alice"
    assert note.total_incl_vat == D("3.00") and note.buyer == invoice.buyer
    entry = await pool.fetchrow(
        "SELECT kind, memo, created_by, account_id FROM ledger_entries WHERE invoice_id = $1",
        note.id,
    )
    assert entry is not None
    assert (entry["kind"], entry["memo"], entry["created_by"], entry["account_id"]) == (
        ledger.ADJUSTMENT,
        note.reason,
        "alice",
        payer.id,
    )
    # off what the account owes, revenue and VAT given back; the ledger balances
    assert (await billing.balances(pool, payer))["receivable"] == receivable - D("9.00")
    trial = await billing.trial_balance(pool)
    assert sum(v for (_, c), v in trial.items() if c == "EUR") == 0

    refreshed = await service.invoice(invoice.id)
    assert [c.id for c in refreshed.credit_notes] == sorted(n.id for n in notes)
    rest = await service.credit(invoice.id, reason="closing the account", by="bob")
    assert rest.total_incl_vat == D("1.00") and rest.number == 4
    with pytest.raises(InvalidInput, match="credited in full already"):
        await service.credit(invoice.id, reason="again", by="bob")
    with pytest.raises(InvalidInput, match="is a credit note"):
        await service.credit(rest.id, reason="x", by="bob")
    with pytest.raises(NotFound):
        await service.credit(2**62, reason="x", by="bob")
    assert await numbers(pool, cn_series) == [1, 2, 3, 4]
    # an issued invoice cannot change (the schema refuses it)
    with pytest.raises(asyncpg.RestrictViolationError, match="cannot change"):
        await pool.execute("UPDATE invoices SET total_incl_vat = 0 WHERE id = $1", invoice.id)


async def test_a_prepaid_credit_goes_back_to_the_wallet(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    payer = await account(pool, kind=PREPAID, invoicing=INVOICE_PER_SESSION)
    charge = await charged(pool, cp, payer, ended_at=datetime.now(UTC), incl_vat="4.00")
    service = invoice_service(pool, series=new_series(), credit_note_series=new_series("C"))
    issued = await service.issue_for_charge(charge.id)
    assert issued.invoice is not None and issued.invoice.paid
    wallet = (await billing.balances(pool, payer))["wallet"]
    await service.credit(issued.invoice.id, reason="charger fault", by="alice", lines=[1])
    assert (await billing.balances(pool, payer))["wallet"] == wallet + D("4.00")


async def test_an_invoice_is_found_by_its_number(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    payer = await account(pool, invoicing=INVOICE_PER_SESSION)
    charge = await charged(pool, cp, payer, ended_at=datetime.now(UTC))
    series = new_series() + "-26"
    service = invoice_service(pool, series=series)
    issued = await service.issue_for_charge(charge.id)
    assert issued.invoice is not None
    assert (await service.find(f"{series}-000001")).id == issued.invoice.id
    assert (await service.find(f"{series.lower()}-1")).id == issued.invoice.id
    assert (await service.find(str(issued.invoice.id))).number == 1
    with pytest.raises(NotFound):
        await service.find(f"{series}-000002")
    with pytest.raises(NotFound):
        await service.find("99999999999999999999999")
    with pytest.raises(InvalidInput, match="an id .42. or a number"):
        await service.find("INV-x")


async def test_the_sweep_enqueues_lost_session_invoices(pool: asyncpg.Pool) -> None:
    cp = await charger(pool)
    payer = await account(pool, invoicing=INVOICE_PER_SESSION)
    charge = await charged(pool, cp, payer, ended_at=datetime.now(UTC))
    service = invoice_service(pool, clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    assert await service.sweep(older_than=timedelta(minutes=5)) >= 1
    queued = await pool.fetchval(
        "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'issue_session_invoice' "
        "AND dedupe_key = $1",
        f"invoice:charge:{charge.id}",
    )
    assert queued == 1
    await pool.execute("DELETE FROM pgqueuer WHERE dedupe_key = $1", f"invoice:charge:{charge.id}")
