"""Billing accounts through REST with real JWTs and PostgreSQL (issue 13): open prepaid and
postpaid accounts, find them, read balances and standing, change, block, unblock and close
them, bill tokens to them, read their ledger page by page, and the admin's trial balance.
Bad input answers 4xx naming the field, and nothing is stored."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from csms.domain import ledger
from tests.integration.backoffice.billing_helpers import ACCOUNTS, open_account, refund, topup
from tests.integration.backoffice.conftest import Account, NewAccount
from tests.integration.backoffice.pricing import create_token


async def test_an_operator_opens_and_finds_accounts(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    operator = accounts["operator"]
    driver = await new_account("driver")
    mark = secrets.token_hex(4)
    prepaid = await open_account(
        client,
        operator,
        name=f"Ada {mark}",
        email="ada@example.com",
        address="Keizersgracht 1\n1015 CS Amsterdam",
        country="nl",
        vat_id="NL123456789B01",
        invoicing="session",
        hold_amount="20.00",
        user_id=driver.user_id,
    )
    assert prepaid["kind"] == "prepaid" and prepaid["status"] == "open"
    assert (prepaid["country"], prepaid["hold_amount"], prepaid["user_id"]) == (
        "NL",
        "20.00",
        driver.user_id,
    )
    assert prepaid["balances"] == {"wallet": "0", "held": "0", "receivable": "0"}
    assert prepaid["standing"]["may_start"] is False
    assert prepaid["standing"]["reason"] == "no_credit"
    postpaid = await open_account(
        client, operator, kind="postpaid", currency="sek", name=f"Fleet {mark}"
    )
    assert postpaid["currency"] == "SEK" and postpaid["standing"]["may_start"] is True

    monitor = accounts["monitor"].headers
    shown = await client.get(f"{ACCOUNTS}/{prepaid['id']}", headers=monitor)
    assert shown.status_code == 200 and shown.json() == prepaid
    found = await client.get(ACCOUNTS, params={"q": mark}, headers=monitor)
    assert [a["id"] for a in found.json()["items"]] == [prepaid["id"], postpaid["id"]]
    assert "balances" not in found.json()["items"][0]
    for params, expected in (
        ({"q": mark, "kind": "postpaid"}, [postpaid["id"]]),
        ({"q": mark, "currency": "SEK"}, [postpaid["id"]]),
        ({"user_id": driver.user_id}, [prepaid["id"]]),
        ({"q": "ada@EXAMPLE"}, [prepaid["id"]]),
        ({"q": mark, "status": "blocked"}, []),
        ({"q": "100%_"}, []),  # LIKE characters are text
    ):
        listed = await client.get(ACCOUNTS, params=params, headers=monitor)
        assert [a["id"] for a in listed.json()["items"]] == expected, params
    page = await client.get(ACCOUNTS, params={"q": mark, "limit": 1}, headers=monitor)
    second = await client.get(
        ACCOUNTS,
        params={"q": mark, "limit": 1, "cursor": page.json()["next_cursor"]},
        headers=monitor,
    )
    assert [a["id"] for a in second.json()["items"]] == [postpaid["id"]]


async def test_bad_accounts_are_refused_by_field_and_nothing_is_stored(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"].headers
    before = await pool.fetchval("SELECT count(*) FROM billing_accounts")
    base = {"kind": "prepaid", "currency": "EUR", "name": "X"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**base, "currency": "EURO"}, 422, "currency"),
        ({**base, "currency": "XXX"}, 422, "currency: 'XXX' is not an ISO 4217"),
        ({**base, "kind": "credit"}, 422, "kind"),
        ({**base, "name": ""}, 422, "name"),
        ({**base, "hold_amount": 20}, 422, "hold_amount: Value error, a decimal string"),
        ({**base, "hold_amount": "-5"}, 422, "hold_amount: must not be negative"),
        ({**base, "hold_amount": "2.001"}, 422, "hold_amount: at most 2 decimals in EUR"),
        ({**base, "hold_amount": "NaN"}, 422, "hold_amount"),
        (
            {**base, "hold_amount": "1E+30"},
            422,
            "hold_amount: Value error, '1E+30' is out of range",
        ),
        ({**base, "email": "nobody"}, 422, "email: 'nobody' is not an e-mail address"),
        ({**base, "country": "ZZ"}, 422, "country: 'ZZ' is not an ISO 3166-1 alpha-2 code"),
        ({**base, "balance": "100"}, 422, "balance: Extra inputs are not permitted"),
        ({**base, "user_id": 987654321}, 404, "user 987654321 not found"),
    ]
    for body, status, detail in cases:
        response = await client.post(ACCOUNTS, json=body, headers=operator)
        assert response.status_code == status, (body, response.text)
        assert detail in response.json()["detail"], (body, response.json()["detail"])
    assert await pool.fetchval("SELECT count(*) FROM billing_accounts") == before


async def test_a_driver_has_one_account(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    operator = accounts["operator"]
    driver = await new_account("driver")
    await open_account(client, operator, user_id=driver.user_id)
    again = await client.post(
        ACCOUNTS,
        json={"kind": "postpaid", "currency": "EUR", "name": "Y", "user_id": driver.user_id},
        headers=operator.headers,
    )
    assert again.status_code == 422
    assert again.json()["detail"] == "user_id: that user has an account already"


async def test_change_block_unblock_and_close(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"].headers
    account = await open_account(client, accounts["operator"], hold_amount="10.00")
    url = f"{ACCOUNTS}/{account['id']}"
    await topup(pool, account["id"], "30.00")

    changed = await client.patch(
        url,
        json={"name": "Ada L.", "email": "ada@example.org", "hold_amount": "15.00"},
        headers=operator,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["hold_amount"]) == ("Ada L.", "15.00")
    assert changed.json()["balances"]["wallet"] == "30.00"
    assert changed.json()["standing"] == {"may_start": True, "reason": None, "detail": None}

    for body, detail in (
        ({"currency": "USD"}, "currency: Extra inputs are not permitted"),
        ({"kind": "postpaid"}, "kind: Extra inputs are not permitted"),
        ({"name": None}, "name: cannot be null"),
        ({"status": "frozen"}, "status: Input should be 'open', 'blocked' or 'closed'"),
        ({"hold_amount": "0.001"}, "hold_amount: at most 2 decimals in EUR"),
    ):
        refused = await client.patch(url, json=body, headers=operator)
        assert refused.status_code == 422, body
        assert detail in refused.json()["detail"], refused.json()
    assert (await client.get(url, headers=operator)).json()["name"] == "Ada L."

    blocked = await client.patch(
        url, json={"status": "blocked", "status_reason": "chargeback"}, headers=operator
    )
    assert (blocked.json()["status"], blocked.json()["status_reason"]) == ("blocked", "chargeback")
    assert blocked.json()["standing"]["reason"] == "account_blocked"
    unblocked = await client.patch(url, json={"status": "open"}, headers=operator)
    assert (unblocked.json()["status"], unblocked.json()["status_reason"]) == ("open", "")

    # a wallet with money in it cannot close: refund it first
    closing = await client.patch(url, json={"status": "closed"}, headers=operator)
    assert closing.status_code == 422
    assert closing.json()["detail"].startswith(
        f"status: account {account['id']} cannot close with balances (wallet 30.00 EUR)"
    )
    await refund(pool, account["id"], "30.00")
    closed = await client.patch(url, json={"status": "closed"}, headers=operator)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["standing"]["reason"] == "account_closed"
    reopened = await client.patch(url, json={"status": "open"}, headers=operator)
    assert reopened.status_code == 422
    assert (
        reopened.json()["detail"] == f"status: account {account['id']} is closed and stays closed"
    )
    missing = await client.patch(f"{ACCOUNTS}/987654321", json={"name": "x"}, headers=operator)
    assert missing.status_code == 404
    nobody = await client.patch(url, json={"user_id": 987654321}, headers=operator)
    assert (nobody.status_code, nobody.json()["detail"]) == (404, "user 987654321 not found")


async def test_a_token_bills_to_an_account(
    client: httpx.AsyncClient, accounts: dict[str, Account], new_account: NewAccount
) -> None:
    operator = accounts["operator"]
    driver = await new_account("driver")
    own = await open_account(client, operator, user_id=driver.user_id)
    fleet = await open_account(client, operator, kind="postpaid", name="Fleet Co")
    tag = await create_token(client, operator, user_id=driver.user_id)
    url = f"/api/v1/id-tokens/{tag.lower()}/account"

    linked = await client.put(url, json={"account_id": fleet["id"]}, headers=operator.headers)
    assert linked.status_code == 200, linked.text
    assert linked.json() == {"id_token": tag, "account_id": fleet["id"], "via": "token"}
    back = await client.put(url, json={"account_id": None}, headers=operator.headers)
    assert back.json() == {"id_token": tag, "account_id": own["id"], "via": "driver"}

    unowned = await create_token(client, operator)
    none = await client.put(
        f"/api/v1/id-tokens/{unowned}/account", json={"account_id": None}, headers=operator.headers
    )
    assert none.json() == {"id_token": unowned, "account_id": None, "via": None}
    for path, body, status in (
        ("/api/v1/id-tokens/NO-SUCH-TAG/account", {"account_id": fleet["id"]}, 404),
        (url, {"account_id": 987654321}, 404),
        (url, {}, 422),  # account_id is required (null to unlink)
        (url, {"account_id": -1}, 422),
    ):
        response = await client.put(path, json=body, headers=operator.headers)
        assert response.status_code == status, (path, body, response.text)
    driver_try = await client.put(url, json={"account_id": fleet["id"]}, headers=driver.headers)
    assert driver_try.status_code == 403


async def test_the_ledger_page_by_page_and_the_trial_balance(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"].headers
    account = await open_account(client, accounts["operator"])
    for amount in ("10.00", "2.50", "7.25"):
        await topup(pool, account["id"], amount)
    await refund(pool, account["id"], "4.75")
    url = f"{ACCOUNTS}/{account['id']}/ledger"
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(url, params=params, headers=operator)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["kind"] for e in seen] == ["topup", "topup", "topup", "refund"]
    assert [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    wallet = ledger.wallet(account["id"])
    assert seen[0]["postings"] == [
        {"ledger_account": "clearing:manual", "currency": "EUR", "amount": "10.00"},
        {"ledger_account": wallet, "currency": "EUR", "amount": "-10.00"},
    ]
    # reconciled to the cent: the wallet is minus the sum of its postings
    total = sum(
        Decimal(p["amount"]) for e in seen for p in e["postings"] if p["ledger_account"] == wallet
    )
    shown = (await client.get(f"{ACCOUNTS}/{account['id']}", headers=operator)).json()
    assert Decimal(shown["balances"]["wallet"]) == -total == Decimal("15.00")
    assert (await client.get(f"{ACCOUNTS}/987654321/ledger", headers=operator)).status_code == 404

    trial = await client.get("/api/v1/ledger/trial-balance", headers=accounts["admin"].headers)
    assert trial.status_code == 200, trial.text
    body = trial.json()
    assert body["balanced"] is True and body["entries"] >= 4
    eur = next(c for c in body["currencies"] if c["currency"] == "EUR")
    assert eur["total"] == "0" or Decimal(eur["total"]) == 0
    lines = {line["ledger_account"]: Decimal(line["balance"]) for line in eur["lines"]}
    assert lines[wallet] == Decimal("-15.00")
    assert sum(lines.values()) == 0
    refused = await client.get("/api/v1/ledger/trial-balance", headers=operator)
    assert refused.status_code == 403
