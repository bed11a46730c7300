"""Webhooks: verified (signature, timestamp tolerance), deduplicated by event id, and never
able to mark a payment succeeded twice or post its entry twice, even when the same event
arrives twice at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import httpx
import orjson
import pytest

from csms.domain.payments import signature_header
from csms.store import billing
from tests.fakes.card_processor import VISA, FakeCardProcessor
from tests.integration.payments.conftest import WEBHOOK_PATH, WEBHOOK_SECRET, NewDriver, entries_of

pytestmark = pytest.mark.integration


@pytest.fixture
async def quiet(card: FakeCardProcessor) -> AsyncIterator[FakeCardProcessor]:
    """The processor keeps its webhooks: the test delivers them."""
    card.send_webhooks = False
    yield card
    card.send_webhooks = True


async def authorized_and_captured(
    client: httpx.AsyncClient,
    card: FakeCardProcessor,
    driver_headers: dict[str, str],
    account_id: int,
) -> tuple[int, str]:
    """A driver's card top-up the processor took, whose webhooks were not delivered: (our
    payment id, the id of its payment_intent.succeeded event)."""
    response = await client.post(
        f"/api/v1/accounts/{account_id}/topups", json={"amount": "10.00"}, headers=driver_headers
    )
    payment = response.json()
    async with httpx.AsyncClient(
        base_url=card.url, headers={"Authorization": f"Bearer {card.api_key}"}
    ) as api:
        confirm = await api.post(
            f"/v1/payment_intents/{payment['provider_ref']}/confirm", data={"payment_method": VISA}
        )
        assert confirm.status_code == 200
        capture = await api.post(f"/v1/payment_intents/{payment['provider_ref']}/capture")
        assert capture.json()["status"] == "succeeded"
    (event,) = [
        e
        for e in card.events_of("payment_intent.succeeded")
        if e["data"]["object"]["id"] == payment["provider_ref"]
    ]
    return payment["id"], event["id"]


async def post_webhook(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(WEBHOOK_PATH, content=body, headers=headers)


async def test_a_replayed_event_is_answered_and_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, quiet: FakeCardProcessor, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    payment_id, event_id = await authorized_and_captured(
        client, quiet, driver.headers, driver.account.id
    )
    first = await quiet.deliver(event_id)
    assert first.status == 200 and orjson.loads(first.body)["duplicate"] is False
    assert await entries_of(pool, payment_id) == ["topup"]
    for _ in range(3):  # the processor retries (it did not hear us), or an attacker replays
        again = await quiet.deliver(event_id)
        assert again.status == 200
        assert orjson.loads(again.body) == {
            "received": True,
            "duplicate": True,
            "event_id": event_id,
        }
    assert await entries_of(pool, payment_id) == ["topup"]
    assert (await billing.balances(pool, driver.account))["wallet"] == Decimal("10.00")
    events = await pool.fetch("SELECT outcome FROM payment_events WHERE event_id = $1", event_id)
    assert [e["outcome"] for e in events] == ["succeeded"]


async def test_two_deliveries_at_once_count_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, quiet: FakeCardProcessor, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    payment_id, event_id = await authorized_and_captured(
        client, quiet, driver.headers, driver.account.id
    )
    body, headers = quiet.signed(event_id)
    answers = await asyncio.gather(*(post_webhook(client, body, headers) for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 5
    assert await entries_of(pool, payment_id) == ["topup"]
    assert (await billing.balances(pool, driver.account))["wallet"] == Decimal("10.00")


async def test_two_events_saying_the_same_post_one_entry(
    client: httpx.AsyncClient, pool: asyncpg.Pool, quiet: FakeCardProcessor, new_driver: NewDriver
) -> None:
    """Another event id for the same success (a processor that sends it twice): the
    payment succeeds once and its entry is posted once."""
    driver = await new_driver("prepaid")
    payment_id, event_id = await authorized_and_captured(
        client, quiet, driver.headers, driver.account.id
    )
    twin = quiet.event("payment_intent.succeeded", quiet.events[event_id]["data"]["object"])
    answers = await asyncio.gather(quiet.deliver(event_id), quiet.deliver(twin["id"]))
    assert [a.status for a in answers] == [200, 200]
    assert sorted(orjson.loads(a.body)["duplicate"] for a in answers) == [False, False]
    outcomes = await pool.fetch(
        "SELECT outcome FROM payment_events WHERE payment_id = $1 ORDER BY outcome", payment_id
    )
    assert [o["outcome"] for o in outcomes] == ["already_succeeded", "succeeded"]
    assert await entries_of(pool, payment_id) == ["topup"]


async def test_tampered_stale_or_unsigned_events_are_refused(
    client: httpx.AsyncClient, pool: asyncpg.Pool, quiet: FakeCardProcessor, new_driver: NewDriver
) -> None:
    driver = await new_driver("prepaid")
    payment_id, event_id = await authorized_and_captured(
        client, quiet, driver.headers, driver.account.id
    )
    body, headers = quiet.signed(event_id)
    # tampered: the amount changed after signing
    event = orjson.loads(body)
    event["data"]["object"]["amount_received"] = 100000
    tampered = await post_webhook(client, orjson.dumps(event), headers)
    assert tampered.status_code == 400
    assert tampered.json()["detail"] == "the signature does not match the payload"
    assert tampered.json()["type"] == "urn:csms:problem:webhook-rejected"
    # stale: a valid signature made 301 s ago (the tolerance is 300 s)
    stale_headers = {
        **headers,
        "Stripe-Signature": signature_header(body, WEBHOOK_SECRET, int(time.time()) - 301),
    }
    stale = await post_webhook(client, body, stale_headers)
    assert stale.status_code == 400 and "tolerance 300 s" in stale.json()["detail"]
    # signed with another secret, or not at all
    forged = {
        **headers,
        "Stripe-Signature": signature_header(body, "whsec_guess", int(time.time())),
    }
    assert (await post_webhook(client, body, forged)).status_code == 400
    unsigned = await post_webhook(client, body, {"Content-Type": "application/json"})
    assert unsigned.status_code == 400 and unsigned.json()["detail"] == "no signature header"
    # signed, but not an event
    junk = b"[1, 2, 3]"
    signed_junk = {"Stripe-Signature": signature_header(junk, WEBHOOK_SECRET, int(time.time()))}
    not_event = await post_webhook(client, junk, signed_junk)
    assert not_event.status_code == 400 and not_event.json()["detail"] == "the body is not an event"
    # none of them changed anything or was kept
    assert await entries_of(pool, payment_id) == []
    assert (
        await pool.fetchval("SELECT count(*) FROM payment_events WHERE event_id = $1", event_id)
        == 0
    )
    # the real one still counts
    assert (await post_webhook(client, body, headers)).json()["duplicate"] is False
    assert await entries_of(pool, payment_id) == ["topup"]


async def test_unknown_providers_and_foreign_events(
    client: httpx.AsyncClient, pool: asyncpg.Pool, quiet: FakeCardProcessor
) -> None:
    for provider in ("manual", "paypal"):
        response = await client.post(f"/api/v1/payments/webhooks/{provider}", content=b"{}")
        assert response.status_code == 404
        assert response.json()["detail"] == f"payment provider {provider!r} takes no webhooks here"
    big = await client.post(WEBHOOK_PATH, content=b"x" * (256 * 1024 + 1))
    assert big.status_code == 413
    # a verified event about nothing of ours (a payment made elsewhere): kept, answered 200
    other = quiet.event(
        "payment_intent.succeeded",
        {
            "id": "pi_elsewhere",
            "object": "payment_intent",
            "amount": 500,
            "amount_received": 500,
            "currency": "eur",
            "status": "succeeded",
            "metadata": {},
        },
    )
    delivery = await quiet.deliver(other["id"])
    assert delivery.status == 200
    row = await pool.fetchrow(
        "SELECT payment_id, outcome FROM payment_events WHERE event_id = $1", other["id"]
    )
    assert row is not None and (row["payment_id"], row["outcome"]) == (None, "no payment of ours")
    # an event type we do not use: kept, answered 200
    ignored = quiet.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert (await quiet.deliver(ignored["id"])).status == 200
