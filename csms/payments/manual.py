"""The built-in manual provider: an operator records money received (cash at the desk, a
bank transfer seen on the statement) or paid back. Nothing is asked of anyone: a payment
succeeds when it is recorded, once per idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from csms.domain.payments import (
    INTENT_SUCCEEDED,
    MANUAL,
    REFUND_SUCCEEDED,
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    WebhookEvent,
)
from csms.errors import PaymentError, WebhookRejected


class ManualProvider:
    """Money an operator says was received: its reference is the payment's key."""

    name = MANUAL
    takes_webhooks = False

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        return ProviderPayment(
            ref=request.idempotency_key,
            status=INTENT_SUCCEEDED,
            amount=request.amount,
            currency=request.currency,
            amount_received=request.amount,
        )

    async def capture(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        raise PaymentError("the manual provider records money received: nothing to capture")

    async def cancel(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        raise PaymentError("the manual provider records money received: nothing to cancel")

    async def refund(
        self,
        ref: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ProviderRefund:
        return ProviderRefund(
            ref=idempotency_key,
            status=REFUND_SUCCEEDED,
            amount=amount,
            currency=currency,
            memo=metadata.get("csms_reason", ""),
        )

    async def status(self, ref: str) -> ProviderPayment:
        raise PaymentError("the manual provider records money received: nothing to look up")

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: float
    ) -> WebhookEvent:
        raise WebhookRejected("the manual provider takes no webhooks")
