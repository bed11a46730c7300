"""`csms account topup` and `csms payment list|show|refund|write-off` against real PostgreSQL
(docs/reference/cli.md, "Payments"): money received recorded once on the ledger, refunds
never beyond what was paid, write-offs with who and why; bad input names the field, exits
with status 2 and stores nothing."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import orjson
import pytest

from csms.domain import ledger
from csms.store import billing
from tests.integration.cli.conftest import Cli

pytestmark = pytest.mark.integration


def fields(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(" ")
        found[name] = value.strip()
    return found


async def ok(cli: Cli, *args: str) -> str:
    status, out, err = await cli(*args)
    assert status == 0, err
    return out


async def test_topup_list_show_and_refund(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    account = await billing.add_account(cli_pool, kind="prepaid", currency="EUR", name="Wallet")
    out = await ok(cli, "account", "topup", str(account.id), "20.00", "--note", "cash at the desk")
    topup = fields(out)
    assert topup | {"id": "", "created_at": "", "created_by": "", "provider_ref": ""} == {
        "id": "",
        "account": str(account.id),
        "kind": "topup",
        "provider": "manual",
        "amount": "20.00 EUR",
        "status": "succeeded",
        "provider_ref": "",
        "invoice": "-",
        "refund_of": "-",
        "failure": "-",
        "attempts": "0",  # nothing was asked of anyone
        "next_attempt_at": "-",
        "created_by": "",
        "created_at": "",
    }
    assert topup["created_by"].startswith("cli")
    assert (await billing.balances(cli_pool, account))["wallet"] == Decimal("20.00")

    listed = await ok(cli, "payment", "list", "--account", str(account.id))
    header, row = listed.splitlines()
    assert header.split() == [
        "id",
        "account",
        "kind",
        "provider",
        "amount",
        "status",
        "attempts",
        "created_at",
    ]
    assert row.split()[:7] == [
        topup["id"],
        str(account.id),
        "topup",
        "manual",
        "20.00",
        "EUR",
        "succeeded",
    ]
    as_json = orjson.loads(await ok(cli, "payment", "list", "--account", str(account.id), "--json"))
    assert [(p["id"], p["amount"]) for p in as_json] == [(int(topup["id"]), "20.00")]

    status, _, err = await cli("payment", "refund", topup["id"], "--amount", "25.00")
    assert status == 2
    assert (
        err.strip()
        == "csms: amount: at most 20.00 EUR can be refunded (0 of 20.00 refunded already)"
    )
    refund = fields(
        await ok(cli, "payment", "refund", topup["id"], "--amount", "5.00", "--reason", "overpaid")
    )
    assert (refund["kind"], refund["status"], refund["refund_of"], refund["amount"]) == (
        "refund",
        "succeeded",
        topup["id"],
        "5.00 EUR",
    )
    assert (await billing.balances(cli_pool, account))["wallet"] == Decimal("15.00")

    shown = await ok(cli, "payment", "show", topup["id"])
    assert fields(shown)["refunded"] == "5.00 EUR"
    assert "top-up: cash at the desk" in shown
    detail = orjson.loads(await ok(cli, "payment", "show", refund["id"], "--json"))
    (entry,) = detail["ledger"]
    assert (entry["kind"], entry["memo"]) == ("refund", "refund: overpaid")


async def test_a_failed_receivable_is_written_off(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    account = await billing.add_account(cli_pool, kind="postpaid", currency="EUR", name="Fleet")
    owed = ledger.Entry(
        ledger.CHARGE,
        f"cli-owed:{account.id}",
        (
            ledger.debit(ledger.receivable(account.id), "EUR", Decimal("8.00")),
            ledger.credit(ledger.REVENUE, "EUR", Decimal("8.00")),
        ),
        account_id=account.id,
    )
    await billing.post_one(cli_pool, owed)
    # a card payment of it that failed (its retries are over)
    payment_id = await cli_pool.fetchval(
        """INSERT INTO payments (account_id, provider, kind, amount, currency, status,
               idempotency_key, failure, attempts)
           VALUES ($1, 'card', 'invoice', 8.00, 'EUR', 'failed', $2, 'Your card was declined.', 4)
           RETURNING id""",
        account.id,
        f"cli-failed:{account.id}",
    )
    failed = await ok(cli, "payment", "list", "--account", str(account.id), "--status", "failed")
    assert len(failed.splitlines()) == 2
    status, _, err = await cli("payment", "write-off", str(payment_id))
    assert status == 2 and "--reason" in err
    written = fields(
        await ok(cli, "payment", "write-off", str(payment_id), "--reason", "company insolvent")
    )
    assert written["status"] == "written_off"
    detail = orjson.loads(await ok(cli, "payment", "show", str(payment_id), "--json"))
    (entry,) = detail["ledger"]
    assert entry["kind"] == "write_off" and entry["memo"] == "company insolvent"
    assert entry["created_by"].startswith("cli")
    assert (await billing.balances(cli_pool, account))["receivable"] == Decimal("0")
    status, _, err = await cli("payment", "write-off", str(payment_id), "--reason", "again")
    assert status == 2 and "is written_off" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-5"], "amount: must be positive"),
        (["abc"], "amount: not a number"),
        (["1.001"], "amount: at most 2 decimals in EUR"),
        (["5", "--currency", "USD"], "currency: account"),
        (["5", "--provider", "card"], "provider: 'card' is not configured (configured: manual)"),
    ],
)
async def test_bad_input_exits_2_and_stores_nothing(
    cli: Cli, cli_pool: asyncpg.Pool, args: list[str], message: str
) -> None:
    account = await billing.add_account(cli_pool, kind="prepaid", currency="EUR", name="Bad")
    before = await cli_pool.fetchval("SELECT count(*) FROM payments")
    status, out, err = await cli("account", "topup", str(account.id), *args)
    assert (status, out) == (2, "")
    assert err.startswith(f"csms: {message}"), err
    assert await cli_pool.fetchval("SELECT count(*) FROM payments") == before


async def test_missing_things_exit_1(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    status, _, err = await cli("account", "topup", "987654321", "5.00")
    assert (status, err.strip()) == (1, "csms: account 987654321 not found")
    status, _, err = await cli("payment", "show", "987654321")
    assert (status, err.strip()) == (1, "csms: payment 987654321 not found")
    closed = await billing.add_account(
        cli_pool, kind="prepaid", currency="EUR", name="Closed", status="closed"
    )
    status, _, err = await cli("account", "topup", str(closed.id), "5.00")
    assert (status, err.strip()) == (2, f"csms: account: account {closed.id} is closed")
