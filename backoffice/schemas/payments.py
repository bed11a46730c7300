"""Payments: top-ups and payments of what an account owes, refunds, write-offs, webhooks.
Amounts are decimal strings in the account's currency."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from backoffice.schemas.common import BigId, Input, Text

PaymentStatus = Literal["pending", "succeeded", "failed", "written_off", "canceled"]
PaymentKind = Literal["topup", "invoice", "refund"]
Amount = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="A decimal string, positive, with at most the currency's decimals",
        examples=["20.00"],
    ),
]


class PaymentPublic(BaseModel):
    """Money asked of a provider: a wallet top-up, a payment of what a postpaid account
    owes (``invoice``), or a refund of either."""

    id: int
    account_id: int
    provider: str = Field(description="manual, or card")
    kind: PaymentKind
    amount: Decimal
    currency: str
    status: PaymentStatus
    provider_ref: str | None = Field(description="The provider's id (a payment intent, a refund)")
    invoice_id: int | None
    refund_of: int | None = Field(description="The payment a refund pays back")
    failure: str = Field(description="Why the last attempt failed")
    attempts: int = Field(description="Attempts made (a declined receivable is retried)")
    next_attempt_at: datetime | None = Field(
        description="While pending: when the worker retries it or asks the provider about it"
    )
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class TopupResult(PaymentPublic):
    client_secret: str | None = Field(
        None,
        description="A card payment the driver confirms: give it to the card processor's "
        "client library in the app (only in this answer)",
    )


class PostingPublic(BaseModel):
    ledger_account: str
    currency: str
    amount: Decimal = Field(description="Debit positive, credit negative")


class LedgerEntryPublic(BaseModel):
    id: int
    at: datetime
    kind: str
    memo: str = Field(description="What it is; a write-off's or refund's reason")
    created_by: str | None = Field(description="Who asked for it")
    postings: list[PostingPublic]


class PaymentEventPublic(BaseModel):
    event_id: str
    type: str
    outcome: str
    received_at: datetime


class PaymentDetail(PaymentPublic):
    refunded: Decimal = Field(description="Refunded or being refunded")
    refunds: list[PaymentPublic]
    ledger: list[LedgerEntryPublic]
    events: list[PaymentEventPublic] = Field(description="Webhook events about it")


class TopupCreate(Input):
    amount: Amount
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="Must be the account's, if given"
    )
    provider: str | None = Field(
        None,
        max_length=32,
        description="manual (operators' default: money received) or card (drivers' default)",
    )
    note: Annotated[Text, Field(max_length=500)] = Field(
        "", description="A manual payment's note (kept on its ledger entry)"
    )
    invoice_id: BigId | None = Field(None, description="The invoice it pays (postpaid)")


class RefundCreate(Input):
    amount: Amount | None = Field(None, description="Omitted: all that is left to refund")
    reason: Annotated[Text, Field(max_length=500)] = ""


class WriteOffCreate(Input):
    reason: Annotated[Text, Field(min_length=1, max_length=500)]


class WebhookAnswer(BaseModel):
    received: bool
    duplicate: bool = Field(description="The event was received before: nothing changed")
    event_id: str
