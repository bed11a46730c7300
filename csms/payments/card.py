"""A card processor shaped after Stripe's API, over httpx.

Requests are form encoded, authenticated with the secret key as a bearer token, and every
POST carries an ``Idempotency-Key`` (the processor answers a repeated key with the first
answer). Payment intents are created with ``capture_method=manual``: the CSMS captures an
authorized intent itself (the worker, when the ``amount_capturable_updated`` webhook or a
look-up says so). Amounts go over the wire in minor units (``1234`` for 12.34 EUR) and
currencies in lower case.

Webhooks carry ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">``
(:func:`csms.domain.payments.verify_signature`). The events used:
``payment_intent.succeeded``, ``payment_intent.payment_failed``,
``payment_intent.amount_capturable_updated``, ``payment_intent.canceled`` and
``charge.refunded``; any other verified event is kept and answered 200.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx
import orjson

from csms.domain.payments import (
    CARD,
    INTENT_CANCELED,
    INTENT_CAPTURABLE,
    INTENT_FAILED,
    INTENT_PROCESSING,
    INTENT_SUCCEEDED,
    INTENT_WAITING,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
    from_minor_units,
    to_minor_units,
    verify_signature,
)
from csms.errors import PaymentError, ProviderUnavailable, WebhookRejected

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stripe-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_INTENT_STATUSES = {
    "succeeded": INTENT_SUCCEEDED,
    "requires_capture": INTENT_CAPTURABLE,
    "processing": INTENT_PROCESSING,
    "canceled": INTENT_CANCELED,
    "requires_confirmation": INTENT_WAITING,
    "requires_action": INTENT_WAITING,
    "requires_payment_method": INTENT_WAITING,  # failed, when it has a last_payment_error
}
_REFUND_STATUSES = {
    "succeeded": REFUND_SUCCEEDED,
    "pending": REFUND_PENDING,
    "requires_action": REFUND_PENDING,
    "failed": REFUND_FAILED,
    "canceled": REFUND_FAILED,
}


class CardProcessor:
    """The ``card`` provider. ``client`` has the API's base URL, the bearer key and the
    timeout (:func:`csms.payments.open_providers` makes it)."""

    name = CARD
    takes_webhooks = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        webhook_secrets: Sequence[str],
        webhook_tolerance: float,
    ) -> None:
        self._client = client
        self._secrets = tuple(s for s in webhook_secrets if s)
        self._tolerance = webhook_tolerance

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        form = {
            "amount": str(to_minor_units(request.amount, request.currency)),
            "currency": request.currency.lower(),
            "capture_method": "manual",
            "description": request.description,
            **{f"metadata[{k}]": v for k, v in request.metadata.items()},
        }
        if request.payment_method:
            form["payment_method"] = request.payment_method
        if request.confirm:
            form["confirm"] = "true"
        if request.off_session:
            form["off_session"] = "true"
        return _intent(
            await self._post("/v1/payment_intents", form, request.idempotency_key, declines=True)
        )

    async def capture(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        return _intent(
            await self._post(f"/v1/payment_intents/{_ref(ref)}/capture", {}, idempotency_key)
        )

    async def cancel(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        form = {"cancellation_reason": "abandoned"}
        return _intent(
            await self._post(f"/v1/payment_intents/{_ref(ref)}/cancel", form, idempotency_key)
        )

    async def refund(
        self,
        ref: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ProviderRefund:
        form = {
            "payment_intent": ref,
            "amount": str(to_minor_units(amount, currency)),
            **{f"metadata[{k}]": v for k, v in metadata.items()},
        }
        return _refund(await self._post("/v1/refunds", form, idempotency_key), currency)

    async def status(self, ref: str) -> ProviderPayment:
        return _intent(await self._send("GET", f"/v1/payment_intents/{_ref(ref)}"))

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: float
    ) -> WebhookEvent:
        if not self._secrets:
            raise WebhookRejected("no webhook secret is configured (CSMS_CARD_WEBHOOK_SECRET)")
        header = next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        verify_signature(payload, header, self._secrets, now=now, tolerance=self._tolerance)
        try:
            return parse_event(orjson.loads(payload))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError):
            raise WebhookRejected("the body is not an event") from None

    # -- HTTP ----------------------------------------------------------------------------------

    async def _post(
        self, path: str, form: dict[str, str], idempotency_key: str, *, declines: bool = False
    ) -> dict[str, Any]:
        return await self._send(
            "POST",
            path,
            form=form,
            headers={IDEMPOTENCY_HEADER: idempotency_key},
            declines=declines,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        declines: bool = False,
    ) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, data=form, headers=headers)
        except httpx.TimeoutException:
            raise ProviderUnavailable("the card processor did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the card processor cannot be reached: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 500:
                raise ProviderUnavailable(f"the card processor answered {response.status_code}")
            raise PaymentError(f"the card processor answered {response.status_code}, not JSON")
        if response.is_success:
            return body
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        message = str(error.get("message") or error.get("code") or response.reason_phrase)
        code = response.status_code
        intent = error.get("payment_intent")
        if code == 402 and declines and isinstance(intent, dict):
            return intent  # a declined card: the intent comes with the error (card_error)
        if code in (409, 429) or code >= 500:
            raise ProviderUnavailable(f"the card processor answered {code}: {message}")
        if code in (401, 403):
            raise PaymentError(f"the card processor refused our key (CSMS_CARD_API_KEY): {message}")
        raise PaymentError(f"the card processor refused the request: {message}")


def _ref(ref: str) -> str:
    if not ref or not all(c.isalnum() or c == "_" for c in ref):
        raise PaymentError(f"{ref!r} is not a card processor reference")
    return ref


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _intent(data: Mapping[str, Any]) -> ProviderPayment:
    """A payment intent object as the provider-neutral report."""
    currency = str(data["currency"]).upper()
    error = data.get("last_payment_error") or {}
    status = _INTENT_STATUSES.get(str(data["status"]), INTENT_PROCESSING)
    failure = ""
    if error:
        failure = str(error.get("message") or error.get("code") or "declined")
        detail = error.get("decline_code") or error.get("code")
        if detail and str(detail) not in failure:
            failure = f"{failure} ({detail})"
        if data["status"] == "requires_payment_method":
            status = INTENT_FAILED
    metadata = data.get("metadata") or {}
    received = data.get("amount_received")
    return ProviderPayment(
        ref=str(data["id"]),
        status=status,
        amount=from_minor_units(int(data["amount"]), currency),
        currency=currency,
        payment_id=_int(metadata.get("csms_payment_id")),
        attempt=_int(metadata.get("csms_attempt")),
        failure=failure,
        client_secret=data.get("client_secret"),
        amount_received=None if received is None else from_minor_units(int(received), currency),
    )


def _refund(data: Mapping[str, Any], currency: str | None = None) -> ProviderRefund:
    currency = str(data.get("currency") or currency).upper()
    metadata = data.get("metadata") or {}
    return ProviderRefund(
        ref=str(data["id"]),
        status=_REFUND_STATUSES.get(str(data["status"]), REFUND_PENDING),
        amount=from_minor_units(int(data["amount"]), currency),
        currency=currency,
        payment_id=_int(metadata.get("csms_payment_id")),
        failure=str(data.get("failure_reason") or ""),
        memo=str(metadata.get("csms_reason") or ""),
    )


def parse_event(data: Any) -> WebhookEvent:
    """A webhook's event: the intent or the refunds it reports."""
    if not isinstance(data, dict) or data.get("object", "event") != "event":
        raise ValueError("not an event")
    event_id, kind = str(data["id"]), str(data["type"])
    if not event_id or len(event_id) > 255:
        raise ValueError("bad event id")
    obj = data["data"]["object"]
    if kind.startswith("payment_intent."):
        return WebhookEvent(event_id, kind, data, payment=_intent(obj))
    if kind == "charge.refunded":
        currency = str(obj["currency"])
        refunds = tuple(_refund(r, currency) for r in (obj.get("refunds") or {}).get("data", []))
        return WebhookEvent(event_id, kind, data, refunds=refunds)
    return WebhookEvent(event_id, kind, data)
