"""Accounts, settlement, invoices and payments on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.domain.billing import Account, Bill, Charge, LedgerEntry, Review, SettlementFacts
from csms.domain.ledger import Entry
from csms.domain.payments import Applied, Decide, Payment, StoredEvent, WebhookRecord
from csms.store import billing, payments


class PostgresBilling:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_account(self, **fields: Any) -> Account:
        return await billing.add_account(self._pool, **fields)

    async def get_account(self, account_id: int) -> Account | None:
        return await billing.get_account(self._pool, account_id)

    async def account_of_user(self, user_id: int) -> Account | None:
        return await billing.account_of_user(self._pool, user_id)

    async def list_accounts(
        self, *, after_id: int = 0, limit: int = 100, status: str | None = None
    ) -> list[Account]:
        return await billing.list_accounts(
            self._pool, after_id=after_id, limit=limit, status=status
        )

    async def update_account(self, account_id: int, **changes: Any) -> Account:
        return await billing.update_account(self._pool, account_id, **changes)

    async def account_of_token(self, id_token: str) -> Account | None:
        return await billing.account_of_token(self._pool, id_token)

    async def link_token(self, id_token: str, account_id: int | None) -> None:
        await billing.link_token(self._pool, id_token, account_id)

    async def post(self, entry: Entry) -> int | None:
        return await billing.post_one(self._pool, entry)

    async def balances(self, account: Account) -> dict[str, Decimal]:
        return await billing.balances(self._pool, account)

    async def entries(
        self, *, account_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> list[LedgerEntry]:
        return await billing.entries(
            self._pool, account_id=account_id, after_id=after_id, limit=limit
        )

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        return await billing.trial_balance(self._pool)

    async def settlement_facts(self, transaction_pk: int) -> SettlementFacts | None:
        return await billing.settlement_facts(self._pool, transaction_pk)

    async def record_charge(
        self,
        *,
        transaction_pk: int,
        account: Account,
        bill: Bill,
        source: str,
        entry: Entry,
        release: Entry | None,
        resolve_review: tuple[str, dict[str, Any] | None, str | None] | None = None,
        at: datetime,
    ) -> Charge | None:
        return await billing.record_charge(
            self._pool,
            transaction_pk=transaction_pk,
            account=account,
            bill=bill,
            source=source,
            entry=entry,
            release=release,
            resolve_review=resolve_review,
            at=at,
        )

    async def record_review(self, transaction_pk: int, reason: str, detail: str) -> bool:
        return await billing.record_review(self._pool, transaction_pk, reason, detail)

    async def review_of(self, transaction_pk: int) -> Review | None:
        return await billing.review_of(self._pool, transaction_pk)

    async def list_reviews(
        self, *, status: str | None = "open", after_pk: int = 0, limit: int = 100
    ) -> list[Review]:
        return await billing.list_reviews(self._pool, status=status, after_pk=after_pk, limit=limit)

    async def waive(
        self,
        transaction_pk: int,
        *,
        detail: dict[str, Any],
        by: str | None,
        at: datetime,
        release: Entry | None,
    ) -> bool:
        return await billing.waive(
            self._pool, transaction_pk, detail=detail, by=by, at=at, release=release
        )

    async def set_session_energy(self, transaction_pk: int, energy_wh: Decimal) -> None:
        await billing.set_session_energy(self._pool, transaction_pk, energy_wh)

    async def unsettled(self, *, ended_before: datetime, limit: int = 500) -> list[int]:
        return await billing.unsettled(self._pool, ended_before=ended_before, limit=limit)

    async def list_charges(
        self,
        *,
        account_id: int | None = None,
        uninvoiced: bool = False,
        created_before: datetime | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Charge]:
        return await billing.list_charges(
            self._pool,
            account_id=account_id,
            uninvoiced=uninvoiced,
            created_before=created_before,
            after_id=after_id,
            limit=limit,
        )

    async def find_accounts(
        self,
        *,
        after_id: int = 0,
        limit: int = 100,
        status: str | None = None,
        kind: str | None = None,
        currency: str | None = None,
        user_id: int | None = None,
        text: str | None = None,
    ) -> list[Account]:
        return await billing.find_accounts(
            self._pool,
            after_id=after_id,
            limit=limit,
            status=status,
            kind=kind,
            currency=currency,
            user_id=user_id,
            text=text,
        )


class PostgresPayments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_payment(
        self,
        *,
        account_id: int,
        provider: str,
        kind: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        invoice_id: int | None = None,
        created_by: str | None = None,
    ) -> tuple[Payment, bool]:
        return await payments.add_payment(
            self._pool,
            account_id=account_id,
            provider=provider,
            kind=kind,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
            invoice_id=invoice_id,
            created_by=created_by,
        )

    async def add_refund(
        self,
        payment_id: int,
        *,
        amount: Decimal | None,
        idempotency_key: str,
        created_by: str | None,
    ) -> tuple[Payment, bool]:
        return await payments.add_refund(
            self._pool,
            payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            created_by=created_by,
        )

    async def get(self, payment_id: int) -> Payment | None:
        return await payments.get_payment(self._pool, payment_id)

    async def by_ref(self, provider: str, provider_ref: str) -> Payment | None:
        return await payments.payment_by_ref(self._pool, provider, provider_ref)

    async def by_key(self, idempotency_key: str) -> Payment | None:
        return await payments.payment_by_key(self._pool, idempotency_key)

    async def list_payments(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Payment]:
        return await payments.list_payments(
            self._pool,
            account_id=account_id,
            status=status,
            kind=kind,
            before_id=before_id,
            limit=limit,
        )

    async def refunds_of(self, payment_id: int) -> list[Payment]:
        return await payments.refunds_of(self._pool, payment_id)

    async def refunded_total(self, payment_id: int) -> Decimal:
        return await payments.refunded_total(self._pool, payment_id)

    async def invoice_account(self, invoice_id: int) -> int | None:
        return await payments.invoice_account(self._pool, invoice_id)

    async def claim_attempt(
        self, payment_id: int, attempt: int, *, check_at: datetime
    ) -> Payment | None:
        return await payments.claim_attempt(self._pool, payment_id, attempt, check_at=check_at)

    async def set_provider_ref(self, payment_id: int, provider_ref: str) -> None:
        await payments.set_provider_ref(self._pool, payment_id, provider_ref)

    async def reschedule(self, payment_id: int, at: datetime, *, failure: str | None) -> bool:
        return await payments.reschedule(self._pool, payment_id, at, failure=failure)

    async def due(self, *, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]:
        return await payments.due(self._pool, now=now, limit=limit)

    async def apply(
        self, targets: Sequence[tuple[int, Decide]], *, event: WebhookRecord | None = None
    ) -> Applied:
        return await payments.apply(self._pool, targets, event=event)

    async def events_of(self, payment_id: int) -> list[StoredEvent]:
        return await payments.events_of(self._pool, payment_id)

    async def entries_of(self, payment_id: int) -> list[LedgerEntry]:
        return await payments.entries_of(self._pool, payment_id)
