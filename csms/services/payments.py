"""Payments: money asked of a provider, what became of it, refunds and write-offs.

A payment is recorded (pending, under its idempotency key) before the provider is asked,
and every change to it goes through :meth:`PaymentStore.apply`: the payment is locked, the
pure decision of :mod:`csms.domain.payments` is taken on what is locked, and its new state
and its ledger entry (keyed by the payment) commit together. So asking twice asks once, a
webhook delivered twice (or twice at once) counts once, and no payment succeeds twice.

Flows (docs/topics/payments.md):

- an operator records money received (the ``manual`` provider): succeeded at once;
- a driver tops up a prepaid wallet by card: a payment intent is created, the driver's app
  confirms it with the ``client_secret``, the processor's webhook says it is authorized,
  the worker captures it, and the ``succeeded`` webhook (or the capture's answer) posts the
  top-up;
- a postpaid account's receivable is charged to its saved card (off session); a decline is
  retried with exponential backoff by ``csms worker`` (:data:`PAYMENT_ADVANCE` jobs), then
  the payment is ``failed``, and an operator may write it off;
- a succeeded payment is refunded in full or in part, never beyond what was paid.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from csms.domain.billing import CLOSED, Account, LedgerEntry, check_amount
from csms.domain.clock import Clock
from csms.domain.payments import (
    INTENT_FAILED,
    INTENT_WAITING,
    INVOICE,
    MANUAL,
    PENDING,
    REFUND,
    REFUND_FAILED,
    TOPUP,
    Applied,
    Decide,
    Decision,
    Payment,
    PaymentRequest,
    ProviderPayment,
    ProviderRefund,
    RetryPolicy,
    StoredEvent,
    WebhookRecord,
    check_idempotency_key,
    check_refund,
    give_up,
    on_refund_report,
    on_report,
    on_session,
    retries,
    succeed,
    write_off,
)
from csms.errors import InvalidInput, NotFound, PaymentError, ProviderUnavailable
from csms.services.ports import BillingStore, JobQueue, PaymentProvider, PaymentStore

log = logging.getLogger(__name__)

PAYMENT_ADVANCE = "payment_advance"
PAYMENT_SWEEP = "payment_sweep"


@dataclass(frozen=True, slots=True)
class Started:
    """A payment asked for: new (``created``) or found under its idempotency key; a card
    top-up carries the ``client_secret`` the driver's app confirms it with."""

    payment: Payment
    created: bool
    client_secret: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    duplicate: bool
    event_id: str
    outcomes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentView:
    """A payment with what hangs off it."""

    payment: Payment
    refunded: Decimal
    refunds: tuple[Payment, ...]
    entries: tuple[LedgerEntry, ...]
    events: tuple[StoredEvent, ...]


class PaymentService:
    def __init__(
        self,
        payments: PaymentStore,
        billing: BillingStore,
        providers: Mapping[str, PaymentProvider],
        jobs: JobQueue,
        *,
        clock: Clock,
        policy: RetryPolicy,
    ) -> None:
        self._payments = payments
        self._billing = billing
        self._providers = providers
        self._jobs = jobs
        self._clock = clock
        self.policy = policy

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(self._providers)

    def provider(self, name: str) -> PaymentProvider:
        found = self._providers.get(name)
        if found is None:
            configured = ", ".join(self._providers)
            raise InvalidInput(f"provider: {name!r} is not configured (configured: {configured})")
        return found

    # -- asking for money --------------------------------------------------------------------

    async def pay(
        self,
        account_id: int,
        amount: object,
        *,
        provider: str,
        by: str,
        idempotency_key: str | None = None,
        note: str = "",
        currency: str | None = None,
        invoice_id: int | None = None,
    ) -> Started:
        """Money into an account: a top-up of a prepaid wallet, or a payment of what a
        postpaid account owes. ``manual``: an operator records money received (succeeded at
        once). A card: a prepaid wallet's driver confirms the payment (``client_secret``);
        a postpaid account is charged to its saved card, retried if it is declined."""
        account = await self._account(account_id)
        if account.status == CLOSED:
            raise InvalidInput(f"account: account {account.id} is closed")
        if currency is not None and currency != account.currency:
            raise InvalidInput(f"currency: account {account.id} is in {account.currency}")
        value = check_amount(amount, "amount", account.currency)
        chosen = self.provider(provider)
        kind = TOPUP if account.prepaid else INVOICE
        if invoice_id is not None:
            if account.prepaid:
                raise InvalidInput("invoice_id: a prepaid account pays no invoices")
            if await self._payments.invoice_account(invoice_id) != account.id:
                raise NotFound(f"invoice {invoice_id} of account {account.id} not found")
        if chosen.name != MANUAL and kind == INVOICE and not account.payment_method:
            raise InvalidInput(
                f"provider: account {account.id} has no saved card (payment_method) to charge"
            )
        key = f"pay:{account.id}:{idempotency_key}" if idempotency_key else f"pay:{uuid.uuid4()}"
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        payment, created = await self._payments.add_payment(
            account_id=account.id,
            provider=chosen.name,
            kind=kind,
            amount=value,
            currency=account.currency,
            idempotency_key=key,
            invoice_id=invoice_id,
            created_by=by,
        )
        if not created and (payment.provider, payment.amount, payment.invoice_id) != (
            chosen.name,
            value,
            invoice_id,
        ):
            raise InvalidInput("Idempotency-Key: it was used for another payment")
        if payment.status != PENDING:
            return Started(payment, created)
        if chosen.name == MANUAL:
            return Started(await self._record_manual(chosen, payment, account, note), created)
        if payment.attempts == 0:
            after, secret = await self._attempt(chosen, payment, 1, account)
        elif payment.provider_ref is None:  # asked before, never answered: ask again
            after, secret = await self._ask(chosen, payment, account)
        else:
            after = payment
            secret = None
            if on_session(payment):
                secret = (await chosen.status(payment.provider_ref)).client_secret
        return Started(after, created, secret)

    async def _record_manual(
        self, provider: PaymentProvider, payment: Payment, account: Account, note: str
    ) -> Payment:
        report = await provider.create_payment(self._request(payment, account, attempt=1))
        now = self._clock()

        def decide(p: Payment) -> Decision:
            return succeed(p, report.ref, prepaid=account.prepaid, now=now, memo=note)

        return await self._apply_one(payment.id, decide)

    def _request(self, payment: Payment, account: Account, *, attempt: int) -> PaymentRequest:
        present = on_session(payment)
        return PaymentRequest(
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=f"{payment.idempotency_key}:{attempt}",
            description=f"{payment.kind} {payment.id} of account {account.id}",
            metadata={
                "csms_payment_id": str(payment.id),
                "csms_account_id": str(account.id),
                "csms_attempt": str(attempt),
            },
            payment_method=None if present else account.payment_method,
            confirm=not present,
            off_session=not present,
        )

    async def _attempt(
        self, provider: PaymentProvider, payment: Payment, attempt: int, account: Account
    ) -> tuple[Payment, str | None]:
        """Start attempt ``attempt`` and ask the provider; what it answers is applied."""
        check_at = self._clock() + timedelta(seconds=self.policy.check_after)
        claimed = await self._payments.claim_attempt(payment.id, attempt, check_at=check_at)
        if claimed is None:  # another worker started it, or it is over
            return await self._get(payment.id), None
        await self._schedule(claimed)
        return await self._ask(provider, claimed, account)

    async def _ask(
        self, provider: PaymentProvider, payment: Payment, account: Account
    ) -> tuple[Payment, str | None]:
        request = self._request(payment, account, attempt=max(payment.attempts, 1))
        if request.off_session and not account.payment_method:
            after, _, _ = await self._report(
                provider, payment, account, _declined(payment, "no saved card")
            )
            return after, None
        try:
            report = await provider.create_payment(request)
        except ProviderUnavailable as exc:
            # asked again with the same key when the payment's check is due
            log.warning("payment %s: %s unavailable: %s", payment.id, provider.name, exc)
            if on_session(payment):
                raise
            return payment, None
        except PaymentError as exc:
            log.warning("payment %s: %s refused it: %s", payment.id, provider.name, exc)
            after, _, _ = await self._report(
                provider, payment, account, _declined(payment, str(exc))
            )
            return after, None
        await self._payments.set_provider_ref(payment.id, report.ref)
        after, _, secret = await self._report(provider, payment, account, report)
        return after, secret

    async def _report(
        self,
        provider: PaymentProvider,
        payment: Payment,
        account: Account,
        report: ProviderPayment,
    ) -> tuple[Payment, Decision, str | None]:
        """Apply a provider's report, and do what it asks next (capture now, retry later)."""
        now = self._clock()

        def decide(p: Payment) -> Decision:
            return on_report(p, report, prepaid=account.prepaid, now=now, policy=self.policy)

        applied = await self._payments.apply([(payment.id, decide)])
        after, decision = _only(applied, payment.id)
        if decision.outcome == "capture":
            return await self._capture(provider, after, account), decision, None
        await self._schedule(after)
        return after, decision, report.client_secret

    async def _capture(
        self, provider: PaymentProvider, payment: Payment, account: Account
    ) -> Payment:
        assert payment.provider_ref is not None
        try:
            report = await provider.capture(
                payment.provider_ref, idempotency_key=f"{payment.provider_ref}:capture"
            )
        except ProviderUnavailable as exc:
            log.warning("payment %s: capture later: %s", payment.id, exc)
            await self._check_later(payment)
            return await self._get(payment.id)
        after, _, _ = await self._report(provider, payment, account, report)
        return after

    # -- what the worker does ----------------------------------------------------------------

    async def advance(self, payment_id: int, *, now_due: bool = False) -> Payment | None:
        """The worker's look at a pending card payment when it is due (``now_due``: at once,
        e.g. a webhook said it can be captured): retry a declined attempt, or ask the
        provider what became of the current one (capture it, record it, cancel it when
        the customer never paid)."""
        payment = await self._payments.get(payment_id)
        if payment is None or payment.status != PENDING or payment.provider == MANUAL:
            return payment
        provider = self._providers.get(payment.provider)
        if provider is None:
            log.warning("payment %s: provider %s is not configured", payment.id, payment.provider)
            return payment
        now = self._clock()
        due = payment.next_attempt_at is None or payment.next_attempt_at <= now
        if not due and not now_due:
            return payment  # not due (the job of an older schedule)
        account = await self._account(payment.account_id)
        try:
            if payment.kind == REFUND:
                return await self._advance_refund(provider, payment, account)
            if payment.failure:  # the current attempt was declined: a retry, when due
                if not due:
                    return payment
                if retries(payment) and payment.attempts < self.policy.max_attempts:
                    after, _ = await self._attempt(provider, payment, payment.attempts + 1, account)
                    return after
                return await self._apply_one(payment.id, lambda p: give_up(p, now=now))
            if payment.provider_ref is None:  # the attempt's request was never answered
                after, _ = await self._ask(provider, payment, account)
                return after
            report = await provider.status(payment.provider_ref)
            if report.status == INTENT_WAITING and self._expired(payment):
                report = await provider.cancel(
                    payment.provider_ref, idempotency_key=f"{payment.provider_ref}:cancel"
                )
            after, decision, _ = await self._report(provider, payment, account, report)
            if after.status == PENDING and decision.payment is None:  # waiting, processing
                await self._check_later(after)
            return await self._get(payment.id)
        except ProviderUnavailable as exc:
            log.warning("payment %s: %s unavailable, later: %s", payment.id, provider.name, exc)
            await self._check_later(payment)
            return payment

    async def _advance_refund(
        self, provider: PaymentProvider, refund: Payment, account: Account
    ) -> Payment:
        if refund.provider_ref is not None:  # asked; its webhook completes it
            return refund
        original = await self._get(refund.refund_of or 0)
        return await self._ask_refund(provider, original, refund, account, memo="")

    def _expired(self, payment: Payment) -> bool:
        age = self._clock() - payment.created_at
        return age.total_seconds() > self.policy.expire_after

    async def _check_later(self, payment: Payment) -> None:
        at = self._clock() + timedelta(seconds=self.policy.check_after)
        if await self._payments.reschedule(payment.id, at, failure=None):
            await self._schedule(replace(payment, next_attempt_at=at))

    async def _schedule(self, payment: Payment) -> None:
        """A job for the payment's next look (a retry or a check), at that time."""
        at = payment.next_attempt_at
        if payment.status != PENDING or at is None:
            return
        delay = max(0.0, (at - self._clock()).total_seconds())
        await self._jobs.enqueue(
            PAYMENT_ADVANCE,
            {"payment_id": payment.id},
            dedupe_key=f"payment:{payment.id}:{at.timestamp():.3f}",
            delay=delay,
        )

    async def sweep(self) -> int:
        """Enqueue the looks that are due (their job was lost between a commit and a crash,
        or the provider was down)."""
        found = await self._payments.due(now=self._clock())
        for payment_id, at in found:
            await self._jobs.enqueue(
                PAYMENT_ADVANCE,
                {"payment_id": payment_id},
                dedupe_key=f"payment:{payment_id}:{at.timestamp():.3f}",
            )
        return len(found)

    # -- webhooks ----------------------------------------------------------------------------

    async def webhook(
        self, provider_name: str, payload: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        """A provider's webhook: verified (WebhookRejected), kept once per event id, and
        applied to the payments it is about, atomically with keeping it."""
        provider = self._providers.get(provider_name)
        if provider is None or not provider.takes_webhooks:
            raise NotFound(f"payment provider {provider_name!r} takes no webhooks here")
        event = provider.verify_webhook(payload, headers, now=self._clock().timestamp())
        targets: list[tuple[int, Decide]] = []
        if event.payment is not None:
            target = await self._target(provider, event.payment.payment_id, event.payment.ref)
            if target is not None:
                payment, account = target
                targets.append((payment.id, self._on_report(event.payment, account)))
        for refund in event.refunds:
            target = await self._target(provider, refund.payment_id, refund.ref)
            if target is not None:
                payment, account = target
                targets.append((payment.id, self._on_refund(refund, account)))
        applied = await self._payments.apply(
            targets, event=WebhookRecord(provider.name, event.id, event.type, event.payload)
        )
        if applied.duplicate:
            log.info("webhook %s %s: a replay, nothing changed", provider.name, event.id)
            return WebhookOutcome(True, event.id)
        for after, decision in applied.results:
            if after is None:
                continue
            if decision.outcome == "capture":
                await self._jobs.enqueue(
                    PAYMENT_ADVANCE,
                    {"payment_id": after.id, "now": True},
                    dedupe_key=f"payment:{after.id}:capture",
                )
            else:
                await self._schedule(after)
        outcomes = tuple(d.outcome for _, d in applied.results)
        log.info("webhook %s %s %s: %s", provider.name, event.id, event.type, outcomes)
        return WebhookOutcome(False, event.id, outcomes)

    async def _target(
        self, provider: PaymentProvider, payment_id: int | None, ref: str
    ) -> tuple[Payment, Account] | None:
        payment = None
        if payment_id is not None:
            payment = await self._payments.get(payment_id)
        if payment is None:
            payment = await self._payments.by_ref(provider.name, ref)
        if payment is None or payment.provider != provider.name:
            return None
        account = await self._billing.get_account(payment.account_id)
        return None if account is None else (payment, account)

    def _on_report(self, report: ProviderPayment, account: Account) -> Decide:
        now = self._clock()

        def decide(p: Payment) -> Decision:
            if p.kind == REFUND:
                return Decision("ignored: a refund is not a payment intent")
            return on_report(p, report, prepaid=account.prepaid, now=now, policy=self.policy)

        return decide

    def _on_refund(self, report: ProviderRefund, account: Account) -> Decide:
        now = self._clock()

        def decide(p: Payment) -> Decision:
            if p.kind != REFUND:
                return Decision("ignored: not a refund")
            return on_refund_report(p, report, prepaid=account.prepaid, now=now)

        return decide

    # -- refunds and write-offs --------------------------------------------------------------

    async def refund(
        self,
        payment_id: int,
        amount: object | None,
        *,
        by: str,
        reason: str = "",
        idempotency_key: str | None = None,
    ) -> Started:
        """Pay back ``amount`` of a succeeded payment (None: all that is left), never more
        than was paid; a prepaid wallet must still hold it. The refund is a payment of its
        own (``created``: False when the idempotency key found it)."""
        payment = await self._get(payment_id)
        value = None if amount is None else check_amount(amount, "amount", payment.currency)
        account = await self._account(payment.account_id)
        provider = self.provider(payment.provider)
        if idempotency_key is not None:
            check_idempotency_key(idempotency_key)
        key = (
            f"refund:{payment.id}:{idempotency_key}"
            if idempotency_key
            else f"refund:{uuid.uuid4()}"
        )
        known = await self._payments.by_key(key)
        if known is None:
            refunded = await self._payments.refunded_total(payment.id)
            if value is not None:  # checked again, under a lock, when it is recorded
                check_refund(payment, value, refunded)
        if known is None and account.prepaid and payment.kind == TOPUP:
            wanted = payment.amount - refunded if value is None else value
            wallet = (await self._billing.balances(account))["wallet"]
            if wanted > wallet:
                raise InvalidInput(
                    f"amount: the wallet of account {account.id} holds {wallet} "
                    f"{account.currency}: money spent cannot be refunded"
                )
        refund, created = await self._payments.add_refund(
            payment.id, amount=value, idempotency_key=key, created_by=by
        )
        if refund.refund_of != payment.id or (value is not None and refund.amount != value):
            raise InvalidInput("Idempotency-Key: it was used for another refund")
        if refund.status != PENDING or (not created and refund.provider_ref is not None):
            return Started(refund, created)
        after = await self._ask_refund(provider, payment, refund, account, memo=reason)
        return Started(after, created)

    async def _ask_refund(
        self,
        provider: PaymentProvider,
        payment: Payment,
        refund: Payment,
        account: Account,
        *,
        memo: str,
    ) -> Payment:
        assert payment.provider_ref is not None
        now = self._clock()
        try:
            report = await provider.refund(
                payment.provider_ref,
                amount=refund.amount,
                currency=refund.currency,
                idempotency_key=refund.idempotency_key,
                metadata={
                    "csms_payment_id": str(refund.id),
                    "csms_refund_of": str(payment.id),
                    "csms_reason": memo[:500],
                },
            )
        except ProviderUnavailable:
            await self._check_later(refund)  # asked again with the same key
            raise
        except PaymentError as exc:
            failed = ProviderRefund(
                refund.idempotency_key,
                REFUND_FAILED,
                refund.amount,
                refund.currency,
                failure=str(exc),
            )
            await self._apply_one(
                refund.id, lambda r: on_refund_report(r, failed, prepaid=account.prepaid, now=now)
            )
            raise
        await self._payments.set_provider_ref(refund.id, report.ref)
        report = replace(report, memo=memo or report.memo)

        def decide(r: Payment) -> Decision:
            decision = on_refund_report(r, report, prepaid=account.prepaid, now=now)
            if decision.payment is None and r.status == PENDING and r.next_attempt_at:
                # pending at the provider: its webhook completes it
                return Decision(decision.outcome, replace(r, next_attempt_at=None))
            return decision

        return await self._apply_one(refund.id, decide)

    async def write_off(self, payment_id: int, *, reason: str, by: str) -> Payment:
        """Give up on a failed payment of a receivable; who and why are recorded (on the
        write-off's ledger entry)."""
        if not reason.strip():
            raise InvalidInput("reason: say why the receivable is written off")
        await self._get(payment_id)
        now = self._clock()
        return await self._apply_one(
            payment_id, lambda p: write_off(p, reason=reason.strip(), by=by, now=now)
        )

    # -- reading -----------------------------------------------------------------------------

    async def get(self, payment_id: int) -> Payment:
        return await self._get(payment_id)

    async def view(self, payment_id: int) -> PaymentView:
        payment = await self._get(payment_id)
        refunds = await self._payments.refunds_of(payment.id)
        return PaymentView(
            payment,
            await self._payments.refunded_total(payment.id),
            tuple(refunds),
            tuple(await self._payments.entries_of(payment.id)),
            tuple(await self._payments.events_of(payment.id)),
        )

    async def list_payments(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Payment]:
        return await self._payments.list_payments(
            account_id=account_id, status=status, kind=kind, before_id=before_id, limit=limit
        )

    # -- the parts ---------------------------------------------------------------------------

    async def _get(self, payment_id: int) -> Payment:
        payment = await self._payments.get(payment_id)
        if payment is None:
            raise NotFound(f"payment {payment_id} not found")
        return payment

    async def _account(self, account_id: int) -> Account:
        account = await self._billing.get_account(account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        return account

    async def _apply_one(self, payment_id: int, decide: Decide) -> Payment:
        after, _ = _only(await self._payments.apply([(payment_id, decide)]), payment_id)
        return after


def _only(applied: Applied, payment_id: int) -> tuple[Payment, Decision]:
    (after, decision), *_ = applied.results
    if after is None:
        raise NotFound(f"payment {payment_id} not found")
    return after, decision


def _declined(payment: Payment, failure: str) -> ProviderPayment:
    return ProviderPayment(
        payment.provider_ref or "",
        INTENT_FAILED,
        payment.amount,
        payment.currency,
        payment_id=payment.id,
        attempt=payment.attempts,
        failure=failure,
    )


__all__ = [
    "PAYMENT_ADVANCE",
    "PAYMENT_SWEEP",
    "PaymentService",
    "PaymentView",
    "Started",
    "WebhookOutcome",
]
