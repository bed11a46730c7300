"""The card processor adapter against the fake processor over HTTP: idempotency keys,
declines, capture, cancel, refunds, and what each failure of the processor becomes."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx
import pytest

from csms.domain.payments import (
    INTENT_CANCELED,
    INTENT_CAPTURABLE,
    INTENT_FAILED,
    INTENT_SUCCEEDED,
    INTENT_WAITING,
    REFUND_SUCCEEDED,
    PaymentRequest,
)
from csms.errors import PaymentError, ProviderUnavailable, WebhookRejected
from csms.payments import open_providers
from csms.payments.card import CardProcessor
from csms.settings import WorkerSettings
from tests.fakes.card_processor import DECLINED, VISA, FakeCardProcessor
from tests.integration.payments.conftest import API_KEY, WEBHOOK_SECRET

pytestmark = pytest.mark.integration


Adapter = Callable[..., CardProcessor]


@pytest.fixture
async def adapter() -> AsyncIterator[Adapter]:
    """``adapter(url, key=...)``: the card processor adapter (its clients closed after)."""
    clients: list[httpx.AsyncClient] = []

    def make(url: str, key: str = API_KEY) -> CardProcessor:
        client = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=2
        )
        clients.append(client)
        return CardProcessor(client, webhook_secrets=[WEBHOOK_SECRET], webhook_tolerance=300)

    yield make
    for client in clients:
        await client.aclose()


def request(key: str, **changes: object) -> PaymentRequest:
    fields: dict[str, object] = {
        "amount": Decimal("12.34"),
        "currency": "EUR",
        "idempotency_key": key,
        "description": "test",
        "metadata": {"csms_payment_id": "41", "csms_attempt": "2"},
    }
    fields.update(changes)
    return PaymentRequest(**fields)  # type: ignore[arg-type]


async def test_an_idempotency_key_asks_once(card: FakeCardProcessor, adapter: Adapter) -> None:
    cards = adapter(card.url)
    first = await cards.create_payment(request("adapter-1"))
    again = await cards.create_payment(request("adapter-1"))
    assert first.ref == again.ref and first.status == INTENT_WAITING
    assert (first.amount, first.currency, first.payment_id, first.attempt) == (
        Decimal("12.34"),
        "EUR",
        41,
        2,
    )
    assert first.client_secret and first.client_secret.startswith(first.ref)
    with pytest.raises(PaymentError, match="same parameters"):
        await cards.create_payment(request("adapter-1", amount=Decimal("99.00")))
    assert sum(1 for i in card.intents.values() if i["id"] == first.ref) == 1


async def test_a_saved_card_charged_off_session(card: FakeCardProcessor, adapter: Adapter) -> None:
    cards = adapter(card.url)
    off = {"payment_method": VISA, "confirm": True, "off_session": True}
    authorized = await cards.create_payment(request("adapter-2", **off))
    assert authorized.status == INTENT_CAPTURABLE
    captured = await cards.capture(authorized.ref, idempotency_key="adapter-2:capture")
    assert captured.status == INTENT_SUCCEEDED and captured.amount_received == Decimal("12.34")
    # capture asked again (a retry): the same answer, no error
    assert (
        await cards.capture(authorized.ref, idempotency_key="adapter-2:capture")
    ).ref == captured.ref
    looked = await cards.status(authorized.ref)
    assert looked.status == INTENT_SUCCEEDED
    refund = await cards.refund(
        authorized.ref,
        amount=Decimal("2.34"),
        currency="EUR",
        idempotency_key="adapter-2:refund",
        metadata={"csms_payment_id": "42", "csms_reason": "faulty"},
    )
    assert (refund.status, refund.amount, refund.payment_id, refund.memo) == (
        REFUND_SUCCEEDED,
        Decimal("2.34"),
        42,
        "faulty",
    )
    with pytest.raises(PaymentError, match="greater than unrefunded"):
        await cards.refund(
            authorized.ref,
            amount=Decimal("10.01"),
            currency="EUR",
            idempotency_key="adapter-2:refund-2",
            metadata={},
        )
    declined = await cards.create_payment(
        request("adapter-3", payment_method=DECLINED, confirm=True, off_session=True)
    )
    assert declined.status == INTENT_FAILED
    assert declined.failure == "Your card was declined. (generic_decline)"
    waiting = await cards.create_payment(request("adapter-4"))
    canceled = await cards.cancel(waiting.ref, idempotency_key="adapter-4:cancel")
    assert canceled.status == INTENT_CANCELED


async def test_what_failures_of_the_processor_become(
    card: FakeCardProcessor, adapter: Adapter
) -> None:
    with pytest.raises(PaymentError, match="CSMS_CARD_API_KEY"):
        await adapter(card.url, key="sk_wrong").create_payment(request("adapter-5"))
    card.unavailable = 1
    with pytest.raises(ProviderUnavailable, match="503"):
        await adapter(card.url).create_payment(request("adapter-6"))
    # asked again with the same key once it is back: answered
    assert (await adapter(card.url).create_payment(request("adapter-6"))).status == INTENT_WAITING
    with pytest.raises(PaymentError, match="No such payment_intent"):
        await adapter(card.url).status("pi_missing")
    with pytest.raises(PaymentError, match="not a card processor reference"):
        await adapter(card.url).status("../refunds")
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        await adapter(f"http://127.0.0.1:{port}").status("pi_1")


async def test_webhooks_are_verified_and_parsed(card: FakeCardProcessor, adapter: Adapter) -> None:
    cards = adapter(card.url)
    intent = await cards.create_payment(
        request("adapter-7", payment_method=VISA, confirm=True, off_session=True)
    )
    (event,) = [
        e
        for e in card.events_of("payment_intent.amount_capturable_updated")
        if e["data"]["object"]["id"] == intent.ref
    ]
    body, headers = card.signed(event["id"])
    parsed = cards.verify_webhook(body, headers, now=time.time())
    assert (parsed.id, parsed.type) == (event["id"], "payment_intent.amount_capturable_updated")
    assert parsed.payment is not None and parsed.payment.status == INTENT_CAPTURABLE
    assert parsed.payment.payment_id == 41
    lower = {k.lower(): v for k, v in headers.items()}
    assert cards.verify_webhook(body, lower, now=time.time()).id == event["id"]
    with pytest.raises(WebhookRejected):
        cards.verify_webhook(body + b" ", headers, now=time.time())
    with pytest.raises(WebhookRejected, match="tolerance"):
        cards.verify_webhook(body, headers, now=time.time() + 3600)
    async with httpx.AsyncClient() as client:
        unconfigured = CardProcessor(client, webhook_secrets=[], webhook_tolerance=300)
        with pytest.raises(WebhookRejected, match="CSMS_CARD_WEBHOOK_SECRET"):
            unconfigured.verify_webhook(body, headers, now=time.time())


async def test_the_providers_settings_configure(card: FakeCardProcessor, adapter: Adapter) -> None:
    none = open_providers(WorkerSettings())
    assert list(none) == ["manual"]
    await none.aclose()
    both = open_providers(
        WorkerSettings(
            card_api_url=card.url + "/",
            card_api_key=API_KEY,
            card_webhook_secret=f"whsec_old, {WEBHOOK_SECRET}",
        )
    )
    try:
        assert list(both) == ["manual", "card"]
        assert (await both["card"].create_payment(request("adapter-8"))).status == INTENT_WAITING
        body, headers = card.signed(next(iter(card.events)))
        assert both["card"].verify_webhook(body, headers, now=time.time()).id
    finally:
        await both.aclose()
