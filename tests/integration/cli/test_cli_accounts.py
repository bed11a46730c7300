"""``csms account`` and ``csms review`` as an operator runs them: a process of its own
against real PostgreSQL; sessions charged by a simulator on a node of the CLI's cluster and
settled by a real worker (PgQueuer) into charges or reviews."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from csms.cli.support import operator_name
from csms.domain import ledger
from csms.domain.clock import utc_now
from csms.domain.sites import Scope
from csms.passwords import hash_password
from csms.services import Services
from csms.settings import WorkerSettings
from csms.store import billing, id_tokens, users
from csms.store.postgres import PostgresStores
from csms.worker.runtime import Worker, running_worker
from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.timeouts import TIMEOUT

# 0.40 EUR/kWh + 25 % VAT: 2 kWh = 0.80 + 0.20 = 1.00
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": "0.40", "vat": "25", "step_size": 1}]}
    ],
}


@pytest.fixture
async def worker(cli_database_url: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1)
    async with running_worker(settings, cli_database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


@pytest.fixture
async def billed_charger(
    register_charger: RegisterCharger, cli_pool: asyncpg.Pool
) -> AsyncIterator[str]:
    """A charger whose charges are taken away afterwards: the next test's set-up removes
    every charger, and a charge keeps its session (so its charger) from being deleted."""
    charge_point_id = await register_charger()
    yield charge_point_id
    await cli_pool.execute(
        """DELETE FROM charges WHERE transaction_pk IN
               (SELECT id FROM transactions WHERE charge_point_id = $1)""",
        charge_point_id,
    )


def added_id(stdout: str) -> int:
    found = re.match(r"account (\d+) added", stdout)
    assert found, stdout
    return int(found.group(1))


async def topup(pool: asyncpg.Pool, account_id: int, amount: str) -> None:
    entry = ledger.Entry(
        ledger.TOPUP,
        f"cli-topup:{account_id}:{secrets.token_hex(4)}",
        (
            ledger.debit(ledger.clearing("manual"), "EUR", Decimal(amount)),
            ledger.credit(ledger.wallet(account_id), "EUR", Decimal(amount)),
        ),
        account_id=account_id,
        memo="top-up",
    )
    assert await billing.post_one(pool, entry) is not None


async def test_accounts_from_the_command_line(cli: Cli, cli_pool: asyncpg.Pool) -> None:
    username = f"ada-{secrets.token_hex(3)}"
    user = await users.add_user(
        cli_pool, username, password_hash=hash_password("x" * 12), role="driver"
    )
    mark = secrets.token_hex(4)
    status, stdout, stderr = await cli(
        "account", "add", f"Ada {mark}", "--kind", "prepaid", "--currency", "EUR",
        "--hold-amount", "20.00", "--email", "ada@example.com", "--country", "nl",
        "--user", username,
    )  # fmt: skip
    assert status == 0, stderr
    account_id = added_id(stdout)
    assert stdout == f"account {account_id} added: prepaid, EUR for user {username}\n"
    stored = await billing.get_account(cli_pool, account_id)
    assert stored is not None
    assert (stored.user_id, stored.country, stored.hold_amount) == (user.id, "NL", Decimal("20.00"))

    for args, message in (
        (("--currency", "EURO"), "currency: 'EURO' is not an ISO 4217 currency code"),
        (("--currency", "EUR", "--hold-amount", "-1"), "hold_amount: must not be negative"),
        (("--currency", "EUR", "--email", "nope"), "email: 'nope' is not an e-mail address"),
    ):
        status, _, stderr = await cli("account", "add", "Bad", "--kind", "prepaid", *args)
        assert (status, stderr) == (2, f"csms: {message}\n"), args
    status, _, stderr = await cli(
        "account", "add", "Nobody", "--kind", "postpaid", "--currency", "EUR", "--user", "nobody-x"
    )
    assert (status, stderr) == (1, "csms: user nobody-x not found\n")

    await topup(cli_pool, account_id, "12.50")
    status, stdout, _ = await cli("account", "list", "--search", mark)
    header, row = stdout.splitlines()
    assert header.split() == [
        "id", "kind", "currency", "status", "name", "user_id", "wallet", "held", "receivable",
    ]  # fmt: skip
    assert row.split() == [str(account_id), "prepaid", "EUR", "open", "Ada", mark, str(user.id),
                           "12.50", "0", "0"]  # fmt: skip
    status, stdout, _ = await cli("account", "list", "--user", username, "--json")
    (listed,) = json.loads(stdout)
    assert (listed["id"], listed["balances"]["wallet"]) == (account_id, "12.50")

    status, stdout, _ = await cli("account", "show", str(account_id))
    assert status == 0
    lines = dict(line.split(None, 1) for line in stdout.splitlines() if not line.startswith("may"))
    assert (lines["wallet"], lines["held"], lines["hold_amount"]) == ("12.50 EUR", "0 EUR", "20.00")
    assert stdout.splitlines()[-1] == (
        f"may start       no: account {account_id} has 12.50 EUR available; a session needs "
        "20.00 EUR (its hold amount): top up first"
    )
    status, stdout, _ = await cli("account", "show", str(account_id), "--json")
    shown = json.loads(stdout)
    assert (shown["standing"]["may_start"], shown["standing"]["reason"]) == (False, "no_credit")
    assert shown["balances"] == {"wallet": "12.50", "held": "0", "receivable": "0"}
    assert (await cli("account", "show", "987654321"))[:3:2] == (
        1,
        "csms: account 987654321 not found\n",
    )

    status, stdout, _ = await cli(
        "account", "update", str(account_id), "--status", "blocked", "--reason", "chargeback"
    )
    assert (status, stdout) == (0, f"account {account_id} updated (blocked)\n")
    assert (await cli("account", "update", str(account_id)))[:3:2] == (
        2,
        "csms: nothing to change\n",
    )
    status, _, stderr = await cli("account", "update", str(account_id), "--status", "closed")
    assert status == 2
    assert stderr.startswith(
        f"csms: status: account {account_id} cannot close with balances (wallet 12.50 EUR)"
    )
    await cli("account", "update", str(account_id), "--status", "open", "--hold-amount", "5")
    stored = await billing.get_account(cli_pool, account_id)
    assert stored is not None and (stored.status, stored.status_reason) == ("open", "")

    # a token bills to a company's account, then to its driver's again
    tag = f"TAG-{secrets.token_hex(4)}"
    await id_tokens.add_id_token(cli_pool, tag)
    await cli_pool.execute(
        "INSERT INTO id_token_users (id_token, user_id) VALUES ($1, $2)", tag, user.id
    )
    status, stdout, _ = await cli(
        "account", "add", f"Fleet {mark}", "--kind", "postpaid", "--currency", "EUR"
    )
    fleet_id = added_id(stdout)
    status, stdout, _ = await cli("account", "link", tag, str(fleet_id))
    assert (status, stdout) == (0, f"id token {tag} bills to account {fleet_id}\n")
    status, stdout, _ = await cli("account", "link", tag, "--unlink")
    assert (status, stdout) == (0, f"id token {tag} bills to its driver's account {account_id}\n")
    assert (await cli("account", "link", tag))[0] == 2
    assert (await cli("account", "link", "NO-SUCH-TAG", str(fleet_id)))[:3:2] == (
        1,
        "csms: id token NO-SUCH-TAG not found\n",
    )

    status, stdout, _ = await cli("account", "ledger", str(account_id))
    assert status == 0
    rows = stdout.splitlines()
    assert rows[0].split() == ["entry", "at", "kind", "session", "ledger", "account", "debit",
                               "credit", "memo"]  # fmt: skip
    assert "topup" in rows[1] and "clearing:manual" in rows[1] and "12.50" in rows[1]
    assert f"wallet:{account_id}" in rows[2] and "12.50" in rows[2]
    assert rows[-1] == f"1 entries of account {account_id} (EUR)"
    status, stdout, _ = await cli("account", "ledger", str(account_id), "--json")
    (entry,) = json.loads(stdout)
    assert entry["postings"][1] == {
        "ledger_account": f"wallet:{account_id}",
        "currency": "EUR",
        "amount": "-12.50",
    }


async def charged_session(
    online: Online, cp: str, tag: str, stop_wh: int, *, peak: int = 0
) -> None:
    async with online(cp, "1.6") as station:
        tx = await station.start_transaction(1, tag, 1000)
        if peak:
            await station.send_meter_values(tx, peak)
        await station.stop_transaction(tx, "Local", meter_stop_wh=stop_wh)


async def reviewed(pool: asyncpg.Pool, tag: str) -> int:
    async with asyncio.timeout(TIMEOUT):
        while True:
            pk = await pool.fetchval(
                """SELECT r.transaction_pk FROM settlement_reviews r
                   JOIN transactions t ON t.id = r.transaction_pk WHERE t.id_token = $1""",
                tag,
            )
            if pk is not None:
                return int(pk)
            await asyncio.sleep(0.05)


async def test_the_review_queue_from_the_command_line(
    cli: Cli,
    cli_pool: asyncpg.Pool,
    online: Online,
    billed_charger: str,
    worker: Worker,
    no_tariff_assignments: None,
) -> None:
    cp = billed_charger
    services = Services(PostgresStores(cli_pool), clock=utc_now)
    tariff_id = f"CLI-{secrets.token_hex(4)}"
    await services.tariffs.add(tariff_id, TARIFF, created_by="t")
    await services.tariffs.publish(tariff_id, published_by="t")
    await services.tariffs.assign(Scope.CHARGER, cp, tariff_id, created_by="t")
    status, stdout, _ = await cli(
        "account", "add", "Fleet", "--kind", "postpaid", "--currency", "EUR"
    )
    fleet = added_id(stdout)
    tags = [f"TAG-{secrets.token_hex(4)}" for _ in range(4)]
    for tag in tags:
        await id_tokens.add_id_token(cli_pool, tag)
    unbilled, backwards, broken, odd = tags
    for tag in (backwards, broken, odd):
        assert (await cli("account", "link", tag, str(fleet)))[0] == 0

    await charged_session(online, cp, unbilled, 3000)
    pk = await reviewed(cli_pool, unbilled)
    status, stdout, _ = await cli("review", "list")
    assert re.search(rf"^{pk}\s+no_account\s+open\s", stdout, re.MULTILINE), stdout
    status, stdout, _ = await cli("review", "show", str(pk))
    assert status == 0 and "reason             no_account" in stdout
    assert (
        "cost               1.00 EUR (final; tariff" in stdout and "account            -" in stdout
    )
    status, _, stderr = await cli("review", "price", str(pk), "1.00")
    assert (status, stderr) == (
        2,
        "csms: the session's id token bills to no account: link one first\n",
    )
    await cli("account", "link", unbilled, str(fleet))
    status, stdout, _ = await cli("review", "retry", str(pk))
    assert (status, stdout) == (
        0,
        f"session {pk} charged 1.00 EUR (excl. VAT 0.80, VAT 0.20) to account {fleet}\n",
    )

    await charged_session(online, cp, backwards, 3000, peak=5000)
    pk2 = await reviewed(cli_pool, backwards)
    assert (await cli("review", "set-energy", str(pk2), "-1"))[:3:2] == (
        2,
        "csms: energy_wh: must not be negative\n",
    )
    status, stdout, _ = await cli("review", "set-energy", str(pk2), "4000")
    assert (
        stdout == f"session {pk2} charged 2.00 EUR (excl. VAT 1.60, VAT 0.40) to account {fleet}\n"
    )

    await charged_session(online, cp, broken, 2000, peak=9000)
    pk3 = await reviewed(cli_pool, broken)
    status, stdout, _ = await cli("review", "waive", str(pk3), "--note", "meter swapped")
    assert (status, stdout) == (0, f"session {pk3} waived: no charge\n")
    again = await cli("review", "waive", str(pk3), "--note", "again")
    assert again[:3:2] == (2, f"csms: session {pk3}: its review is resolved already\n")

    await charged_session(online, cp, odd, 1500, peak=8000)
    pk4 = await reviewed(cli_pool, odd)
    assert (await cli("review", "price", str(pk4), "3.001"))[:3:2] == (
        2,
        "csms: incl_vat: at most 2 decimals in EUR\n",
    )
    status, stdout, _ = await cli("review", "price", str(pk4), "3.00", "--vat-rate", "25")
    assert (
        stdout == f"session {pk4} charged 3.00 EUR (excl. VAT 2.40, VAT 0.60) to account {fleet}\n"
    )

    status, stdout, _ = await cli("review", "list", "--status", "all", "--json")
    ours = {
        r["transaction_pk"]: r
        for r in json.loads(stdout)
        if r["transaction_pk"] in (pk, pk2, pk3, pk4)
    }
    assert {p: (r["resolution"], r["resolved_by"]) for p, r in ours.items()} == {
        pk: ("settled", operator_name()),
        pk2: ("energy_set", operator_name()),
        pk3: ("waived", operator_name()),
        pk4: ("priced", operator_name()),
    }
    status, stdout, _ = await cli("review", "list")
    assert not re.search(rf"^({pk}|{pk2}|{pk3}|{pk4})\s", stdout, re.MULTILINE)
    assert (await cli("review", "show", "987654321"))[:3:2] == (
        1,
        "csms: session 987654321 is not in review\n",
    )
    receivable = await cli_pool.fetchval(
        "SELECT sum(amount) FROM ledger_postings WHERE ledger_account = $1",
        ledger.receivable(fleet),
    )
    assert receivable == Decimal("6.00")
