"""Invoices and credit notes (migration 0006): gap-free numbers, immutable once issued.

An invoice takes its number in the transaction that inserts it: the ``invoice_series`` row
is incremented (and so locked) just before the invoice row is inserted and stays locked
until the commit. Concurrent issues of one series wait for each other there; a transaction
that fails after taking a number rolls the increment back with everything else, so no
number is skipped or used twice. The charges an invoice is made of are locked first
(``FOR UPDATE``, in id order) and must still be uninvoiced; the unique index on
``invoice_lines (charge_id)`` and ``invoices_one_per_period`` are the backstops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.billing import (
    Account,
    Charge,
    invoice_number,
    vat_line_from_json,
    vat_line_json,
)
from csms.domain.invoices import (
    CREDIT_NOTE,
    PRICED_BY_HAND,
    ChargedSession,
    CreditNoteRef,
    Draft,
    Invoice,
    Issued,
    Line,
    Party,
    vat_totals_from_json,
)
from csms.domain.ledger import Entry
from csms.errors import InvalidInput, NotFound
from csms.store.billing import ACCOUNT_COLUMNS, CHARGE_COLUMNS, post
from csms.store.executor import Executor

INVOICE_COLUMNS = """id, series, number, kind, account_id, issued_at, period_start,
    period_end, currency, total_excl_vat, total_vat, total_incl_vat, vat_totals, seller, buyer,
    credits_invoice_id, paid, paid_at"""
LINE_COLUMNS = """line_no, description, vat_rate, excl_vat, vat, incl_vat, charge_id,
    transaction_pk, started_at, ended_at, energy_wh, tariff"""

_CHARGED_SESSIONS = f"""
    SELECT {", ".join(f"c.{c.strip()}" for c in CHARGE_COLUMNS.split(","))},
        t.charge_point_id, t.evse_id, t.connector_id, t.started_at AS session_started_at,
        t.ended_at AS session_ended_at, t.energy_wh, t.tariff_id, t.tariff_version,
        r.resolution
    FROM charges c
    JOIN transactions t ON t.id = c.transaction_pk
    LEFT JOIN settlement_reviews r ON r.transaction_pk = c.transaction_pk"""

ChargesComposer = Callable[[Account, list[ChargedSession]], Draft | None]
CreditComposer = Callable[[Invoice, list[Invoice]], Draft]
EntryOf = Callable[[int, Draft, Account], Entry]


def _charged_session(record: asyncpg.Record) -> ChargedSession:
    data = dict(record)
    if data["resolution"] == "priced":
        tariff = PRICED_BY_HAND
    elif data["tariff_id"] is not None:
        tariff = f"{data['tariff_id']} v{data['tariff_version']}"
    else:
        tariff = ""
    charge = {f.name: data[f.name] for f in fields(Charge)}
    charge["vat_lines"] = tuple(vat_line_from_json(v) for v in charge["vat_lines"])
    return ChargedSession(
        charge=Charge(**charge),
        charge_point_id=data["charge_point_id"],
        evse_id=data["evse_id"],
        connector_id=data["connector_id"],
        started_at=data["session_started_at"],
        ended_at=data["session_ended_at"],
        energy_wh=data["energy_wh"],
        tariff=tariff,
    )


def _line(record: asyncpg.Record) -> Line:
    return Line(**dict(record))


def _invoice(record: asyncpg.Record, lines: Sequence[Line] = (), **extra: Any) -> Invoice:
    data = dict(record)
    data["vat_totals"] = vat_totals_from_json(data["vat_totals"])
    data["seller"] = Party.from_json(data["seller"])
    data["buyer"] = Party.from_json(data["buyer"])
    return Invoice(**data, lines=tuple(lines), **extra)


# -- numbering and writing -----------------------------------------------------------------------


async def take_number(db: Executor, series: str) -> int:
    """The next number of ``series`` (created at 1), inside the caller's transaction: the
    series row stays locked until it commits, and a rollback gives the number back."""
    number: int = await db.fetchval(
        """INSERT INTO invoice_series (series, next_number) VALUES ($1, 2)
           ON CONFLICT (series) DO UPDATE SET next_number = invoice_series.next_number + 1
           RETURNING next_number - 1""",
        series,
    )
    return number


async def _insert(db: Executor, series: str, draft: Draft) -> int:
    totals = draft.totals
    number = await take_number(db, series)  # last: the series row is locked until commit
    invoice_id: int = await db.fetchval(
        """INSERT INTO invoices (series, number, kind, account_id, issued_at, period_start,
               period_end, currency, total_excl_vat, total_vat, total_incl_vat, vat_totals,
               seller, buyer, credits_invoice_id, paid, paid_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           RETURNING id""",
        series,
        number,
        draft.kind,
        draft.account_id,
        draft.issued_at,
        draft.period_start,
        draft.period_end,
        draft.currency,
        totals.excl_vat,
        totals.vat,
        totals.incl_vat,
        [vat_line_json(v) for v in totals.vat_totals],
        draft.seller.to_json(),
        draft.buyer.to_json(),
        draft.credits_invoice_id,
        draft.paid,
        draft.issued_at if draft.paid else None,
    )
    await db.executemany(
        f"""INSERT INTO invoice_lines (invoice_id, {LINE_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        [
            (
                invoice_id,
                line.line_no,
                line.description,
                line.vat_rate,
                line.excl_vat,
                line.vat,
                line.incl_vat,
                line.charge_id,
                line.transaction_pk,
                line.started_at,
                line.ended_at,
                line.energy_wh,
                line.tariff,
            )
            for line in draft.lines
        ],
    )
    return invoice_id


async def issue_invoice(
    pool: asyncpg.Pool,
    *,
    series: str,
    account_id: int,
    compose: ChargesComposer,
    charge_ids: Sequence[int] | None = None,
    ended_before: datetime | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> Issued:
    """Issue an invoice of the account's uninvoiced charges (those in ``charge_ids``, or
    those of sessions ended before ``ended_before``), composed by ``compose`` from the
    locked charges, in one transaction. With ``period``: ``already`` if the account has
    that period's invoice."""
    try:
        async with pool.acquire() as connection, connection.transaction():
            if period is not None:
                existing = await _period_invoice(connection, account_id, period)
                if existing is not None:
                    return Issued("already", await get_invoice(connection, existing))
            account_record = await connection.fetchrow(
                f"SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE id = $1", account_id
            )
            if account_record is None:
                raise NotFound(f"account {account_id} not found")
            records = await connection.fetch(
                f"""{_CHARGED_SESSIONS}
                    WHERE c.account_id = $1 AND c.invoice_id IS NULL
                      AND ($2::bigint[] IS NULL OR c.id = ANY($2))
                      AND ($3::timestamptz IS NULL OR t.ended_at < $3)
                    ORDER BY c.id FOR UPDATE OF c""",
                account_id,
                None if charge_ids is None else list(charge_ids),
                ended_before,
            )
            if not records:
                return Issued("nothing")
            sessions = [_charged_session(r) for r in records]
            draft = compose(Account(**dict(account_record)), sessions)
            if draft is None:
                return Issued("nothing")
            invoice_id = await _insert(connection, series, draft)
            marked = await connection.execute(
                """UPDATE charges SET invoice_id = $1
                   WHERE id = ANY($2::bigint[]) AND invoice_id IS NULL""",
                invoice_id,
                list(draft.charge_ids),
            )
            if marked != f"UPDATE {len(draft.charge_ids)}":
                raise RuntimeError(f"invoice of account {account_id}: a charge was invoiced")
            invoice = await get_invoice(connection, invoice_id)
    except asyncpg.UniqueViolationError as exc:
        # a concurrent issue took the period or a charge first: nothing of ours was kept
        if period is not None and exc.constraint_name == "invoices_one_per_period":
            found = await _period_invoice(pool, account_id, period)
            return Issued("already", None if found is None else await get_invoice(pool, found))
        if exc.constraint_name == "invoice_lines_charge":
            return Issued("nothing")
        raise
    assert invoice is not None
    return Issued("issued", invoice)


async def _period_invoice(
    db: Executor, account_id: int, period: tuple[datetime, datetime]
) -> int | None:
    found: int | None = await db.fetchval(
        """SELECT id FROM invoices WHERE account_id = $1 AND kind = 'invoice'
             AND period_start = $2 AND period_end = $3""",
        account_id,
        *period,
    )
    return found


async def issue_credit_note(
    pool: asyncpg.Pool,
    *,
    series: str,
    invoice_id: int,
    compose: CreditComposer,
    entry_of: EntryOf,
) -> Invoice:
    """Issue a credit note of an invoice with its ledger entry, in one transaction: the
    invoice is locked while ``compose`` sees it with its credit notes so far, so two
    concurrent credits cannot both take what is left."""
    async with pool.acquire() as connection, connection.transaction():
        locked = await connection.fetchval(
            "SELECT id FROM invoices WHERE id = $1 FOR UPDATE", invoice_id
        )
        if locked is None:
            raise NotFound(f"invoice {invoice_id} not found")
        original = await get_invoice(connection, invoice_id)
        assert original is not None
        earlier = [
            found
            for note in original.credit_notes
            if (found := await get_invoice(connection, note.id)) is not None
        ]
        draft = compose(original, earlier)
        account = await connection.fetchrow(
            f"SELECT {ACCOUNT_COLUMNS} FROM billing_accounts WHERE id = $1", draft.account_id
        )
        assert account is not None  # an invoice's account cannot be deleted
        credit_note_id = await _insert(connection, series, draft)
        entry = entry_of(credit_note_id, draft, Account(**dict(account)))
        if await post(connection, entry) is None:
            raise InvalidInput(f"credit note {credit_note_id}: its ledger entry exists already")
        note = await get_invoice(connection, credit_note_id)
    assert note is not None
    return note


# -- reading -------------------------------------------------------------------------------------


async def get_invoice(db: Executor, invoice_id: int) -> Invoice | None:
    """An invoice with its lines; a credit note also with why and by whom (its ledger
    entry) and the number it credits, an invoice with its credit notes."""
    record = await db.fetchrow(f"SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1", invoice_id)
    if record is None:
        return None
    lines = await db.fetch(
        f"SELECT {LINE_COLUMNS} FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no",
        invoice_id,
    )
    extra: dict[str, Any] = {}
    if record["kind"] == CREDIT_NOTE:
        entry = await db.fetchrow(
            """SELECT memo, created_by FROM ledger_entries
               WHERE invoice_id = $1 AND idempotency_key = 'credit_note:' || $1::text""",
            invoice_id,
        )
        credited = await db.fetchrow(
            "SELECT series, number FROM invoices WHERE id = $1", record["credits_invoice_id"]
        )
        extra["reason"] = None if entry is None else entry["memo"]
        extra["created_by"] = None if entry is None else entry["created_by"]
        if credited is not None:
            extra["credits_number"] = invoice_number(credited["series"], credited["number"])
    else:
        notes = await db.fetch(
            """SELECT id, series, number, total_incl_vat FROM invoices
               WHERE credits_invoice_id = $1 ORDER BY id""",
            invoice_id,
        )
        extra["credit_notes"] = tuple(
            CreditNoteRef(n["id"], invoice_number(n["series"], n["number"]), n["total_incl_vat"])
            for n in notes
        )
    return _invoice(record, [_line(r) for r in lines], **extra)


async def find_number(db: Executor, series: str, number: int) -> int | None:
    """The id of invoice ``number`` of ``series``."""
    found: int | None = await db.fetchval(
        "SELECT id FROM invoices WHERE series = $1 AND number = $2", series, number
    )
    return found


async def list_invoices(
    db: Executor,
    *,
    account_id: int | None = None,
    kind: str | None = None,
    period: tuple[datetime, datetime] | None = None,
    before_id: int | None = None,
    limit: int = 100,
    transaction_pk: int | None = None,
) -> list[Invoice]:
    """Newest first, without lines. ``period``: invoices of that period, and those without
    one (per-session invoices, credit notes) issued in it. ``transaction_pk``: the invoice
    that bills that session's charge."""
    start, end = (None, None) if period is None else period
    records = await db.fetch(
        f"""SELECT {INVOICE_COLUMNS} FROM invoices
            WHERE ($1::bigint IS NULL OR account_id = $1)
              AND ($2::text IS NULL OR kind = $2)
              AND ($3::timestamptz IS NULL OR
                   (period_start = $3 AND period_end = $4) OR
                   (period_start IS NULL AND issued_at >= $3 AND issued_at < $4))
              AND ($5::bigint IS NULL OR id < $5)
              AND ($7::bigint IS NULL OR
                   id = (SELECT invoice_id FROM charges WHERE transaction_pk = $7))
            ORDER BY id DESC LIMIT $6""",
        account_id,
        kind,
        start,
        end,
        before_id,
        limit,
        transaction_pk,
    )
    return [_invoice(r) for r in records]


async def accounts_to_invoice(
    db: Executor, *, ended_before: datetime, period: tuple[datetime, datetime]
) -> list[int]:
    """Accounts invoiced per period with uninvoiced charges of sessions ended before
    ``ended_before`` and no invoice of ``period`` yet."""
    records = await db.fetch(
        """SELECT DISTINCT c.account_id FROM charges c
           JOIN transactions t ON t.id = c.transaction_pk
           JOIN billing_accounts a ON a.id = c.account_id
           WHERE c.invoice_id IS NULL AND t.ended_at < $1 AND a.invoicing = 'period'
             AND NOT EXISTS (
                 SELECT 1 FROM invoices i WHERE i.account_id = c.account_id
                   AND i.kind = 'invoice' AND i.period_start = $2 AND i.period_end = $3)
           ORDER BY c.account_id""",
        ended_before,
        *period,
    )
    return [r["account_id"] for r in records]


async def uninvoiced_session_charges(
    db: Executor, *, created_before: datetime, limit: int = 500
) -> list[int]:
    """Charges of accounts invoiced per session that have no invoice yet."""
    records = await db.fetch(
        """SELECT c.id FROM charges c JOIN billing_accounts a ON a.id = c.account_id
           WHERE c.invoice_id IS NULL AND a.invoicing = 'session' AND c.created_at < $1
           ORDER BY c.id LIMIT $2""",
        created_before,
        limit,
    )
    return [r["id"] for r in records]


async def charge_account(db: Executor, charge_id: int) -> int | None:
    found: int | None = await db.fetchval("SELECT account_id FROM charges WHERE id = $1", charge_id)
    return found


class PostgresInvoices:
    """``csms.services.ports.InvoiceStore`` on a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue_invoice(
        self,
        *,
        series: str,
        account_id: int,
        compose: ChargesComposer,
        charge_ids: Sequence[int] | None = None,
        ended_before: datetime | None = None,
        period: tuple[datetime, datetime] | None = None,
    ) -> Issued:
        return await issue_invoice(
            self._pool,
            series=series,
            account_id=account_id,
            compose=compose,
            charge_ids=charge_ids,
            ended_before=ended_before,
            period=period,
        )

    async def issue_credit_note(
        self, *, series: str, invoice_id: int, compose: CreditComposer, entry_of: EntryOf
    ) -> Invoice:
        return await issue_credit_note(
            self._pool, series=series, invoice_id=invoice_id, compose=compose, entry_of=entry_of
        )

    async def get_invoice(self, invoice_id: int) -> Invoice | None:
        return await get_invoice(self._pool, invoice_id)

    async def find_number(self, series: str, number: int) -> int | None:
        return await find_number(self._pool, series, number)

    async def list_invoices(
        self,
        *,
        account_id: int | None = None,
        kind: str | None = None,
        period: tuple[datetime, datetime] | None = None,
        before_id: int | None = None,
        limit: int = 100,
        transaction_pk: int | None = None,
    ) -> list[Invoice]:
        return await list_invoices(
            self._pool,
            account_id=account_id,
            kind=kind,
            period=period,
            before_id=before_id,
            limit=limit,
            transaction_pk=transaction_pk,
        )

    async def accounts_to_invoice(
        self, *, ended_before: datetime, period: tuple[datetime, datetime]
    ) -> list[int]:
        return await accounts_to_invoice(self._pool, ended_before=ended_before, period=period)

    async def uninvoiced_session_charges(
        self, *, created_before: datetime, limit: int = 500
    ) -> list[int]:
        return await uninvoiced_session_charges(
            self._pool, created_before=created_before, limit=limit
        )

    async def charge_account(self, charge_id: int) -> int | None:
        return await charge_account(self._pool, charge_id)
