"""Accounts, settlement, invoices and payments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from csms.domain.billing import Account, Bill, Charge, LedgerEntry, Review, SettlementFacts
from csms.domain.invoices import ChargedSession, Draft, Invoice, Issued
from csms.domain.ledger import Entry
from csms.domain.payments import (
    Applied,
    Decide,
    Payment,
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    StoredEvent,
    WebhookEvent,
    WebhookRecord,
)


class BillingStore(Protocol):
    """Billing accounts, the ledger, charges and the settlement review queue."""

    async def add_account(self, **fields: Any) -> Account:
        """``kind``, ``currency``, ``name`` and any of the other fields; NotFound (user),
        InvalidInput (the user has an account)."""
        ...

    async def get_account(self, account_id: int) -> Account | None: ...

    async def account_of_user(self, user_id: int) -> Account | None: ...

    async def list_accounts(
        self, *, after_id: int = 0, limit: int = 100, status: str | None = None
    ) -> list[Account]: ...

    async def update_account(self, account_id: int, **changes: Any) -> Account:
        """NotFound."""
        ...

    async def account_of_token(self, id_token: str) -> Account | None:
        """The account a token bills to: its own, else its driver's."""
        ...

    async def link_token(self, id_token: str, account_id: int | None) -> None:
        """NotFound (token or account)."""
        ...

    async def post(self, entry: Entry) -> int | None:
        """Record a ledger entry; None when its idempotency key was recorded before."""
        ...

    async def balances(self, account: Account) -> dict[str, Decimal]:
        """``wallet``, ``held``, ``receivable`` on their normal sides."""
        ...

    async def entries(
        self, *, account_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> list[LedgerEntry]: ...

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]: ...

    async def settlement_facts(self, transaction_pk: int) -> SettlementFacts | None: ...

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
        """The session's one charge with its entries, atomically; None if charged before."""
        ...

    async def record_review(self, transaction_pk: int, reason: str, detail: str) -> bool: ...

    async def review_of(self, transaction_pk: int) -> Review | None: ...

    async def list_reviews(
        self, *, status: str | None = "open", after_pk: int = 0, limit: int = 100
    ) -> list[Review]: ...

    async def waive(
        self,
        transaction_pk: int,
        *,
        detail: dict[str, Any],
        by: str | None,
        at: datetime,
        release: Entry | None,
    ) -> bool: ...

    async def set_session_energy(self, transaction_pk: int, energy_wh: Decimal) -> None: ...

    async def unsettled(self, *, ended_before: datetime, limit: int = 500) -> list[int]: ...

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
        """By id; ``text`` is found in the name or e-mail, in any case."""
        ...

    async def list_charges(
        self,
        *,
        account_id: int | None = None,
        uninvoiced: bool = False,
        created_before: datetime | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Charge]: ...


class InvoiceStore(Protocol):
    """Invoices and credit notes: numbered without gaps per series, immutable once issued
    (docs/topics/invoices.md)."""

    async def issue_invoice(
        self,
        *,
        series: str,
        account_id: int,
        compose: Callable[[Account, list[ChargedSession]], Draft | None],
        charge_ids: Sequence[int] | None = None,
        ended_before: datetime | None = None,
        period: tuple[datetime, datetime] | None = None,
    ) -> Issued:
        """In one transaction: lock the account's uninvoiced charges (``charge_ids``, or
        those of sessions ended before ``ended_before``), compose the invoice from them,
        take the series' next number, store it and mark the charges. ``already`` when the
        account has the ``period``'s invoice; ``nothing`` when no charge is left (or
        ``compose`` declined). NotFound (account)."""
        ...

    async def issue_credit_note(
        self,
        *,
        series: str,
        invoice_id: int,
        compose: Callable[[Invoice, list[Invoice]], Draft],
        entry_of: Callable[[int, Draft, Account], Entry],
    ) -> Invoice:
        """In one transaction with the invoice locked: compose the credit note from the
        invoice and its credit notes so far, number it, store it with its ledger entry.
        NotFound (invoice); what ``compose`` raises."""
        ...

    async def get_invoice(self, invoice_id: int) -> Invoice | None: ...

    async def find_number(self, series: str, number: int) -> int | None:
        """The id of invoice ``number`` of ``series``."""
        ...

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
        """Newest first, without lines; ``transaction_pk``: the invoice of that session."""
        ...

    async def accounts_to_invoice(
        self, *, ended_before: datetime, period: tuple[datetime, datetime]
    ) -> list[int]:
        """Accounts invoiced per period with uninvoiced charges of sessions that ended
        before ``ended_before``, and no invoice of ``period``."""
        ...

    async def uninvoiced_session_charges(
        self, *, created_before: datetime, limit: int = 500
    ) -> list[int]: ...

    async def charge_account(self, charge_id: int) -> int | None: ...


class PaymentProvider(Protocol):
    """A payment provider (``csms.payments``): the built-in manual provider (an operator
    records money received) or a card processor. Every call that asks for money carries an
    idempotency key: asking twice with the same key asks once."""

    @property
    def name(self) -> str:
        """Its name in URLs, payments and the ledger (``clearing:<name>``)."""
        ...

    @property
    def takes_webhooks(self) -> bool: ...

    async def create_payment(self, request: PaymentRequest) -> ProviderPayment:
        """Ask for money (a payment intent). ProviderUnavailable (safe to ask again with the
        same key), PaymentError (refused)."""
        ...

    async def capture(self, ref: str, *, idempotency_key: str) -> ProviderPayment:
        """Take the money of an authorized (capturable) payment."""
        ...

    async def cancel(self, ref: str, *, idempotency_key: str) -> ProviderPayment: ...

    async def refund(
        self,
        ref: str,
        *,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ProviderRefund:
        """Pay back ``amount`` of the succeeded payment ``ref``."""
        ...

    async def status(self, ref: str) -> ProviderPayment:
        """What became of a payment (when its webhook did not come)."""
        ...

    def verify_webhook(
        self, payload: bytes, headers: Mapping[str, str], *, now: float
    ) -> WebhookEvent:
        """The event a webhook carries, if its signature and timestamp are the provider's;
        WebhookRejected otherwise."""
        ...


class PaymentStore(Protocol):
    """Payments and their webhook events (their ledger entries go with them)."""

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
        """A new pending payment (True), or the one with that key (False)."""
        ...

    async def add_refund(
        self,
        payment_id: int,
        *,
        amount: Decimal | None,
        idempotency_key: str,
        created_by: str | None,
    ) -> tuple[Payment, bool]:
        """A pending refund of a succeeded payment, never more than is left to refund (even
        when asked concurrently); None: all that is left. InvalidInput, NotFound."""
        ...

    async def get(self, payment_id: int) -> Payment | None: ...

    async def by_ref(self, provider: str, provider_ref: str) -> Payment | None: ...

    async def by_key(self, idempotency_key: str) -> Payment | None: ...

    async def list_payments(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Payment]:
        """Newest first."""
        ...

    async def refunds_of(self, payment_id: int) -> list[Payment]: ...

    async def refunded_total(self, payment_id: int) -> Decimal: ...

    async def invoice_account(self, invoice_id: int) -> int | None: ...

    async def claim_attempt(
        self, payment_id: int, attempt: int, *, check_at: datetime
    ) -> Payment | None:
        """Start attempt ``attempt`` (None: started elsewhere, or no longer pending)."""
        ...

    async def set_provider_ref(self, payment_id: int, provider_ref: str) -> None: ...

    async def reschedule(self, payment_id: int, at: datetime, *, failure: str | None) -> bool: ...

    async def due(self, *, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]: ...

    async def apply(
        self, targets: Sequence[tuple[int, Decide]], *, event: WebhookRecord | None = None
    ) -> Applied:
        """Atomically: keep ``event`` once (a duplicate changes nothing), lock each payment,
        decide, store its new state and post its entry."""
        ...

    async def events_of(self, payment_id: int) -> list[StoredEvent]: ...

    async def entries_of(self, payment_id: int) -> list[LedgerEntry]: ...
