"""Invoices: per session or per period, numbered without gaps, corrected by credit notes.

An account invoiced per session (``billing_accounts.invoicing = 'session'``) gets an invoice
for each charge: settlement enqueues an ``issue_session_invoice`` job when it records one
(:mod:`csms.services.billing`), and a sweep enqueues those a crash lost. Accounts invoiced
per period get one invoice per month of their uninvoiced charges from a billing run
(``csms billing run --period 2026-11``, ``POST /api/v1/billing/runs``, or the worker's
schedule), one account per transaction; a run that finds an account's invoice of the period
issues nothing, so a run can be repeated or resumed safely.

Issuing an invoice moves no money: the charge posted the receivable (postpaid) or took the
wallet's money (prepaid) already. A credit note posts the opposite of a charge
(:func:`csms.domain.ledger.credit_note_entry`), with why and who.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from csms.domain.billing import INVOICE_PER_SESSION, PREPAID, Account
from csms.domain.clock import Clock
from csms.domain.invoices import (
    SERIES_PATTERN,
    ChargedSession,
    Draft,
    Invoice,
    Issued,
    Party,
    Period,
    check_ended,
    credit_note,
    invoice_of_charges,
    last_ended_period,
    parse_period,
)
from csms.domain.ledger import Entry, credit_note_entry
from csms.errors import ConfigurationError, InvalidInput, NotFound
from csms.services.ports import InvoiceStore, JobQueue

if TYPE_CHECKING:
    from csms.settings import CommonSettings

log = logging.getLogger(__name__)

ISSUE_SESSION_INVOICE = "issue_session_invoice"
BILLING_RUN = "billing_run"
BILLING_RUN_SCHEDULE = "billing_run_schedule"
INVOICE_SWEEP = "invoice_sweep"
MAX_ID = 2**63 - 1
DEV_SELLER = "Seller not set (CSMS_INVOICE_SELLER_NAME)"


def session_invoice_job(charge_id: int) -> tuple[str, dict[str, int], str]:
    """The job that invoices one charge of an account invoiced per session: entrypoint,
    payload, dedupe key."""
    return ISSUE_SESSION_INVOICE, {"charge_id": charge_id}, f"invoice:charge:{charge_id}"


@dataclass(frozen=True, slots=True)
class InvoiceOptions:
    """The seller and the numbering (``CSMS_INVOICE_*``, ``CSMS_CREDIT_NOTE_SERIES``)."""

    seller: Party
    invoice_series: str = "INV"
    credit_note_series: str = "CN"
    time_zone: ZoneInfo = ZoneInfo("UTC")
    require_seller: bool = False  # production: no invoice without a seller name

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> InvoiceOptions:
        name = settings.invoice_seller_name.strip()
        if not name and settings.is_dev:
            name = DEV_SELLER
        return cls(
            seller=Party(
                name=name,
                address=settings.invoice_seller_address.replace("\\n", "\n"),
                country=settings.invoice_seller_country,
                vat_id=settings.invoice_seller_vat_id,
                email=settings.invoice_seller_email,
            ),
            invoice_series=settings.invoice_series,
            credit_note_series=settings.credit_note_series,
            time_zone=ZoneInfo(settings.invoice_time_zone),
            require_seller=not settings.is_dev,
        )


@dataclass(frozen=True, slots=True)
class RunStep:
    """One account of a billing run, as the run reports it (progress bars)."""

    account_id: int
    outcome: str  # issued | already | nothing
    invoice: Invoice | None
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    period: Period
    issued: tuple[Invoice, ...]
    already: int
    nothing: int


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A billing run asked for: queued (False: one for that period is queued or running
    already) with the accounts it has to invoice, as counted now."""

    period: Period
    queued: bool
    accounts: int


class InvoiceService:
    def __init__(
        self,
        invoices: InvoiceStore,
        jobs: JobQueue,
        *,
        clock: Clock,
        options: InvoiceOptions,
    ) -> None:
        self._invoices = invoices
        self._jobs = jobs
        self._clock = clock
        self._options = options

    @property
    def options(self) -> InvoiceOptions:
        return self._options

    # -- reading ---------------------------------------------------------------------------

    async def invoice(self, invoice_id: int) -> Invoice:
        found = await self._invoices.get_invoice(invoice_id)
        if found is None:
            raise NotFound(f"invoice {invoice_id} not found")
        return found

    async def find(self, ref: str) -> Invoice:
        """An invoice by id (``42``) or number (``INV-000042``); NotFound."""
        ref = ref.strip()
        series, _, number = ref.upper().rpartition("-")
        if not number.isdigit() or (series and not SERIES_PATTERN.match(series)):
            raise InvalidInput(f"invoice: an id (42) or a number (INV-000042), not {ref!r}")
        if int(number) > MAX_ID:
            raise NotFound(f"invoice {ref} not found")
        if not series:
            return await self.invoice(int(number))
        found = await self._invoices.find_number(series, int(number))
        if found is None:
            raise NotFound(f"invoice {ref} not found")
        return await self.invoice(found)

    async def invoices(
        self,
        *,
        account_id: int | None = None,
        kind: str | None = None,
        period: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
        transaction_pk: int | None = None,
    ) -> list[Invoice]:
        """Newest first; ``period`` (``2026-11``): that month's invoices, and the
        per-session invoices and credit notes issued in it; ``transaction_pk``: the invoice
        of that session."""
        span = None
        if period is not None:
            found = self.period(period)
            span = (found.start, found.end)
        return await self._invoices.list_invoices(
            account_id=account_id,
            kind=kind,
            period=span,
            before_id=before_id,
            limit=limit,
            transaction_pk=transaction_pk,
        )

    def period(self, text: str) -> Period:
        return parse_period(text, self._options.time_zone)

    # -- per session -----------------------------------------------------------------------

    async def issue_for_charge(self, charge_id: int) -> Issued:
        """The invoice of one charge of an account invoiced per session (idempotent:
        ``nothing`` once it is invoiced, or when its account is invoiced per period)."""
        account_id = await self._invoices.charge_account(charge_id)
        if account_id is None:
            return Issued("nothing")
        seller = self._seller()
        now = self._clock()

        def compose(account: Account, sessions: list[ChargedSession]) -> Draft | None:
            if account.invoicing != INVOICE_PER_SESSION:
                return None  # the period's run invoices it
            return invoice_of_charges(sessions, account=account, seller=seller, issued_at=now)

        issued = await self._invoices.issue_invoice(
            series=self._options.invoice_series,
            account_id=account_id,
            compose=compose,
            charge_ids=[charge_id],
        )
        if issued.invoice is not None and issued.outcome == "issued":
            log.info("invoice %s issued for charge %s", issued.invoice.number_text, charge_id)
        return issued

    async def sweep(self, *, older_than: timedelta) -> int:
        """Enqueue the invoices of per-session accounts' charges that have none (their job
        was lost between a commit and a crash)."""
        found = await self._invoices.uninvoiced_session_charges(
            created_before=self._clock() - older_than
        )
        for charge_id in found:
            entrypoint, payload, key = session_invoice_job(charge_id)
            await self._jobs.enqueue(entrypoint, payload, dedupe_key=key)
        return len(found)

    # -- per period ------------------------------------------------------------------------

    def ended_period(self, text: str) -> Period:
        """``text`` as a period that has ended (InvalidInput otherwise)."""
        period = self.period(text)
        check_ended(period, self._clock())
        return period

    def last_ended_period(self) -> Period:
        return last_ended_period(self._clock(), self._options.time_zone)

    async def accounts_to_invoice(self, period: Period) -> list[int]:
        return await self._invoices.accounts_to_invoice(
            ended_before=period.end, period=(period.start, period.end)
        )

    async def request_run(self, text: str) -> RunRequest:
        """Queue a billing run of ``text`` (``2026-11``) for ``csms worker``."""
        period = self.ended_period(text)
        accounts = await self.accounts_to_invoice(period)
        queued = await self._jobs.enqueue(
            BILLING_RUN, {"period": period.name}, dedupe_key=f"billing_run:{period.name}"
        )
        return RunRequest(period, queued, len(accounts))

    async def run(
        self, period: Period, *, progress: Callable[[RunStep], None] | None = None
    ) -> RunSummary:
        """Invoice every account invoiced per period that has uninvoiced charges of sessions
        ended before the period's end (late ones of earlier months too), each account in a
        transaction of its own. Idempotent: an account with the period's invoice is skipped."""
        check_ended(period, self._clock())
        seller = self._seller()
        accounts = await self.accounts_to_invoice(period)
        issued: list[Invoice] = []
        counts = {"already": 0, "nothing": 0}
        for done, account_id in enumerate(accounts, start=1):
            outcome = await self._issue_period(account_id, period, seller)
            if outcome.outcome == "issued":
                assert outcome.invoice is not None
                issued.append(outcome.invoice)
            else:
                counts[outcome.outcome] += 1
            if progress is not None:
                progress(RunStep(account_id, outcome.outcome, outcome.invoice, done, len(accounts)))
        if issued:
            log.info("billing run %s: %d invoices issued", period.name, len(issued))
        return RunSummary(period, tuple(issued), counts["already"], counts["nothing"])

    async def _issue_period(self, account_id: int, period: Period, seller: Party) -> Issued:
        now = self._clock()

        def compose(account: Account, sessions: list[ChargedSession]) -> Draft | None:
            return invoice_of_charges(
                sessions, account=account, seller=seller, issued_at=now, period=period
            )

        return await self._invoices.issue_invoice(
            series=self._options.invoice_series,
            account_id=account_id,
            compose=compose,
            ended_before=period.end,
            period=(period.start, period.end),
        )

    # -- credit notes ----------------------------------------------------------------------

    async def credit(
        self,
        invoice_id: int,
        *,
        reason: str,
        by: str,
        amount: object | None = None,
        lines: Sequence[int] = (),
    ) -> Invoice:
        """A credit note of an issued invoice: what is left of it (no ``amount``, no
        ``lines``), ``amount`` VAT included, or whole ``lines``; never more than what is
        left. Its ledger entry gives the money back (wallet) or takes it off what the
        account owes (receivable), with ``reason`` and ``by``."""
        now = self._clock()

        def compose(original: Invoice, earlier: list[Invoice]) -> Draft:
            return credit_note(
                original, earlier, reason=reason, issued_at=now, amount=amount, line_nos=lines
            )

        def entry_of(credit_note_id: int, draft: Draft, account: Account) -> Entry:
            return credit_note_entry(
                account_id=draft.account_id,
                prepaid=account.kind == PREPAID,
                currency=draft.currency,
                incl_vat=draft.totals.incl_vat,
                vat_lines=draft.totals.vat_totals,
                invoice_id=credit_note_id,
                memo=reason.strip(),
                created_by=by,
            )

        note = await self._invoices.issue_credit_note(
            series=self._options.credit_note_series,
            invoice_id=invoice_id,
            compose=compose,
            entry_of=entry_of,
        )
        log.info(
            "credit note %s of invoice %s (%s %s) by %s",
            note.number_text,
            invoice_id,
            note.total_incl_vat,
            note.currency,
            by,
        )
        return note

    def _seller(self) -> Party:
        if self._options.require_seller and not self._options.seller.name:
            raise ConfigurationError(
                "CSMS_INVOICE_SELLER_NAME is not set: every invoice names its seller"
            )
        if not self._options.seller.name:
            raise InvalidInput("the seller has no name (CSMS_INVOICE_SELLER_NAME)")
        return self._options.seller
