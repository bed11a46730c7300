"""`csms billing run` and `csms invoice` as an operator runs them against real PostgreSQL
(docs/reference/cli.md, "Invoices"): a month's run with its summary, once; invoices listed,
shown, written as PDF; credit notes, and what is refused (exit status 2, nothing issued)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pypdf
import pytest

from csms import embedded
from csms.bootstrap import ensure_database
from csms.domain.billing import PREPAID
from csms.store.pool import create_pool, migrate
from tests.integration.billing.invoice_helpers import account, charged, charger
from tests.integration.cli.conftest import Cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def cli_database_url(database_url: str) -> AsyncIterator[str]:
    """A database of this module's own: charged sessions cannot be deleted (a charge keeps
    its session), so the other CLI tests' "no charger registered" would fail on them."""
    name = urlsplit(database_url).path.lstrip("/") + "_cli_invoices"
    await ensure_database(database_url, name)
    dsn = embedded.with_database(database_url, name)
    await migrate(dsn)
    yield dsn
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
async def cli_pool(cli_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(cli_database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def ok(cli: Cli, *args: str) -> str:
    status, out, err = await cli(*args)
    assert status == 0, err
    return out


async def test_a_months_run_issues_each_invoice_once(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    cp = await charger(cli_pool)
    fleet = await account(cli_pool, name="Fleet Ltd")
    wallet = await account(cli_pool, kind=PREPAID, name="Prepaid Driver")
    march = datetime(2026, 3, 12, 8, tzinfo=UTC)
    await charged(cli_pool, cp, fleet, ended_at=march, incl_vat="5.00")
    await charged(cli_pool, cp, fleet, ended_at=march.replace(day=30), incl_vat="2.42",
                  vat_rate="21")  # fmt: skip
    await charged(cli_pool, cp, wallet, ended_at=march, incl_vat="1.25")

    out = await ok(cli, "billing", "run", "--period", "2026-03")
    lines = out.splitlines()
    assert lines[0].split() == [
        "id", "number", "kind", "account", "buyer", "issued_at", "period", "total", "paid"
    ]  # fmt: skip
    rows = {line.split()[3]: line for line in lines[1:3]}
    assert set(rows) == {str(fleet.id), str(wallet.id)}
    assert "Fleet Ltd" in rows[str(fleet.id)] and "7.42 EUR  no" in rows[str(fleet.id)]
    assert "2026-03" in rows[str(fleet.id)] and "1.25 EUR  yes" in rows[str(wallet.id)]
    assert lines[-1] == "billing run 2026-03: 2 invoice(s) issued, 8.67 EUR"

    again = await ok(cli, "billing", "run", "--period", "2026-03")
    assert again.startswith("billing run 2026-03: nothing to invoice")
    listed = json.loads(await ok(cli, "invoice", "list", "--period", "2026-03", "--json"))
    assert sorted(i["account_id"] for i in listed) == sorted([fleet.id, wallet.id])
    as_json = json.loads(await ok(cli, "billing", "run", "--period", "2026-03", "--json"))
    assert as_json == {
        "period": "2026-03",
        "issued": [],
        "already_invoiced": 0,
        "nothing_to_invoice": 0,
    }


async def test_bad_periods_are_refused(cli: Cli) -> None:
    for period, message in (
        ("2099-01", "period: 2099-01 has not ended yet"),
        ("2026-13", "period: a month as YYYY-MM"),
        ("march", "period: a month as YYYY-MM"),
    ):
        status, out, err = await cli("billing", "run", "--period", period)
        assert (status, out) == (2, ""), err
        assert message in err
    status, _, err = await cli("billing", "run")
    assert status == 2 and "--period" in err


async def test_show_pdf_and_credit_an_invoice(
    cli: Cli, cli_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    cp = await charger(cli_pool)
    fleet = await account(cli_pool, name="Show Ltd")
    await charged(cli_pool, cp, fleet, ended_at=datetime(2026, 2, 10, tzinfo=UTC), incl_vat="5.00")
    await charged(cli_pool, cp, fleet, ended_at=datetime(2026, 2, 11, tzinfo=UTC), incl_vat="2.50")
    run = await ok(cli, "billing", "run", "--period", "2026-02", "--json")
    (issued,) = [i for i in json.loads(run)["issued"] if i["account_id"] == fleet.id]
    number = issued["number"]

    shown = await ok(cli, "invoice", "show", number)
    assert shown.splitlines()[0] == f"invoice {number} (id {issued['id']})"
    assert "Show Ltd (account" in shown and "2026-02-01T00:00:00+00:00" in shown
    assert re.search(r"1\s+Charging session \d+ at " + cp, shown)
    assert "  total            7.50 EUR" in shown
    detail = json.loads(await ok(cli, "invoice", "show", str(issued["id"]), "--json"))
    assert detail["number"] == number and len(detail["lines"]) == 2
    assert detail["total_incl_vat"] == "7.50" and detail["lines"][0]["energy_wh"] == "10000"

    target = tmp_path / "invoice.pdf"
    written = await ok(cli, "invoice", "pdf", number, "-o", str(target))
    assert written.startswith(f"{number} written to {target}")
    text = "\n".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(target.read_bytes())).pages
    )
    assert number in text and "Show Ltd" in text and "Total €7.50" in text

    status, _, err = await cli("invoice", "credit", number, "--amount", "9.00", "--reason", "x")
    assert status == 2 and "amount: 9.00 is more than what is left" in err
    status, _, err = await cli("invoice", "credit", number, "--amount", "1")
    assert status == 2 and "--reason" in err
    credited = await ok(cli, "invoice", "credit", number, "--line", "2", "--reason", "faulty plug")
    match = re.fullmatch(
        rf"credit note (CN-\d{{6}}) issued: 2\.50 EUR of {number} credited \(faulty plug\)\n",
        credited,
    )
    assert match is not None, credited
    note = json.loads(await ok(cli, "invoice", "show", match.group(1), "--json"))
    assert note["kind"] == "credit_note" and note["credits_number"] == number
    assert note["created_by"].startswith("cli") and note["reason"] == "faulty plug"
    rest = json.loads(await ok(cli, "invoice", "credit", number, "--reason", "closing", "--json"))
    assert rest["total_incl_vat"] == "5.00"
    status, _, err = await cli("invoice", "credit", number, "--reason", "again")
    assert status == 2 and "credited in full already" in err
    listed = await ok(cli, "invoice", "list", "--account", str(fleet.id), "--kind", "credit_note")
    assert len(listed.splitlines()) == 3

    status, _, err = await cli("invoice", "show", "987654321")
    assert status == 1 and "invoice 987654321 not found" in err
    status, _, err = await cli("invoice", "pdf", "INV-")
    assert status == 1 and "an id (42) or a number" in err
