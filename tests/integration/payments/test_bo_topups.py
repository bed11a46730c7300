"""Top-ups through REST: an operator records money received (manual), a driver tops up
their wallet by card (the fake processor, its webhooks, the worker's capture), idempotent
requests, bad input refused with the field named and nothing stored, and drivers who see
only their own account's payments."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
import pytest

from csms.store import billing
from csms.worker.runtime import Worker
from tests.fakes.card_processor import VISA, FakeCardProcessor
from tests.integration.backoffice.conftest import Account
from tests.integration.payments.conftest import (
    NewDriver,
    NewUser,
    entries_of,
    eventually,
    owe,
)

pytestmark = pytest.mark.integration


async def payments_count(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM payments")
    return count


async def test_an_operator_records_money_received_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, operator: Account, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    url = f"/api/v1/accounts/{driver.account.id}/topups"
    body = {"amount": "25.50", "note": "cash at the desk"}
    headers = {**operator.headers, "Idempotency-Key": "desk-0001"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    payment = first.json()
    assert first.headers["Location"] == f"/api/v1/payments/{payment['id']}"
    assert (payment["provider"], payment["kind"], payment["status"]) == (
        "manual",
        "topup",
        "succeeded",
    )
    assert (payment["amount"], payment["currency"]) == ("25.50", "EUR")
    assert payment["created_by"] == operator.username and payment["client_secret"] is None

    # the same request again (a retry after a lost answer): the same payment, no new money
    again = await client.post(url, json=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == payment["id"]
    assert await entries_of(pool, payment["id"]) == ["topup"]
    balances = await billing.balances(pool, driver.account)
    assert balances["wallet"] == Decimal("25.50")
    # the key with another amount is refused
    other = await client.post(url, json={"amount": "30.00"}, headers=headers)
    assert other.status_code == 422 and other.json()["detail"].startswith("Idempotency-Key")

    detail = (await client.get(f"/api/v1/payments/{payment['id']}", headers=driver.headers)).json()
    (entry,) = detail["ledger"]
    assert (entry["kind"], entry["memo"], entry["created_by"]) == (
        "topup",
        "top-up: cash at the desk",
        operator.username,
    )
    assert {(p["ledger_account"], p["amount"]) for p in entry["postings"]} == {
        ("clearing:manual", "25.50"),
        (f"wallet:{driver.account.id}", "-25.50"),
    }


async def test_an_operator_records_a_postpaid_payment(
    client: httpx.AsyncClient, pool: asyncpg.Pool, operator: Account, new_driver: NewDriver
) -> None:
    driver = await new_driver("postpaid")
    await owe(pool, driver.account.id, "40.00")
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "40.00", "currency": "EUR", "note": "bank transfer 2026-11"},
        headers=operator.headers,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["kind"], response.json()["status"]) == ("invoice", "succeeded")
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("0")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5.00"}, "amount: must be positive"),
        ({"amount": "0"}, "amount: must be positive"),
        ({"amount": "ten"}, "amount: not a number"),
        ({"amount": "NaN"}, "amount: not a number"),
        ({"amount": "1.005"}, "amount: at most 2 decimals in EUR"),
        ({"amount": "1e30"}, "amount: must be below"),
        ({"amount": 12.5}, "body.amount"),  # a JSON number: amounts are decimal strings
        ({"amount": "10.00", "currency": "USD"}, "currency: account"),
        ({"amount": "10.00", "currency": "usd"}, "body.currency"),
        ({"amount": "10.00", "provider": "paypal"}, "provider: 'paypal' is not configured"),
        ({"amount": "10.00", "invoice_id": 1}, "invoice_id: a prepaid account"),
        ({"amount": "10.00", "provider": "card", "note": "x"}, "note: only a manual"),
        ({"amount": "10.00", "extra": 1}, "body.extra"),
        ({}, "body.amount"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    operator: Account,
    new_driver: NewDriver,
    body: dict[str, object],
    field: str,
) -> None:
    driver = await new_driver("prepaid")
    before = await payments_count(pool)
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups", json=body, headers=operator.headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(field), response.json()["detail"]
    assert await payments_count(pool) == before


async def test_a_closed_or_missing_account_is_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, operator: Account, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid", status="closed")
    before = await payments_count(pool)
    closed = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "5.00"},
        headers=operator.headers,
    )
    assert closed.status_code == 422
    assert closed.json()["detail"] == f"account: account {driver.account.id} is closed"
    missing = await client.post(
        "/api/v1/accounts/987654321/topups", json={"amount": "5.00"}, headers=operator.headers
    )
    assert missing.status_code == 404
    # a postpaid account without a saved card cannot be charged by card
    postpaid = await new_driver("postpaid")
    no_card = await client.post(
        f"/api/v1/accounts/{postpaid.account.id}/topups",
        json={"amount": "5.00", "provider": "card"},
        headers=operator.headers,
    )
    assert no_card.status_code == 422 and "no saved card" in no_card.json()["detail"]
    assert await payments_count(pool) == before


async def test_a_driver_tops_up_their_wallet_by_card(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    new_driver: NewDriver,
) -> None:
    driver = await new_driver("prepaid")
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "20.00"},
        headers={**driver.headers, "Idempotency-Key": "app-topup-1"},
    )
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["provider"], payment["status"], payment["attempts"]) == ("card", "pending", 1)
    intent_id = payment["provider_ref"]
    intent = card.intents[intent_id]
    assert (intent["amount"], intent["currency"], intent["capture_method"]) == (
        2000,
        "eur",
        "manual",
    )
    assert intent["metadata"]["csms_payment_id"] == str(payment["id"])
    assert payment["client_secret"] == intent["client_secret"]
    # the app asks again (a lost answer): the same payment and intent, the secret again
    again = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "20.00"},
        headers={**driver.headers, "Idempotency-Key": "app-topup-1"},
    )
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["client_secret"]) == (
        payment["id"],
        intent["client_secret"],
    )
    assert len(card.intents) == len({*card.intents})  # no second intent for it
    assert [
        i
        for i in card.intents.values()
        if i["metadata"].get("csms_payment_id") == str(payment["id"])
    ] == [intent]

    # the driver's app pays: authorized -> webhook -> the worker captures -> succeeded
    async with httpx.AsyncClient(base_url=card.url) as app:
        confirmed = await app.post(
            f"/v1/payment_intents/{intent_id}/confirm",
            data={"client_secret": payment["client_secret"], "payment_method": VISA},
        )
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "requires_capture"

    async def succeeded() -> bool:
        done = await billing.balances(pool, driver.account)
        return done["wallet"] == Decimal("20.00")

    await eventually(succeeded)
    await card.delivered()
    assert card.intents[intent_id]["status"] == "succeeded"
    assert await entries_of(pool, payment["id"]) == ["topup"]
    shown = await client.get(f"/api/v1/payments/{payment['id']}", headers=driver.headers)
    assert shown.status_code == 200
    detail = shown.json()
    assert detail["status"] == "succeeded" and detail["next_attempt_at"] is None
    types = {e["type"]: e["outcome"] for e in detail["events"]}
    assert types["payment_intent.amount_capturable_updated"] == "capture"
    # the capture's answer or the webhook, whichever came first, recorded the money
    assert types["payment_intent.succeeded"] in ("succeeded", "already_succeeded")
    assert all(
        d.status == 200
        for d in card.deliveries
        if d.event_id in {e["event_id"] for e in detail["events"]}
    )


async def test_a_declined_card_topup_fails_and_adds_nothing(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    new_driver: NewDriver,
) -> None:
    driver = await new_driver("prepaid")
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "15.00"},
        headers=driver.headers,
    )
    payment = response.json()
    async with httpx.AsyncClient(base_url=card.url) as app:
        declined = await app.post(
            f"/v1/payment_intents/{payment['provider_ref']}/confirm",
            data={
                "client_secret": payment["client_secret"],
                "payment_method": "pm_card_chargeDeclined",
            },
        )
    assert declined.status_code == 402
    await card.delivered()

    async def failed() -> dict[str, object] | None:
        got = (await client.get(f"/api/v1/payments/{payment['id']}", headers=driver.headers)).json()
        return got if got["status"] == "failed" else None

    done = await eventually(failed)
    assert done["failure"] == "Your card was declined. (generic_decline)"
    assert done["attempts"] == 1  # a top-up is the driver's to retry
    assert await entries_of(pool, payment["id"]) == []
    assert (await billing.balances(pool, driver.account))["wallet"] == Decimal("0")


async def test_drivers_pay_and_see_only_their_own_account(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    operator: Account,
    new_driver: NewDriver,
    new_user: NewUser,
) -> None:
    alice = await new_driver("prepaid")
    bob = await new_driver("prepaid")
    paid = await client.post(
        f"/api/v1/accounts/{bob.account.id}/topups",
        json={"amount": "9.00"},
        headers=operator.headers,
    )
    bobs = paid.json()["id"]
    before = await payments_count(pool)
    # Bob's account and Bob's payment answer Alice exactly like ones that do not exist
    for account_id in (bob.account.id, 987654321):
        response = await client.post(
            f"/api/v1/accounts/{account_id}/topups", json={"amount": "5.00"}, headers=alice.headers
        )
        assert response.status_code == 404
        assert response.json()["detail"] == f"account {account_id} not found"
    for payment_id in (bobs, 987654321):
        response = await client.get(f"/api/v1/payments/{payment_id}", headers=alice.headers)
        assert response.status_code == 404
        assert response.json()["detail"] == f"payment {payment_id} not found"
    listed = await client.get("/api/v1/payments", headers=alice.headers)
    assert listed.status_code == 200 and listed.json()["items"] == []
    asked = await client.get(
        "/api/v1/payments", params={"account_id": bob.account.id}, headers=alice.headers
    )
    assert asked.json()["items"] == []
    # a driver does not record money received
    manual = await client.post(
        f"/api/v1/accounts/{alice.account.id}/topups",
        json={"amount": "5.00", "provider": "manual"},
        headers=alice.headers,
    )
    assert (
        manual.status_code == 422 and manual.json()["detail"] == "provider: a driver pays by card"
    )
    # refunds and write-offs are staff's; a monitor only reads
    for path in (f"/api/v1/payments/{bobs}/refund", f"/api/v1/payments/{bobs}/write-off"):
        response = await client.post(path, json={"reason": "x"}, headers=alice.headers)
        assert response.status_code == 403
    monitor = await new_user("monitor")
    response = await client.post(
        f"/api/v1/accounts/{alice.account.id}/topups",
        json={"amount": "5.00"},
        headers=monitor.headers,
    )
    assert response.status_code == 403
    assert (
        await client.get(f"/api/v1/payments/{bobs}", headers=monitor.headers)
    ).status_code == 200
    # a driver without an account sees no payments
    nobody = await new_user("driver")
    assert (await client.get("/api/v1/payments", headers=nobody.headers)).json()["items"] == []
    assert await payments_count(pool) == before
    # Bob sees his own
    mine = await client.get("/api/v1/payments", headers=bob.headers)
    assert [p["id"] for p in mine.json()["items"]] == [bobs]


async def test_the_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, operator: Account, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    made = []
    for amount in ("1.00", "2.00", "3.00"):
        response = await client.post(
            f"/api/v1/accounts/{driver.account.id}/topups",
            json={"amount": amount},
            headers=operator.headers,
        )
        made.append(response.json()["id"])
    seen: list[int] = []
    params: dict[str, object] = {"account_id": driver.account.id, "limit": 2}
    while True:
        page = (
            await client.get("/api/v1/payments", params=params, headers=operator.headers)
        ).json()
        seen += [p["id"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == sorted(made, reverse=True)
    failed = await client.get(
        "/api/v1/payments",
        params={"account_id": driver.account.id, "status": "failed"},
        headers=operator.headers,
    )
    assert failed.json()["items"] == []
    bad = await client.get("/api/v1/payments", params={"status": "paid"}, headers=operator.headers)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("query.status")
