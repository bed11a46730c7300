"""The settlement review queue: ended sessions settlement could not bill, with the reason;
an operator sets the energy (priced again with the session's tariff version), prices it by
hand, waives it, or settles it again after fixing what was wrong (docs/topics/billing.md).
Each resolution is recorded with the operator's username."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from backoffice.deps import Operator, PageDep, PoolDep, Reader
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.accounts import account_public, charge_public
from backoffice.routes.transactions import transactions_public
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.reviews import (
    ManualPrice,
    ResolutionPublic,
    ReviewDetail,
    ReviewPublic,
    ReviewStatus,
    SetEnergy,
    Waive,
)
from backoffice.services.billing import Billing, BillingDep
from csms.domain.billing import Review
from csms.errors import NotFound
from csms.services.billing import SettleOutcome
from csms.store import billing as billing_store
from csms.store import transactions

router = APIRouter(prefix=f"{API}/settlement-reviews", tags=["settlement reviews"])

ReviewPk = Annotated[
    int, Path(ge=1, le=MAX_BIGINT, description="The session's `id` (/transactions)")
]


def review_public(review: Review) -> ReviewPublic:
    return ReviewPublic(**dataclasses.asdict(review))


async def _resolution(
    billing: Billing, transaction_pk: int, outcome: SettleOutcome | None
) -> ResolutionPublic:
    review = await billing.settlement.review(transaction_pk)
    if outcome is None:  # waived
        return ResolutionPublic(
            transaction_pk=transaction_pk, outcome="waived", review=review_public(review)
        )
    charge = outcome.charge
    return ResolutionPublic(
        transaction_pk=transaction_pk,
        outcome=outcome.outcome,  # charged | review | already
        reason=outcome.reason,
        charge=None if charge is None else charge_public(charge),
        review=review_public(review),
    )


@router.get("", response_model=Page[ReviewPublic])
async def list_reviews(
    _: Reader,
    billing: BillingDep,
    page: PageDep,
    status: Annotated[
        ReviewStatus | Literal["all"],
        Query(description="open (what needs an operator), resolved, or all"),
    ] = "open",
) -> Page[ReviewPublic]:
    """By session, oldest first."""
    after = decode_cursor(page.cursor, int) or 0
    rows = await billing.settlement.reviews(
        status=None if status == "all" else status, after_pk=after, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda r: r.transaction_pk)
    return Page(items=[review_public(r) for r in items], next_cursor=cursor)


@router.get("/{transaction_pk}", response_model=ReviewDetail)
async def get_review(
    _: Reader, pool: PoolDep, billing: BillingDep, transaction_pk: ReviewPk
) -> ReviewDetail:
    """The review with its session, the account its token bills to now, and its charge
    once resolved with one."""
    review = await billing.settlement.review(transaction_pk)
    session = await transactions.get_by_pk(pool, transaction_pk)
    if session is None:  # deleted meanwhile (its review goes with it)
        raise NotFound(f"session {transaction_pk} is not in review")
    (public,) = await transactions_public(pool, [session])
    account = (
        None
        if session.id_token is None
        else await billing.accounts.account_of_token(session.id_token)
    )
    charge = await billing_store.charge_of(pool, transaction_pk)
    return ReviewDetail(
        **review_public(review).model_dump(),
        session=public,
        account=None if account is None else account_public(account),
        charge=None if charge is None else charge_public(charge),
    )


@router.post("/{transaction_pk}/set-energy", response_model=ResolutionPublic)
async def set_energy(
    caller: Operator, billing: BillingDep, transaction_pk: ReviewPk, body: SetEnergy
) -> ResolutionPublic:
    """The session's energy as the operator found it: it is priced again with its own
    tariff version and charged (or stays in review with the next reason)."""
    outcome = await billing.settlement.set_energy(
        transaction_pk, body.energy_wh, by=caller.username
    )
    return await _resolution(billing, transaction_pk, outcome)


@router.post("/{transaction_pk}/price", response_model=ResolutionPublic)
async def price(
    caller: Operator, billing: BillingDep, transaction_pk: ReviewPk, body: ManualPrice
) -> ResolutionPublic:
    """Charge the session a price given by hand (VAT included at ``vat_rate``)."""
    outcome = await billing.settlement.price(
        transaction_pk, body.incl_vat, body.vat_rate, by=caller.username
    )
    return await _resolution(billing, transaction_pk, outcome)


@router.post("/{transaction_pk}/waive", response_model=ResolutionPublic)
async def waive(
    caller: Operator, billing: BillingDep, transaction_pk: ReviewPk, body: Waive
) -> ResolutionPublic:
    """The session is free: no charge (a hold taken for it is released)."""
    await billing.settlement.waive(transaction_pk, note=body.note, by=caller.username)
    return await _resolution(billing, transaction_pk, None)


@router.post("/{transaction_pk}/retry", response_model=ResolutionPublic)
async def retry(
    caller: Operator, billing: BillingDep, transaction_pk: ReviewPk
) -> ResolutionPublic:
    """Settle again as things are now (after linking the token to an account, publishing a
    tariff, ...); it stays in review, with the reason, if it still cannot be billed."""
    outcome = await billing.settlement.retry(transaction_pk, by=caller.username)
    return await _resolution(billing, transaction_pk, outcome)
