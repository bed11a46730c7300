"""Invoices and credit notes, their PDFs, billing runs, and a driver's own invoices.

Staff list every invoice; a driver reads only the invoices of their own billing account
(``/me/invoices``; another's answers 404 like one that does not exist). Operators issue
credit notes and ask for billing runs, which ``csms worker`` carries out.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from backoffice.deps import AnyUser, Operator, PageDep, PageParams, PoolDep, Reader, StateDep
from backoffice.pagination import Page, decode_cursor, page_of
from backoffice.permissions import Principal
from backoffice.routes import API
from backoffice.schemas.common import MAX_BIGINT
from backoffice.schemas.invoices import (
    BillingRunCreate,
    BillingRunPublic,
    CreditNoteCreate,
    InvoiceDetail,
    InvoicePublic,
    Kind,
    PeriodText,
)
from csms.domain.clock import utc_now
from csms.domain.invoices import Invoice, invoice_json
from csms.errors import NotFound
from csms.services.invoice_pdf import PdfOptions, render_pdf
from csms.services.invoices import InvoiceOptions, InvoiceService
from csms.store import billing
from csms.store.executor import Executor
from csms.store.invoices import PostgresInvoices
from csms.store.jobs import PgJobQueue

router = APIRouter(prefix=f"{API}/invoices", tags=["invoices"])
billing_router = APIRouter(prefix=f"{API}/billing", tags=["invoices"])
me_router = APIRouter(prefix=f"{API}/me", tags=["invoices"])

InvoiceId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="`id` of the list")]


def _invoices(state: StateDep) -> InvoiceService:
    return InvoiceService(
        PostgresInvoices(state.pool),
        PgJobQueue(state.pool),
        clock=utc_now,
        options=InvoiceOptions.from_settings(state.settings),
    )


InvoicesDep = Annotated[InvoiceService, Depends(_invoices)]


def _public(invoice: Invoice, caller: Principal) -> dict[str, Any]:
    data = invoice_json(invoice, lines=False)
    if caller.is_driver:
        data["created_by"] = None  # staff names are not for drivers
    return data


def invoice_detail(invoice: Invoice, caller: Principal) -> InvoiceDetail:
    data = invoice_json(invoice)
    if caller.is_driver:
        data["created_by"] = None
    return InvoiceDetail.model_validate(data)


async def visible(
    invoices: InvoiceService, db: Executor, caller: Principal, invoice_id: int
) -> Invoice:
    """The invoice, if the caller may see it: a driver only their own account's (another's
    answers NotFound, exactly like one that does not exist)."""
    invoice = await invoices.invoice(invoice_id)
    if caller.is_driver:
        account = await billing.get_account(db, invoice.account_id)
        if account is None or account.user_id != caller.user_id:
            raise NotFound(f"invoice {invoice_id} not found")
    return invoice


async def _page(
    invoices: InvoiceService,
    caller: Principal,
    page: PageParams,
    *,
    account_id: int | None,
    kind: str | None,
    period: str | None,
    transaction_pk: int | None = None,
) -> Page[InvoicePublic]:
    rows = await invoices.invoices(
        account_id=account_id,
        kind=kind,
        period=period,
        transaction_pk=transaction_pk,
        before_id=decode_cursor(page.cursor, int),
        limit=page.limit + 1,
    )
    items, cursor = page_of(rows, page.limit, lambda i: i.id)
    return Page(
        items=[InvoicePublic.model_validate(_public(i, caller)) for i in items],
        next_cursor=cursor,
    )


@router.get("", response_model=Page[InvoicePublic])
async def list_invoices(
    caller: Reader,
    invoices: InvoicesDep,
    page: PageDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    kind: Kind | None = None,
    period: Annotated[
        PeriodText | None,
        Query(description="That month's invoices, and invoices and credit notes issued in it"),
    ] = None,
    transaction_pk: Annotated[
        int | None,
        Query(ge=1, le=MAX_BIGINT, description="The invoice that bills this session's charge"),
    ] = None,
) -> Page[InvoicePublic]:
    """Invoices and credit notes, newest first (without their lines)."""
    return await _page(
        invoices,
        caller,
        page,
        account_id=account_id,
        kind=kind,
        period=period,
        transaction_pk=transaction_pk,
    )


@router.get("/{invoice_id}", response_model=InvoiceDetail)
async def get_invoice(
    caller: AnyUser, pool: PoolDep, invoices: InvoicesDep, invoice_id: InvoiceId
) -> InvoiceDetail:
    """One invoice or credit note with its lines. Another driver's answers 404."""
    return invoice_detail(await visible(invoices, pool, caller, invoice_id), caller)


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
)
async def invoice_pdf(
    caller: AnyUser, state: StateDep, invoices: InvoicesDep, invoice_id: InvoiceId
) -> Response:
    """The invoice as an A4 PDF. Another driver's answers 404."""
    invoice = await visible(invoices, state.pool, caller, invoice_id)
    options = PdfOptions.from_settings(state.settings)
    pdf = await asyncio.to_thread(render_pdf, invoice, options)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number_text}.pdf"'},
    )


@router.post(
    "/{invoice_id}/credit-notes",
    response_model=InvoiceDetail,
    status_code=status.HTTP_201_CREATED,
)
async def credit_invoice(
    caller: Operator, invoices: InvoicesDep, invoice_id: InvoiceId, body: CreditNoteCreate
) -> InvoiceDetail:
    """Issue a credit note of an invoice: all that is left of it, `amount` (VAT included),
    or whole `lines`; never more than what is left. Its ledger entry records `reason` and
    who issued it."""
    note = await invoices.credit(
        invoice_id,
        reason=body.reason,
        by=caller.username,
        amount=body.amount,
        lines=body.lines,
    )
    return invoice_detail(note, caller)


@billing_router.post("/runs", response_model=BillingRunPublic, status_code=status.HTTP_202_ACCEPTED)
async def request_billing_run(
    caller: Operator, invoices: InvoicesDep, body: BillingRunCreate
) -> BillingRunPublic:
    """Queue the billing run of a month that has ended: `csms worker` invoices every account
    invoiced per period that has uninvoiced charges, each once (a second run issues
    nothing). Follow it with `GET /invoices?period=...`."""
    run = await invoices.request_run(body.period)
    return BillingRunPublic(
        period=run.period.name,
        period_start=run.period.start,
        period_end=run.period.end,
        queued=run.queued,
        accounts=run.accounts,
    )


@me_router.get("/invoices", response_model=Page[InvoicePublic])
async def my_invoices(
    caller: AnyUser,
    pool: PoolDep,
    invoices: InvoicesDep,
    page: PageDep,
    kind: Kind | None = None,
    period: Annotated[PeriodText | None, Query()] = None,
) -> Page[InvoicePublic]:
    """The caller's own invoices and credit notes (of the billing account linked to their
    user), newest first; none without an account."""
    account = await billing.account_of_user(pool, caller.user_id)
    if account is None:
        return Page(items=[])
    return await _page(invoices, caller, page, account_id=account.id, kind=kind, period=period)
