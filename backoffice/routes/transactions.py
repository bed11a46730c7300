"""Charging sessions with filters, one session with its meter values, and its cost."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from backoffice.deps import AnyUser, PageDep, PoolDep, ServicesDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Principal
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.transactions import (
    CostLinePublic,
    MeterValuePublic,
    TransactionCost,
    TransactionDetail,
    TransactionPublic,
)
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.domain.cost import CostBreakdown
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import Transaction
from csms.errors import NotFound
from csms.store import meter_values, token_owners, transactions
from csms.store.executor import Executor

router = APIRouter(prefix=f"{API}/transactions", tags=["transactions"])


TransactionPk = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="`id` of the list")]


def transaction_public(t: Transaction, cost: SessionCost | None = None) -> TransactionPublic:
    priced: dict[str, object] = {}
    if cost is not None:
        priced = {
            "tariff_id": cost.tariff_id,
            "tariff_version": cost.tariff_version,
            "currency": cost.currency,
            "cost_excl_vat": cost.excl_vat,
            "cost_vat": cost.vat,
            "cost_incl_vat": cost.incl_vat,
            "cost_final": cost.final,
        }
    return TransactionPublic(
        **{name: getattr(t, name) for name in Transaction.__slots__},
        active=t.active,
        **priced,
    )


async def transactions_public(db: Executor, rows: list[Transaction]) -> list[TransactionPublic]:
    """``rows`` with their tariff and cost totals (one more round trip for all of them)."""
    costs = await transactions.cost_totals(db, [t.id for t in rows])
    return [transaction_public(t, costs.get(t.id)) for t in rows]


async def visible(db: Executor, caller: Principal, transaction_pk: int) -> Transaction:
    """The session, if the caller may see it; NotFound otherwise (a driver cannot tell
    another driver's session from one that does not exist)."""
    transaction = await transactions.get_by_pk(db, transaction_pk)
    if transaction is not None and caller.is_driver:
        owner = (
            await token_owners.owner_of(db, transaction.id_token) if transaction.id_token else None
        )
        if owner != caller.user_id:
            transaction = None
    if transaction is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    return transaction


@router.get("", response_model=Page[TransactionPublic])
async def list_transactions(
    caller: AnyUser,
    pool: PoolDep,
    page: PageDep,
    charge_point_id: Annotated[str | None, Query(max_length=MAX_CHARGE_POINT_ID)] = None,
    id_token: Annotated[str | None, Query(max_length=36)] = None,
    user_id: Annotated[
        int | None, Query(ge=1, le=MAX_BIGINT, description="Sessions of this driver's tokens")
    ] = None,
    active: Annotated[bool | None, Query(description="Only ongoing (true) or ended")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Started at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Started before")] = None,
) -> Page[TransactionPublic]:
    """Newest first. A driver sees only sessions of their own id tokens."""
    before = decode_cursor(page.cursor, int)
    if caller.is_driver:
        if user_id not in (None, caller.user_id):
            return Page(items=[])  # another driver's sessions: none that this caller may see
        user_id = caller.user_id
    if user_id is not None:
        rows = await token_owners.list_transactions_of_user(
            pool,
            user_id,
            charge_point_id=charge_point_id,
            id_token=id_token,
            active=active,
            since=since,
            until=until,
            limit=page.limit + 1,
            before_pk=before,
        )
    else:
        rows = await transactions.list_transactions(
            pool,
            charge_point_id=charge_point_id,
            id_token=id_token,
            active=active,
            since=since,
            until=until,
            limit=page.limit + 1,
            before_pk=before,
        )
    items, cursor = page_of(rows, page.limit, lambda t: t.id)
    return Page(items=await transactions_public(pool, items), next_cursor=cursor)


@router.get("/{transaction_pk}", response_model=TransactionDetail)
async def get_transaction(
    caller: AnyUser, pool: PoolDep, transaction_pk: TransactionPk
) -> TransactionDetail:
    """One session with every meter value. Another driver's session answers 404."""
    transaction = await visible(pool, caller, transaction_pk)
    samples = await meter_values.list_for_transaction(pool, transaction.id)
    (public,) = await transactions_public(pool, [transaction])
    return TransactionDetail(
        **public.model_dump(),
        meter_values=[MeterValuePublic(**s) for s in samples],
    )


@router.get("/{transaction_pk}/cost", response_model=TransactionCost)
async def transaction_cost(
    caller: AnyUser, pool: PoolDep, services: ServicesDep, transaction_pk: TransactionPk
) -> TransactionCost:
    """The session's cost with its breakdown: running while it charges (recomputed at most
    every `CSMS_COST_UPDATE_INTERVAL`), final once it ended. Another driver's session
    answers 404."""
    transaction = await visible(pool, caller, transaction_pk)
    stored = await services.pricing.stored_cost(transaction.id)
    if stored is None:  # deleted meanwhile
        raise NotFound(f"transaction {transaction_pk} not found")
    breakdown = None if stored.breakdown is None else CostBreakdown.from_json(stored.breakdown)
    return TransactionCost(
        id=transaction.id,
        tariff_id=stored.tariff_id,
        tariff_version=stored.tariff_version,
        currency=stored.currency,
        total_excl_vat=stored.excl_vat,
        total_vat=stored.vat,
        total_incl_vat=stored.incl_vat,
        final=stored.final,
        computed_at=stored.computed_at,
        capped=None if breakdown is None else breakdown.capped,
        lines=[]
        if breakdown is None
        else [
            CostLinePublic(
                dimension=line.dimension.value,
                element=line.element,
                volume=line.volume,
                billed_volume=line.billed_volume,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
                excl_vat=line.excl_vat,
                vat=line.vat,
                incl_vat=line.incl_vat,
                started_at=line.started_at,
                ended_at=line.ended_at,
            )
            for line in breakdown.lines
        ],
    )
