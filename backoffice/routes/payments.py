"""Payments: top-ups (an operator records money received; a driver pays by card), the list
and one payment, refunds, write-offs, and the payment providers' webhooks
(docs/topics/payments.md).

A driver sees and pays only their own account's payments; another account's answers 404,
exactly like one that does not exist. The webhook route is public: the provider's
signature authenticates it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from backoffice.deps import AnyUser, Operator, PageDep, PoolDep, Public, StateDep
from backoffice.errors import ApiError
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Allow, Principal, Role
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.payments import (
    LedgerEntryPublic,
    PaymentDetail,
    PaymentEventPublic,
    PaymentKind,
    PaymentPublic,
    PaymentStatus,
    PostingPublic,
    RefundCreate,
    TopupCreate,
    TopupResult,
    WebhookAnswer,
    WriteOffCreate,
)
from csms.domain.payments import CARD, MANUAL, MAX_KEY_LENGTH, Payment
from csms.errors import InvalidInput, NotFound
from csms.services.payments import PaymentService, PaymentView
from csms.store import billing
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/payments", tags=["payments"])
account_router = APIRouter(prefix=f"{API}/accounts", tags=["payments"])

MAX_WEBHOOK_BYTES = 256 * 1024

PaymentId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
AccountId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
ProviderName = Annotated[str, Path(min_length=1, max_length=32)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=MAX_KEY_LENGTH,
        description="Asking again with the same key answers the same payment (no second one)",
    ),
]
Payer = Annotated[Principal, Depends(Allow(Role.ADMIN, Role.OPERATOR, Role.DRIVER))]
"""Operators record money received; a driver pays into their own account by card."""


def _payments(state: StateDep) -> PaymentService:
    return state.payments


PaymentsDep = Annotated[PaymentService, Depends(_payments)]


class PayloadTooLarge(ApiError):
    status = 413


def payment_public(p: Payment) -> PaymentPublic:
    return PaymentPublic(**{name: getattr(p, name) for name in PaymentPublic.model_fields})


def payment_detail(view: PaymentView) -> PaymentDetail:
    return PaymentDetail(
        **payment_public(view.payment).model_dump(),
        refunded=view.refunded,
        refunds=[payment_public(r) for r in view.refunds],
        ledger=[
            LedgerEntryPublic(
                id=e.id,
                at=e.at,
                kind=e.kind,
                memo=e.memo,
                created_by=e.created_by,
                postings=[
                    PostingPublic(
                        ledger_account=p.ledger_account, currency=p.currency, amount=p.amount
                    )
                    for p in e.postings
                ],
            )
            for e in view.entries
        ],
        events=[
            PaymentEventPublic(
                event_id=e.event_id, type=e.type, outcome=e.outcome, received_at=e.received_at
            )
            for e in view.events
        ],
    )


async def own_account_id(db: Executor, caller: Principal) -> int | None:
    """The account of a driver (None: they have none)."""
    account = await billing.account_of_user(db, caller.user_id)
    return None if account is None else account.id


async def _visible(
    db: Executor, payments: PaymentService, caller: Principal, payment_id: int
) -> Payment:
    payment = await payments.get(payment_id)  # NotFound
    if caller.is_driver and payment.account_id != await own_account_id(db, caller):
        raise NotFound(f"payment {payment_id} not found")
    return payment


async def _payable(caller: Payer, pool: PoolDep, account_id: AccountId) -> tuple[Principal, int]:
    """The caller and the account they pay into: a driver's own only (404 otherwise, before
    the body is looked at, exactly like an account that does not exist)."""
    if caller.is_driver and await own_account_id(pool, caller) != account_id:
        raise NotFound(f"account {account_id} not found")
    return caller, account_id


Payable = Annotated[tuple[Principal, int], Depends(_payable)]


@account_router.post("/{account_id}/topups", response_model=TopupResult, status_code=201)
async def topup(
    payable: Payable,
    payments: PaymentsDep,
    body: TopupCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TopupResult:
    """Money into an account. An operator records money received (`manual`, the default):
    a prepaid wallet's top-up, or a payment of what a postpaid account owes; or, with
    `card`, charges a postpaid account's saved card (a decline is retried). A driver pays
    into their own account by card: a prepaid wallet answers a `client_secret` the app
    confirms the payment with. 201 when new, 200 for a repeated `Idempotency-Key`."""
    caller, account_id = payable
    if caller.is_driver:
        provider = body.provider or CARD
        if provider != CARD:
            raise InvalidInput("provider: a driver pays by card")
    else:
        provider = body.provider or MANUAL
    if body.note and provider != MANUAL:
        raise InvalidInput("note: only a manual payment has a note")
    started = await payments.pay(
        account_id,
        body.amount,
        provider=provider,
        by=caller.username,
        idempotency_key=idempotency_key,
        note=body.note,
        currency=body.currency,
        invoice_id=body.invoice_id,
    )
    response.headers["Location"] = f"{API}/payments/{started.payment.id}"
    if not started.created:
        response.status_code = status.HTTP_200_OK
    return TopupResult(
        **payment_public(started.payment).model_dump(), client_secret=started.client_secret
    )


@router.post("/webhooks/{provider}", response_model=WebhookAnswer)
async def webhook(
    _: Public, payments: PaymentsDep, provider: ProviderName, request: Request
) -> WebhookAnswer:
    """A payment provider's event, authenticated by its signature (`Stripe-Signature` of
    the card processor) within `CSMS_CARD_WEBHOOK_TOLERANCE`: 400 if it is not valid. An
    event received before answers 200 and changes nothing."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes")
    outcome = await payments.webhook(provider, body, request.headers)
    return WebhookAnswer(received=True, duplicate=outcome.duplicate, event_id=outcome.event_id)


@router.get("", response_model=Page[PaymentPublic])
async def list_payments(
    caller: AnyUser,
    pool: PoolDep,
    payments: PaymentsDep,
    page: PageDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    status: Annotated[PaymentStatus | None, Query()] = None,
    kind: Annotated[PaymentKind | None, Query()] = None,
) -> Page[PaymentPublic]:
    """Newest first. A driver sees only their own account's."""
    before = decode_cursor(page.cursor, int)
    if caller.is_driver:
        own = await own_account_id(pool, caller)
        if own is None or account_id not in (None, own):
            return Page(items=[])
        account_id = own
    rows = await payments.list_payments(
        account_id=account_id, status=status, kind=kind, before_id=before, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda p: p.id)
    return Page(items=[payment_public(p) for p in items], next_cursor=cursor)


@router.get("/{payment_id}", response_model=PaymentDetail)
async def get_payment(
    caller: AnyUser, pool: PoolDep, payments: PaymentsDep, payment_id: PaymentId
) -> PaymentDetail:
    """One payment with its refunds, ledger entries and webhook events. Another driver's
    answers 404."""
    payment = await _visible(pool, payments, caller, payment_id)
    return payment_detail(await payments.view(payment.id))


@router.post("/{payment_id}/refund", response_model=PaymentPublic, status_code=201)
async def refund(
    caller: Operator,
    payments: PaymentsDep,
    payment_id: PaymentId,
    body: RefundCreate,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PaymentPublic:
    """Pay back part or all of a succeeded payment (the refund is a payment of its own),
    never more than was paid; a prepaid wallet must still hold it. The provider pays it
    back (manual: the operator did). 201 when new, 200 for a repeated `Idempotency-Key`."""
    started = await payments.refund(
        payment_id,
        body.amount,
        by=caller.username,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"{API}/payments/{started.payment.id}"
    if not started.created:
        response.status_code = status.HTTP_200_OK
    return payment_public(started.payment)


@router.post("/{payment_id}/write-off", response_model=PaymentPublic)
async def write_off(
    caller: Operator, payments: PaymentsDep, payment_id: PaymentId, body: WriteOffCreate
) -> PaymentPublic:
    """Give up on a failed payment of a postpaid account's receivable: `written_off`, with
    a write-off ledger entry recording who and why."""
    return payment_public(
        await payments.write_off(payment_id, reason=body.reason, by=caller.username)
    )
