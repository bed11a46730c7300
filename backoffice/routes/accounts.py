"""Billing accounts (prepaid wallets, postpaid receivables): open, change, block, close;
their balances, ledger entries and charges; which account a token bills to; the trial
balance of the whole ledger (docs/topics/billing.md)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from backoffice.deps import Admin, Operator, PageDep, PoolDep, Reader
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.routes import API
from backoffice.routes.id_tokens import IdTokenPath
from backoffice.schemas.accounts import (
    AccountCreate,
    AccountDetail,
    AccountPublic,
    AccountStatus,
    AccountUpdate,
    BalancesPublic,
    ChargePublic,
    Currency,
    Kind,
    LedgerEntryPublic,
    PostingPublic,
    StandingPublic,
    TokenAccount,
    TokenAccountPublic,
    TrialBalance,
    TrialBalanceCurrency,
    TrialBalanceLine,
    VatLinePublic,
)
from backoffice.schemas.common import MAX_BIGINT
from backoffice.services.billing import BillingDep
from csms.domain.billing import Account, Charge, LedgerEntry
from csms.errors import InvalidInput
from csms.services.accounts import AccountService, AccountView
from csms.store import billing as billing_store
from csms.store import id_tokens

router = APIRouter(prefix=API, tags=["accounts"])

AccountIdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
# fields an update may set to null (the others are refused as null: they have no "none")
NULLABLE = frozenset({"user_id", "payment_method"})


def account_public(account: Account) -> AccountPublic:
    return AccountPublic(**dataclasses.asdict(account))


async def account_detail(accounts: AccountService, view: AccountView) -> AccountDetail:
    refused = await accounts.refusal_to_start(view.account)
    return AccountDetail(
        **account_public(view.account).model_dump(),
        balances=BalancesPublic(**view.balances.as_dict()),
        standing=StandingPublic(
            may_start=refused is None,
            reason=None if refused is None else refused.reason,
            detail=None if refused is None else refused.detail,
        ),
    )


def charge_public(charge: Charge) -> ChargePublic:
    data = dataclasses.asdict(charge)
    data["vat_lines"] = [VatLinePublic(**dataclasses.asdict(v)) for v in charge.vat_lines]
    return ChargePublic(**data)


def entry_public(entry: LedgerEntry) -> LedgerEntryPublic:
    data = {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}
    data["postings"] = [
        PostingPublic(ledger_account=p.ledger_account, currency=p.currency, amount=p.amount)
        for p in entry.postings
    ]
    return LedgerEntryPublic(**data)


@router.get("/accounts", response_model=Page[AccountPublic])
async def list_accounts(
    _: Reader,
    billing: BillingDep,
    page: PageDep,
    status_: Annotated[AccountStatus | None, Query(alias="status")] = None,
    kind: Kind | None = None,
    currency: Annotated[Currency | None, Query()] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="In the name or e-mail")
    ] = None,
) -> Page[AccountPublic]:
    """By id. Balances are on each account (`GET /accounts/{id}`)."""
    if q is not None and "\x00" in q:
        raise InvalidInput("q: must not contain NUL characters")
    after = decode_cursor(page.cursor, int) or 0
    rows = await billing.accounts.accounts(
        after_id=after,
        limit=page.limit + 1,
        status=status_,
        kind=kind,
        currency=currency,
        user_id=user_id,
        text=q,
    )
    items, cursor = page_of(rows, page.limit, lambda a: a.id)
    return Page(items=[account_public(a) for a in items], next_cursor=cursor)


@router.post("/accounts", response_model=AccountDetail, status_code=status.HTTP_201_CREATED)
async def create_account(
    _: Operator, billing: BillingDep, body: AccountCreate, response: Response
) -> AccountDetail:
    """Open a prepaid or postpaid account in a currency (for a driver: ``user_id``; their
    tokens then bill to it). 404 unknown user; 422 a bad field, or the user has an
    account already."""
    fields = body.model_dump(exclude={"kind", "currency", "name"})
    account = await billing.accounts.open(body.kind, body.currency, body.name, **fields)
    response.headers["Location"] = f"{API}/accounts/{account.id}"
    return await account_detail(billing.accounts, await billing.accounts.view(account.id))


@router.get("/accounts/{account_id}", response_model=AccountDetail)
async def get_account(_: Reader, billing: BillingDep, account_id: AccountIdPath) -> AccountDetail:
    """The account with its balances (wallet, held, receivable) and whether its tokens may
    start a session now."""
    return await account_detail(billing.accounts, await billing.accounts.view(account_id))


@router.patch("/accounts/{account_id}", response_model=AccountDetail)
async def update_account(
    _: Operator, billing: BillingDep, account_id: AccountIdPath, body: AccountUpdate
) -> AccountDetail:
    """Change fields; block (``status: blocked``, a ``status_reason``), unblock (``open``)
    or close (``closed``: every balance must be zero first; a closed account stays
    closed). Kind and currency never change."""
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name not in NULLABLE:
            raise InvalidInput(f"{name}: cannot be null")
        changes[name] = value
    await billing.accounts.change(account_id, **changes)
    return await account_detail(billing.accounts, await billing.accounts.view(account_id))


@router.get("/accounts/{account_id}/ledger", response_model=Page[LedgerEntryPublic])
async def account_ledger(
    _: Reader, billing: BillingDep, page: PageDep, account_id: AccountIdPath
) -> Page[LedgerEntryPublic]:
    """The account's ledger entries, oldest first, each with every posting (its own and
    the other side: revenue, VAT payable, a provider's clearing account)."""
    after = decode_cursor(page.cursor, int) or 0
    rows = await billing.accounts.ledger(account_id, after_id=after, limit=page.limit + 1)
    items, cursor = page_of(rows, page.limit, lambda e: e.id)
    return Page(items=[entry_public(e) for e in items], next_cursor=cursor)


@router.get("/accounts/{account_id}/charges", response_model=Page[ChargePublic])
async def account_charges(
    _: Reader,
    billing: BillingDep,
    page: PageDep,
    account_id: AccountIdPath,
    uninvoiced: Annotated[bool, Query(description="Only charges on no invoice yet")] = False,
) -> Page[ChargePublic]:
    """One charge per settled session, oldest first."""
    after = decode_cursor(page.cursor, int) or 0
    rows = await billing.accounts.charges(
        account_id, uninvoiced=uninvoiced, after_id=after, limit=page.limit + 1
    )
    items, cursor = page_of(rows, page.limit, lambda c: c.id)
    return Page(items=[charge_public(c) for c in items], next_cursor=cursor)


@router.put("/id-tokens/{id_token}/account", response_model=TokenAccountPublic)
async def link_token(
    _: Operator, pool: PoolDep, billing: BillingDep, id_token: IdTokenPath, body: TokenAccount
) -> TokenAccountPublic:
    """Bill the token to an account (a fleet card to its company's); ``account_id: null``
    bills it to its driver's account again (if its driver has one). 404 token or account;
    422 a closed account."""
    account = await billing.accounts.link_token(id_token, body.account_id)
    via = None if account is None else ("token" if body.account_id is not None else "driver")
    token = await id_tokens.get_id_token(pool, id_token)
    return TokenAccountPublic(
        id_token=id_token if token is None else token.id_token,
        account_id=None if account is None else account.id,
        via=via,
    )


@router.get("/ledger/trial-balance", response_model=TrialBalance)
async def trial_balance(_: Admin, pool: PoolDep) -> TrialBalance:
    """Every ledger account's balance per currency, from one snapshot; each currency's
    balances sum to zero (``balanced``) because every entry does."""
    totals, entries, last = await billing_store.trial_balance_at(pool)
    by_currency: dict[str, list[TrialBalanceLine]] = {}
    for (ledger_account, currency), amount in sorted(totals.items()):
        by_currency.setdefault(currency, []).append(
            TrialBalanceLine(ledger_account=ledger_account, balance=amount)
        )
    currencies = [
        TrialBalanceCurrency(
            currency=currency, lines=lines, total=sum((x.balance for x in lines), Decimal(0))
        )
        for currency, lines in sorted(by_currency.items())
    ]
    return TrialBalance(
        balanced=all(c.total == 0 for c in currencies),
        entries=entries,
        last_entry_id=last,
        currencies=currencies,
    )
