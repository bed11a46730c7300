"""Charging sessions with filters, and one session with its meter values."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from backoffice.deps import AnyUser, PageDep, PoolDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.transactions import MeterValuePublic, TransactionDetail, TransactionPublic
from csms.domain.charge_points import MAX_CHARGE_POINT_ID
from csms.domain.transactions import Transaction
from csms.errors import NotFound
from csms.store import meter_values, token_owners, transactions

router = APIRouter(prefix=f"{API}/transactions", tags=["transactions"])


def transaction_public(t: Transaction) -> TransactionPublic:
    return TransactionPublic(
        **{name: getattr(t, name) for name in Transaction.__slots__},
        active=t.active,
    )


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
    return Page(items=[transaction_public(t) for t in items], next_cursor=cursor)


@router.get("/{transaction_pk}", response_model=TransactionDetail)
async def get_transaction(
    caller: AnyUser,
    pool: PoolDep,
    transaction_pk: Annotated[int, Path(ge=1, le=MAX_BIGINT, description="`id` of the list")],
) -> TransactionDetail:
    """One session with every meter value. Another driver's session answers 404."""
    transaction = await transactions.get_by_pk(pool, transaction_pk)
    if transaction is not None and caller.is_driver:
        owner = (
            await token_owners.owner_of(pool, transaction.id_token)
            if transaction.id_token
            else None
        )
        if owner != caller.user_id:
            transaction = None
    if transaction is None:
        raise NotFound(f"transaction {transaction_pk} not found")
    samples = await meter_values.list_for_transaction(pool, transaction.id)
    return TransactionDetail(
        **transaction_public(transaction).model_dump(),
        meter_values=[MeterValuePublic(**s) for s in samples],
    )
