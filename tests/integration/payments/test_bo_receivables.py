"""A postpaid account's receivable charged to its saved card: a decline retried by the
worker with exponential backoff, then ``failed`` and written off by an operator (who and
why recorded); a card fixed between tries pays; a processor that is down is asked again;
refunds in full or in part, never more than was paid."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import datetime
from decimal import Decimal

import asyncpg
import httpx
import pytest

from csms.domain.clock import utc_now
from csms.domain.payments import RetryPolicy
from csms.payments import open_providers
from csms.services.payments import PaymentService
from csms.settings import WorkerSettings
from csms.store import billing
from csms.store.jobs import PgJobQueue
from csms.store.postgres import PostgresBilling, PostgresPayments
from csms.worker.runtime import Worker
from tests.fakes.card_processor import DECLINED, VISA, FakeCardProcessor
from tests.integration.backoffice.conftest import Account
from tests.integration.payments.conftest import (
    API_KEY,
    WEBHOOK_SECRET,
    NewDriver,
    entries_of,
    eventually,
    owe,
)

pytestmark = pytest.mark.integration


async def payment_of(client: httpx.AsyncClient, headers: dict[str, str], payment_id: int) -> dict:  # type: ignore[type-arg]
    response = await client.get(f"/api/v1/payments/{payment_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict = response.json()  # type: ignore[type-arg]
    return body


async def until_status(
    client: httpx.AsyncClient, headers: dict[str, str], payment_id: int, status: str
) -> dict:  # type: ignore[type-arg]
    async def check() -> dict | None:  # type: ignore[type-arg]
        got = await payment_of(client, headers, payment_id)
        return got if got["status"] == status else None

    found: dict = await eventually(check)  # type: ignore[type-arg]
    return found


async def test_a_declined_receivable_is_retried_then_failed_then_written_off(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    operator: Account,
    new_driver: NewDriver,
) -> None:
    driver = await new_driver("postpaid", payment_method=DECLINED)
    await owe(pool, driver.account.id, "30.00")
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "30.00", "provider": "card"},
        headers=operator.headers,
    )
    assert response.status_code == 201, response.text
    first = response.json()
    assert (first["kind"], first["status"], first["attempts"]) == ("invoice", "pending", 1)
    assert first["failure"] == "Your card was declined. (generic_decline)"
    assert first["next_attempt_at"] is not None

    failed = await until_status(client, operator.headers, first["id"], "failed")
    assert failed["attempts"] == 3 and failed["next_attempt_at"] is None
    # three intents, one per attempt, each under its own idempotency key, off session
    creates = [
        form
        for method, path, form in card.requests
        if path == "/v1/payment_intents"
        and form.get("metadata[csms_payment_id]") == str(first["id"])
    ]
    assert [f["metadata[csms_attempt]"] for f in creates] == ["1", "2", "3"]
    assert all(f["off_session"] == "true" and f["payment_method"] == DECLINED for f in creates)
    # each attempt's decline came back as a webhook; the waits between them doubled
    # (CSMS_PAYMENT_RETRY_DELAY 0.3 s, then 0.6 s)
    await card.delivered()
    declines = [
        datetime.fromisoformat(e["received_at"])
        for e in (await payment_of(client, operator.headers, first["id"]))["events"]
        if e["type"] == "payment_intent.payment_failed"
    ]
    assert len(declines) == 3
    waits = [(b - a).total_seconds() for a, b in itertools.pairwise(declines)]
    assert waits[0] >= 0.25 and waits[1] >= 0.55, waits  # (ms of webhook latency aside)
    assert await entries_of(pool, first["id"]) == []
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("30.00")

    # refunding what was never paid, or writing it off without a reason, is refused
    refund = await client.post(
        f"/api/v1/payments/{first['id']}/refund", json={}, headers=operator.headers
    )
    assert refund.status_code == 422 and "only a succeeded payment" in refund.json()["detail"]
    no_reason = await client.post(
        f"/api/v1/payments/{first['id']}/write-off", json={"reason": ""}, headers=operator.headers
    )
    assert no_reason.status_code == 422 and no_reason.json()["detail"].startswith("body.reason")

    written = await client.post(
        f"/api/v1/payments/{first['id']}/write-off",
        json={"reason": "the driver moved abroad"},
        headers=operator.headers,
    )
    assert written.status_code == 200, written.text
    assert written.json()["status"] == "written_off"
    detail = await payment_of(client, operator.headers, first["id"])
    (entry,) = detail["ledger"]
    assert (entry["kind"], entry["memo"], entry["created_by"]) == (
        "write_off",
        "the driver moved abroad",
        operator.username,
    )
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("0")
    twice = await client.post(
        f"/api/v1/payments/{first['id']}/write-off",
        json={"reason": "again"},
        headers=operator.headers,
    )
    assert twice.status_code == 422
    assert (
        twice.json()["detail"]
        == f"payment {first['id']} is written_off: it cannot become written_off"
    )
    assert await entries_of(pool, first["id"]) == ["write_off"]


async def test_a_card_fixed_between_tries_pays(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    operator: Account,
    new_driver: NewDriver,
) -> None:
    flaky = f"pm_card_{secrets.token_hex(4)}"
    card.declined.add(flaky)
    driver = await new_driver("postpaid", payment_method=flaky)
    await owe(pool, driver.account.id, "12.00")
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "12.00", "provider": "card"},
        headers=operator.headers,
    )
    payment = response.json()
    assert payment["status"] == "pending" and payment["failure"]
    card.declined.discard(flaky)  # the bank lifted the block
    paid = await until_status(client, operator.headers, payment["id"], "succeeded")
    assert paid["attempts"] == 2
    assert await entries_of(pool, payment["id"]) == ["payment"]
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("0")
    await card.delivered()
    assert await entries_of(pool, payment["id"]) == ["payment"]


async def test_a_processor_that_is_down_is_asked_again(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    operator: Account,
    new_driver: NewDriver,
) -> None:
    driver = await new_driver("postpaid", payment_method=VISA)
    card.unavailable = 1
    response = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "7.00", "provider": "card"},
        headers=operator.headers,
    )
    assert response.status_code == 201
    payment = response.json()
    assert (payment["status"], payment["provider_ref"]) == ("pending", None)
    paid = await until_status(client, operator.headers, payment["id"], "succeeded")
    assert paid["attempts"] == 1  # asked again with the same key: the same attempt
    assert await entries_of(pool, payment["id"]) == ["payment"]

    # a driver whose top-up cannot be asked for now is told so (and may ask again)
    prepaid = await new_driver("prepaid")
    card.unavailable = 1
    refused = await client.post(
        f"/api/v1/accounts/{prepaid.account.id}/topups",
        json={"amount": "5.00"},
        headers={**prepaid.headers, "Idempotency-Key": "retry-me"},
    )
    assert refused.status_code == 503
    assert refused.json()["type"] == "urn:csms:problem:payment-provider-unavailable"
    again = await client.post(
        f"/api/v1/accounts/{prepaid.account.id}/topups",
        json={"amount": "5.00"},
        headers={**prepaid.headers, "Idempotency-Key": "retry-me"},
    )
    assert again.status_code == 200 and again.json()["client_secret"]
    assert again.json()["id"] == await pool.fetchval(
        "SELECT id FROM payments WHERE idempotency_key = $1", f"pay:{prepaid.account.id}:retry-me"
    )


async def test_refunds_in_part_and_in_full_never_more_than_paid(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    card: FakeCardProcessor,
    worker: Worker,
    operator: Account,
    new_driver: NewDriver,
) -> None:
    driver = await new_driver("postpaid", payment_method=VISA)
    await owe(pool, driver.account.id, "50.00")
    paid = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "50.00", "provider": "card"},
        headers=operator.headers,
    )
    payment = paid.json()
    assert payment["status"] == "succeeded", payment
    url = f"/api/v1/payments/{payment['id']}/refund"

    too_much = await client.post(url, json={"amount": "50.01"}, headers=operator.headers)
    assert too_much.status_code == 422
    assert (
        too_much.json()["detail"]
        == "amount: at most 50.00 EUR can be refunded (0 of 50.00 refunded already)"
    )
    part = await client.post(
        url, json={"amount": "20.00", "reason": "charger was faulty"}, headers=operator.headers
    )
    assert part.status_code == 201, part.text
    refund = part.json()
    assert (refund["kind"], refund["status"], refund["refund_of"], refund["amount"]) == (
        "refund",
        "succeeded",
        payment["id"],
        "20.00",
    )
    assert refund["provider_ref"] in card.refunds
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("20.00")
    (entry,) = (await payment_of(client, operator.headers, refund["id"]))["ledger"]
    assert (entry["kind"], entry["memo"], entry["created_by"]) == (
        "refund",
        "refund: charger was faulty",
        operator.username,
    )
    # two refunds of 20 at once: only 30 is left, so one of them is refused
    both = await asyncio.gather(
        *(client.post(url, json={"amount": "20.00"}, headers=operator.headers) for _ in range(2))
    )
    assert sorted(r.status_code for r in both) == [201, 422]
    rest = await client.post(url, json={}, headers=operator.headers)  # all that is left
    assert rest.status_code == 201 and rest.json()["amount"] == "10.00"
    none_left = await client.post(url, json={}, headers=operator.headers)
    assert none_left.status_code == 422
    await card.delivered()
    detail = await payment_of(client, operator.headers, payment["id"])
    assert detail["refunded"] == "50.00"
    assert [r["amount"] for r in detail["refunds"]] == ["20.00", "20.00", "10.00"]
    assert all(r["status"] == "succeeded" for r in detail["refunds"])
    for r in detail["refunds"]:
        assert await entries_of(pool, r["id"]) == ["refund"]  # the webhooks posted nothing more
    outcomes = await pool.fetch(
        """SELECT outcome FROM payment_events
           WHERE type = 'charge.refunded' AND payment_id = ANY($1::bigint[])""",
        [r["id"] for r in detail["refunds"]],
    )
    # each charge.refunded event lists every refund of the charge so far: all known
    assert len(outcomes) == 3
    assert {part for o in outcomes for part in o["outcome"].split("; ")} == {"already_succeeded"}
    assert (await billing.balances(pool, driver.account))["receivable"] == Decimal("50.00")


async def test_a_manual_topup_is_refunded_while_the_wallet_holds_it(
    client: httpx.AsyncClient, pool: asyncpg.Pool, operator: Account, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    topup = await client.post(
        f"/api/v1/accounts/{driver.account.id}/topups",
        json={"amount": "30.00"},
        headers=operator.headers,
    )
    payment_id = topup.json()["id"]
    # the driver spent 25 of it
    from csms.domain import ledger

    spent = ledger.Entry(
        ledger.CHARGE,
        f"test-spent:{driver.account.id}",
        (
            ledger.debit(ledger.wallet(driver.account.id), "EUR", Decimal("25.00")),
            ledger.credit(ledger.REVENUE, "EUR", Decimal("25.00")),
        ),
        account_id=driver.account.id,
    )
    await billing.post_one(pool, spent)
    url = f"/api/v1/payments/{payment_id}/refund"
    refused = await client.post(url, json={"amount": "10.00"}, headers=operator.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(
        f"amount: the wallet of account {driver.account.id} holds 5.00 EUR"
    )
    done = await client.post(
        url, json={"amount": "5.00"}, headers={**operator.headers, "Idempotency-Key": "cash-back-1"}
    )
    assert done.status_code == 201 and done.json()["provider"] == "manual"
    again = await client.post(
        url, json={"amount": "5.00"}, headers={**operator.headers, "Idempotency-Key": "cash-back-1"}
    )
    assert again.status_code == 200 and again.json()["id"] == done.json()["id"]
    assert (await billing.balances(pool, driver.account))["wallet"] == Decimal("0.00")


async def test_a_topup_nobody_pays_is_canceled_in_the_end(
    pool: asyncpg.Pool, card: FakeCardProcessor, new_driver: NewDriver
) -> None:
    """The worker's look at a card top-up whose driver never paid: still waiting, so it is
    looked at again later; once older than CSMS_PAYMENT_EXPIRE_AFTER, canceled (its intent
    too)."""
    settings = WorkerSettings(
        card_api_url=card.url, card_api_key=API_KEY, card_webhook_secret=WEBHOOK_SECRET
    )
    providers = open_providers(settings)
    try:
        service = PaymentService(
            PostgresPayments(pool),
            PostgresBilling(pool),
            providers,
            PgJobQueue(pool),
            clock=utc_now,
            policy=RetryPolicy(check_after=60, expire_after=3600),
        )
        driver = await new_driver("prepaid")
        started = await service.pay(driver.account.id, "8.00", provider="card", by="app")
        waiting = await service.advance(started.payment.id, now_due=True)
        assert waiting is not None and waiting.status == "pending"
        assert waiting.next_attempt_at is not None
        assert (waiting.next_attempt_at - utc_now()).total_seconds() > 50
        impatient = PaymentService(
            PostgresPayments(pool),
            PostgresBilling(pool),
            providers,
            PgJobQueue(pool),
            clock=utc_now,
            policy=RetryPolicy(check_after=60, expire_after=0.001),
        )
        gone = await impatient.advance(started.payment.id, now_due=True)
        assert gone is not None and gone.status == "canceled"
        assert card.intents[started.payment.provider_ref or ""]["status"] == "canceled"
    finally:
        await providers.aclose()
