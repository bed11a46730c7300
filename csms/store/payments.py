"""Payments, their webhook events and the ledger entries they post (migration 0006).

A change to a payment is one transaction: the payment row is locked, the decision about it
is taken on what is locked, and its new state, its ledger entry (under the entry's
idempotency key) and the webhook event that caused it (under the event's id) commit
together. A webhook delivered twice, or twice at once, finds its event id taken and changes
nothing; a payment cannot succeed twice, and its entry cannot be posted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from csms.domain.billing import LedgerEntry
from csms.domain.ledger import Posting
from csms.domain.payments import (
    INVOICE,
    REFUND,
    SUCCEEDED,
    Applied,
    Decide,
    Decision,
    Payment,
    StoredEvent,
    WebhookRecord,
    check_refund,
)
from csms.errors import InvalidInput, NotFound
from csms.store.billing import post
from csms.store.executor import Executor

PAYMENT_COLUMNS = """id, account_id, provider, kind, amount, currency, status, idempotency_key,
    provider_ref, invoice_id, refund_of, failure, attempts, next_attempt_at, created_by,
    created_at, updated_at"""


def _payment(record: asyncpg.Record) -> Payment:
    return Payment(**dict(record))


async def add_payment(
    db: Executor,
    *,
    account_id: int,
    provider: str,
    kind: str,
    amount: Decimal,
    currency: str,
    idempotency_key: str,
    invoice_id: int | None = None,
    refund_of: int | None = None,
    created_by: str | None = None,
) -> tuple[Payment, bool]:
    """A new pending payment, or the one recorded under ``idempotency_key`` before (False)."""
    record = await db.fetchrow(
        f"""INSERT INTO payments (account_id, provider, kind, amount, currency, status,
                idempotency_key, invoice_id, refund_of, created_by)
            VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9)
            ON CONFLICT (idempotency_key) DO NOTHING RETURNING {PAYMENT_COLUMNS}""",
        account_id,
        provider,
        kind,
        amount,
        currency,
        idempotency_key,
        invoice_id,
        refund_of,
        created_by,
    )
    if record is not None:
        return _payment(record), True
    existing = await payment_by_key(db, idempotency_key)
    assert existing is not None  # keys are never deleted
    return existing, False


async def add_refund(
    pool: asyncpg.Pool,
    payment_id: int,
    *,
    amount: Decimal | None,
    idempotency_key: str,
    created_by: str | None,
) -> tuple[Payment, bool]:
    """A pending refund of ``amount`` (None: all that is left) of a succeeded payment; the
    payment is locked while what it has refunded is summed, so concurrent refunds never
    add up to more than was paid. InvalidInput otherwise; NotFound."""
    async with pool.acquire() as connection, connection.transaction():
        existing = await payment_by_key(connection, idempotency_key)
        if existing is not None:
            return existing, False
        record = await connection.fetchrow(
            f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE", payment_id
        )
        if record is None:
            raise NotFound(f"payment {payment_id} not found")
        payment = _payment(record)
        refunded = await refunded_total(connection, payment_id)
        if amount is None:
            amount = payment.amount - refunded
            if amount <= 0:
                raise InvalidInput(f"amount: payment {payment_id} is refunded in full already")
        check_refund(payment, amount, refunded)
        return await add_payment(
            connection,
            account_id=payment.account_id,
            provider=payment.provider,
            kind=REFUND,
            amount=amount,
            currency=payment.currency,
            idempotency_key=idempotency_key,
            refund_of=payment.id,
            created_by=created_by,
        )


async def refunded_total(db: Executor, payment_id: int) -> Decimal:
    """What is refunded of a payment, or being refunded (pending refunds count)."""
    total = await db.fetchval(
        """SELECT coalesce(sum(amount), 0) FROM payments
           WHERE refund_of = $1 AND status IN ('pending', 'succeeded')""",
        payment_id,
    )
    return Decimal(total)


async def get_payment(db: Executor, payment_id: int) -> Payment | None:
    record = await db.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1", payment_id)
    return _payment(record) if record else None


async def payment_by_key(db: Executor, idempotency_key: str) -> Payment | None:
    record = await db.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE idempotency_key = $1", idempotency_key
    )
    return _payment(record) if record else None


async def payment_by_ref(db: Executor, provider: str, provider_ref: str) -> Payment | None:
    record = await db.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE provider = $1 AND provider_ref = $2",
        provider,
        provider_ref,
    )
    return _payment(record) if record else None


async def list_payments(
    db: Executor,
    *,
    account_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Payment]:
    """Newest first."""
    records = await db.fetch(
        f"""SELECT {PAYMENT_COLUMNS} FROM payments
            WHERE ($1::bigint IS NULL OR account_id = $1)
              AND ($2::text IS NULL OR status = $2)
              AND ($3::text IS NULL OR kind = $3)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $5""",
        account_id,
        status,
        kind,
        before_id,
        limit,
    )
    return [_payment(r) for r in records]


async def refunds_of(db: Executor, payment_id: int) -> list[Payment]:
    records = await db.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE refund_of = $1 ORDER BY id", payment_id
    )
    return [_payment(r) for r in records]


async def invoice_account(db: Executor, invoice_id: int) -> int | None:
    """The account an invoice is for (None: no such invoice)."""
    account_id: int | None = await db.fetchval(
        "SELECT account_id FROM invoices WHERE id = $1", invoice_id
    )
    return account_id


async def claim_attempt(
    db: Executor, payment_id: int, attempt: int, *, check_at: datetime
) -> Payment | None:
    """Start attempt ``attempt`` of a pending payment (the one before it is over); None when
    another worker started it, or the payment is no longer pending."""
    record = await db.fetchrow(
        f"""UPDATE payments SET attempts = $2, failure = '', next_attempt_at = $3,
                updated_at = now()
            WHERE id = $1 AND status = 'pending' AND attempts = $2 - 1
            RETURNING {PAYMENT_COLUMNS}""",
        payment_id,
        attempt,
        check_at,
    )
    return _payment(record) if record else None


async def set_provider_ref(db: Executor, payment_id: int, provider_ref: str) -> None:
    """The provider's id of the payment's current attempt (how its webhooks find it)."""
    await db.execute(
        """UPDATE payments SET provider_ref = $2, updated_at = now()
           WHERE id = $1 AND provider_ref IS DISTINCT FROM $2""",
        payment_id,
        provider_ref,
    )


async def reschedule(db: Executor, payment_id: int, at: datetime, *, failure: str | None) -> bool:
    """Look at a pending payment again at ``at`` (``failure``: the current attempt failed
    with it, so the next look is a retry)."""
    result = await db.execute(
        """UPDATE payments SET next_attempt_at = $2, failure = coalesce($3, failure),
               updated_at = now()
           WHERE id = $1 AND status = 'pending'""",
        payment_id,
        at,
        failure,
    )
    return result == "UPDATE 1"


async def due(db: Executor, *, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]:
    """Pending payments of a provider with webhooks whose next look is due."""
    records = await db.fetch(
        """SELECT id, next_attempt_at FROM payments
           WHERE status = 'pending' AND next_attempt_at <= $1 AND provider <> 'manual'
           ORDER BY next_attempt_at LIMIT $2""",
        now,
        limit,
    )
    return [(r["id"], r["next_attempt_at"]) for r in records]


async def apply(
    pool: asyncpg.Pool,
    targets: Sequence[tuple[int, Decide]],
    *,
    event: WebhookRecord | None = None,
) -> Applied:
    """In one transaction: keep ``event`` (if it was kept before: nothing else, duplicate),
    then for each payment, locked, the decision about it: its new state, its ledger entry,
    the invoice it paid marked paid."""
    async with pool.acquire() as connection, connection.transaction():
        if event is not None:
            kept = await connection.fetchval(
                """INSERT INTO payment_events (provider, event_id, type, payload)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING
                   RETURNING true""",
                event.provider,
                event.event_id,
                event.type,
                event.payload,
            )
            if not kept:
                return Applied(duplicate=True)
        results: list[tuple[Payment | None, Decision]] = []
        for payment_id, decide in sorted(targets, key=lambda t: t[0]):
            record = await connection.fetchrow(
                f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE", payment_id
            )
            if record is None:
                results.append((None, Decision(f"unknown payment {payment_id}")))
                continue
            decision = decide(_payment(record))
            after = decision.payment
            if after is not None:
                await _store_state(connection, after)
                if decision.entry is not None:
                    await post(connection, decision.entry)
                if after.status == SUCCEEDED and after.kind == INVOICE and after.invoice_id:
                    await connection.execute(
                        """UPDATE invoices SET paid = true, paid_at = now()
                           WHERE id = $1 AND NOT paid""",
                        after.invoice_id,
                    )
            results.append((after or _payment(record), decision))
        if event is not None:
            found = [p.id for p, _ in results if p is not None]
            outcome = "; ".join(d.outcome for _, d in results) or "no payment of ours"
            await connection.execute(
                """UPDATE payment_events SET payment_id = $3, outcome = $4
                   WHERE provider = $1 AND event_id = $2""",
                event.provider,
                event.event_id,
                found[0] if found else None,
                outcome[:1000],
            )
    return Applied(duplicate=False, results=tuple(results))


async def _store_state(db: Executor, payment: Payment) -> None:
    await db.execute(
        """UPDATE payments SET status = $2, failure = $3, provider_ref = $4, attempts = $5,
               next_attempt_at = $6, updated_at = now()
           WHERE id = $1""",
        payment.id,
        payment.status,
        payment.failure,
        payment.provider_ref,
        payment.attempts,
        payment.next_attempt_at,
    )


async def events_of(db: Executor, payment_id: int) -> list[StoredEvent]:
    records = await db.fetch(
        """SELECT provider, event_id, type, payment_id, outcome, received_at
           FROM payment_events WHERE payment_id = $1 ORDER BY received_at, event_id""",
        payment_id,
    )
    return [StoredEvent(**dict(r)) for r in records]


async def entries_of(db: Executor, payment_id: int) -> list[LedgerEntry]:
    """The ledger entries a payment posted (its money, a write-off)."""
    records = await db.fetch(
        """SELECT e.id, e.at, e.kind, e.idempotency_key, e.account_id, e.transaction_pk,
               e.payment_id, e.invoice_id, e.memo, e.created_by,
               jsonb_agg(jsonb_build_object('account', p.ledger_account,
                   'currency', p.currency, 'amount', p.amount::text)
                   ORDER BY p.amount DESC, p.ledger_account) AS postings
           FROM ledger_entries e JOIN ledger_postings p ON p.entry_id = e.id
           WHERE e.payment_id = $1
           GROUP BY e.id ORDER BY e.id""",
        payment_id,
    )
    return [
        LedgerEntry(
            **{k: r[k] for k in r.keys() if k != "postings"},
            postings=tuple(
                Posting(p["account"], p["currency"], Decimal(p["amount"])) for p in r["postings"]
            ),
        )
        for r in records
    ]
