"""Payments: what a payment is, how its status may change, what a provider's report about
it means, the retry schedule, what may be refunded, and the card processor's webhook
signatures (docs/topics/payments.md). Pure: no I/O.

A payment is money asked of a provider: a wallet top-up, a payment of what a postpaid
account owes (``invoice``), or a refund of either. Its status::

    pending ──► succeeded            (the money arrived: its ledger entry is posted once)
       │  └───► canceled             (never paid: the customer did not confirm in time)
       └──────► failed ──► written_off   (an operator gave up on the receivable)
                  └──────► succeeded     (money that arrives late still counts)

A card payment of a receivable is tried up to ``max_attempts`` times, the n-th retry
``first_delay * 2**(n-1)`` seconds after the n-th failure (capped at ``max_delay``). While
``pending``, ``next_attempt_at`` is when the worker looks at it next: a retry when the
current attempt's failure is known (``failure`` is set), else a check of the attempt's
status at the provider (its webhook may have been lost).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from csms.domain import ledger
from csms.domain.ledger import Entry
from csms.domain.money import minor_unit_places
from csms.errors import InvalidInput, WebhookRejected

# statuses
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
WRITTEN_OFF = "written_off"
CANCELED = "canceled"
STATUSES = (PENDING, SUCCEEDED, FAILED, WRITTEN_OFF, CANCELED)

# kinds
TOPUP = "topup"
INVOICE = "invoice"  # a postpaid account pays what it owes (an invoice, or its receivable)
REFUND = "refund"
KINDS = (TOPUP, INVOICE, REFUND)

# providers shipped
MANUAL = "manual"
CARD = "card"

TRANSITIONS: Mapping[str, frozenset[str]] = {
    PENDING: frozenset({SUCCEEDED, FAILED, CANCELED}),
    FAILED: frozenset({SUCCEEDED, WRITTEN_OFF}),
    SUCCEEDED: frozenset(),
    WRITTEN_OFF: frozenset(),
    CANCELED: frozenset(),
}

# what a provider says of one attempt (provider-neutral)
INTENT_SUCCEEDED = "succeeded"  # the money is taken
INTENT_CAPTURABLE = "capturable"  # authorized: the CSMS captures it
INTENT_WAITING = "waiting"  # the customer has not paid (confirmed) yet
INTENT_PROCESSING = "processing"  # the provider is still working on it
INTENT_FAILED = "failed"  # declined (the attempt is over)
INTENT_CANCELED = "canceled"
REFUND_SUCCEEDED = "succeeded"
REFUND_PENDING = "pending"
REFUND_FAILED = "failed"

MAX_KEY_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    account_id: int
    provider: str
    kind: str
    amount: Decimal
    currency: str
    status: str
    idempotency_key: str
    provider_ref: str | None
    invoice_id: int | None
    refund_of: int | None
    failure: str
    attempts: int
    next_attempt_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class InvalidTransition(InvalidInput):
    """A status change the payment's status does not allow."""


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def check_transition(payment: Payment, new: str) -> None:
    if not can_transition(payment.status, new):
        raise InvalidTransition(f"payment {payment.id} is {payment.status}: it cannot become {new}")


# -- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``CSMS_PAYMENT_*``: how a failed card payment of a receivable is tried again, and how
    long the worker waits before it looks at a payment whose outcome it has not heard."""

    max_attempts: int = 4
    first_delay: float = 3600.0
    max_delay: float = 259_200.0
    check_after: float = 600.0
    expire_after: float = 86_400.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or min(self.first_delay, self.max_delay, self.check_after) <= 0:
            raise ValueError("a retry policy needs at least one attempt and positive delays")


def retry_delay(attempt: int, policy: RetryPolicy) -> timedelta:
    """How long after the failure of attempt ``attempt`` (1, 2, ...) the next one is made:
    exponential, doubling from ``first_delay``, at most ``max_delay``."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    seconds = policy.first_delay * 2 ** min(attempt - 1, 62)
    return timedelta(seconds=min(seconds, policy.max_delay))


def retry_schedule(policy: RetryPolicy) -> list[timedelta]:
    """The waits between the attempts of a payment that keeps failing."""
    return [retry_delay(n, policy) for n in range(1, policy.max_attempts)]


def retries(payment: Payment) -> bool:
    """Only a card payment of a receivable is retried (a top-up is the driver's to retry)."""
    return payment.kind == INVOICE and payment.provider != MANUAL


def on_session(payment: Payment) -> bool:
    """A card top-up is paid by its driver, who confirms it (the customer is there); a
    receivable is charged to the account's saved card (off session)."""
    return payment.kind == TOPUP


# -- what providers are asked and say ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """Ask a provider for ``amount``: with ``payment_method`` and ``confirm`` the provider
    charges a saved card at once (``off_session``: the customer is not there); without,
    the customer confirms (``client_secret``)."""

    amount: Decimal
    currency: str
    idempotency_key: str
    description: str
    metadata: Mapping[str, str]
    payment_method: str | None = None
    confirm: bool = False
    off_session: bool = False


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """A provider's view of one attempt (a payment intent)."""

    ref: str
    status: str  # INTENT_*
    amount: Decimal
    currency: str
    payment_id: int | None = None  # ours, from the metadata we gave it
    attempt: int | None = None
    failure: str = ""
    client_secret: str | None = field(default=None, repr=False)
    amount_received: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    ref: str
    status: str  # REFUND_*
    amount: Decimal
    currency: str
    payment_id: int | None = None  # our refund payment, from the metadata
    failure: str = ""
    memo: str = ""  # why it was refunded (our metadata)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified webhook: its id (deduplicated), type and what it reports."""

    id: str
    type: str
    payload: dict[str, Any]
    payment: ProviderPayment | None = None
    refunds: tuple[ProviderRefund, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """What a report does to a payment: ``payment`` is its new state (None: unchanged),
    ``entry`` the ledger entry to post with it; ``outcome`` says why, for the record."""

    outcome: str
    payment: Payment | None = None
    entry: Entry | None = None


Decide = Callable[[Payment], Decision]


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A verified webhook event, kept once per (provider, event id)."""

    provider: str
    event_id: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    provider: str
    event_id: str
    type: str
    payment_id: int | None
    outcome: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying decisions did: nothing (``duplicate``: the event was handled before), or
    per payment its state after and the decision taken (``payment`` None: not found)."""

    duplicate: bool
    results: tuple[tuple[Payment | None, Decision], ...] = ()


def entry_for(payment: Payment, *, prepaid: bool, memo: str = "", by: str | None = None) -> Entry:
    """The ledger entry of a payment that succeeded (keyed by the payment: posted once)."""
    if payment.kind == TOPUP:
        entry = ledger.topup_entry(
            account_id=payment.account_id,
            provider=payment.provider,
            currency=payment.currency,
            amount=payment.amount,
            payment_id=payment.id,
            created_by=by,
        )
    elif payment.kind == INVOICE:
        entry = replace(
            ledger.invoice_payment_entry(
                account_id=payment.account_id,
                provider=payment.provider,
                currency=payment.currency,
                amount=payment.amount,
                payment_id=payment.id,
                invoice_id=payment.invoice_id,
            ),
            created_by=by,
        )
    else:
        entry = ledger.refund_entry(
            account_id=payment.account_id,
            prepaid=prepaid,
            provider=payment.provider,
            currency=payment.currency,
            amount=payment.amount,
            payment_id=payment.id,
            created_by=by,
        )
    return replace(entry, memo=f"{entry.memo}: {memo}") if memo else entry


def succeed(
    payment: Payment,
    ref: str | None,
    *,
    prepaid: bool,
    now: datetime,
    memo: str = "",
    by: str | None = None,
) -> Decision:
    """The money arrived (any attempt's): succeeded, with its entry (``by``: who asked for
    the payment, unless said); twice is once."""
    if payment.status == SUCCEEDED:
        return Decision("already_succeeded")
    if not can_transition(payment.status, SUCCEEDED):
        return Decision(f"ignored: the payment is {payment.status}")
    done = replace(
        payment,
        status=SUCCEEDED,
        provider_ref=ref or payment.provider_ref,
        failure="",
        next_attempt_at=None,
        updated_at=now,
    )
    entry = entry_for(done, prepaid=prepaid, memo=memo, by=by or payment.created_by)
    return Decision(SUCCEEDED, done, entry)


def attempt_failed(
    payment: Payment, attempt: int | None, failure: str, *, now: datetime, policy: RetryPolicy
) -> Decision:
    """Attempt ``attempt`` was declined: retry later (a receivable with attempts left), or
    the payment failed. A report of an older attempt, or of a failure already known,
    changes nothing."""
    if payment.status != PENDING:
        return Decision(f"ignored: the payment is {payment.status}")
    if attempt is not None and attempt != payment.attempts:
        return Decision(f"stale: attempt {attempt} of {payment.attempts}")
    if payment.failure:
        return Decision("already_failed")
    failure = failure or "declined"
    if retries(payment) and payment.attempts < policy.max_attempts:
        at = now + retry_delay(max(payment.attempts, 1), policy)
        return Decision(
            "retry_scheduled", replace(payment, failure=failure, next_attempt_at=at, updated_at=now)
        )
    done = replace(payment, status=FAILED, failure=failure, next_attempt_at=None, updated_at=now)
    return Decision(FAILED, done)


def give_up(payment: Payment, *, now: datetime) -> Decision:
    """No attempt left after a known failure: the payment failed."""
    if payment.status != PENDING:
        return Decision(f"ignored: the payment is {payment.status}")
    done = replace(payment, status=FAILED, next_attempt_at=None, updated_at=now)
    return Decision(FAILED, done)


def canceled(payment: Payment, *, now: datetime) -> Decision:
    if not can_transition(payment.status, CANCELED):
        return Decision(f"ignored: the payment is {payment.status}")
    done = replace(payment, status=CANCELED, next_attempt_at=None, updated_at=now)
    return Decision(CANCELED, done)


def on_report(
    payment: Payment,
    report: ProviderPayment,
    *,
    prepaid: bool,
    now: datetime,
    policy: RetryPolicy,
) -> Decision:
    """What a provider's report of a payment's attempt (webhook, answer, look-up) does."""
    if report.currency.upper() != payment.currency:
        return Decision(f"mismatch: {report.currency} is not {payment.currency}")
    if report.status == INTENT_SUCCEEDED:
        received = report.amount if report.amount_received is None else report.amount_received
        if received != payment.amount:
            return Decision(f"mismatch: {received} received for {payment.amount}")
        return succeed(payment, report.ref, prepaid=prepaid, now=now)
    if report.status == INTENT_FAILED:
        return attempt_failed(payment, report.attempt, report.failure, now=now, policy=policy)
    if report.status == INTENT_CANCELED:
        if report.attempt is not None and report.attempt != payment.attempts:
            return Decision(f"stale: attempt {report.attempt} of {payment.attempts}")
        return canceled(payment, now=now)
    if report.status == INTENT_CAPTURABLE:
        return Decision("capture" if payment.status == PENDING else "ignored")
    return Decision(report.status)  # waiting, processing: nothing to do yet


def on_refund_report(
    refund: Payment, report: ProviderRefund, *, prepaid: bool, now: datetime
) -> Decision:
    if report.status == REFUND_SUCCEEDED:
        if report.amount != refund.amount:
            return Decision(f"mismatch: {report.amount} refunded for {refund.amount}")
        return succeed(refund, report.ref, prepaid=prepaid, now=now, memo=report.memo)
    if report.status == REFUND_FAILED:
        if refund.status != PENDING:
            return Decision(f"ignored: the refund is {refund.status}")
        done = replace(
            refund,
            status=FAILED,
            provider_ref=report.ref,
            failure=report.failure or "refund failed",
            next_attempt_at=None,
            updated_at=now,
        )
        return Decision(FAILED, done)
    return Decision(report.status)


def write_off(payment: Payment, *, reason: str, by: str, now: datetime) -> Decision:
    """Give up on a failed payment of a receivable: written off, with a write-off entry
    that records who and why."""
    if payment.kind != INVOICE:
        raise InvalidInput(
            f"payment {payment.id} is a {payment.kind}: only a failed payment of a postpaid "
            "account's receivable can be written off"
        )
    check_transition(payment, WRITTEN_OFF)
    entry = replace(
        ledger.write_off_entry(
            account_id=payment.account_id,
            currency=payment.currency,
            amount=payment.amount,
            key=f"write_off:payment:{payment.id}",
            memo=reason,
            created_by=by,
        ),
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
    )
    done = replace(payment, status=WRITTEN_OFF, next_attempt_at=None, updated_at=now)
    return Decision(WRITTEN_OFF, done, entry)


# -- refunds ----------------------------------------------------------------------------------


def check_refund(payment: Payment, amount: Decimal, refunded: Decimal) -> None:
    """A refund of ``amount`` from ``payment``, of which ``refunded`` is refunded (or being
    refunded) already: never more than was paid."""
    if payment.kind == REFUND:
        raise InvalidInput(f"payment {payment.id} is a refund: it cannot be refunded")
    if payment.status != SUCCEEDED:
        raise InvalidInput(
            f"payment {payment.id} is {payment.status}: only a succeeded payment can be refunded"
        )
    left = payment.amount - refunded
    if amount > left:
        raise InvalidInput(
            f"amount: at most {left} {payment.currency} can be refunded "
            f"({refunded} of {payment.amount} refunded already)"
        )


# -- money on the wire ------------------------------------------------------------------------


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``12.34`` EUR as ``1234``; an amount finer than the currency's minor unit is refused."""
    scaled = amount.scaleb(minor_unit_places(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"amount: {amount} is finer than a {currency} minor unit")
    return int(scaled)


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-minor_unit_places(currency))


def check_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise InvalidInput(f"Idempotency-Key: 1-{MAX_KEY_LENGTH} printable ASCII characters")
    return key


# -- webhook signatures (the card processor's scheme) -----------------------------------------

SIGNATURE_SCHEME = "v1"


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<payload>"`` with ``secret``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """``t=<unix time>,v1=<signature>``: what the processor sends as ``Stripe-Signature``."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={signature(payload, secret, timestamp)}"


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: float,
) -> int:
    """The timestamp of a webhook whose signature header is valid: a ``v1`` signature made
    with one of ``secrets`` (two while a secret is rolled over) over this very payload, at
    most ``tolerance`` seconds from ``now``. WebhookRejected otherwise, saying why."""
    if not header:
        raise WebhookRejected("no signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookRejected("the signature's timestamp is not a number") from None
        elif name == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise WebhookRejected("the signature header has no timestamp")
    if not signatures:
        raise WebhookRejected(f"the signature header has no {SIGNATURE_SCHEME} signature")
    expected = [signature(payload, secret, timestamp) for secret in secrets if secret]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise WebhookRejected("the signature does not match the payload")
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(
            f"the signature's timestamp is {abs(now - timestamp):.0f} s away from now "
            f"(tolerance {tolerance:.0f} s): a replay or a clock problem"
        )
    return timestamp
