"""Settlement: every ended session becomes one charge on its account, or a review.

The node enqueues a ``settle_session`` job when a session ends (after pricing froze its
final cost: hooks run in subscription order) and a ``hold_session`` job when one starts;
``csms worker`` runs them (:mod:`csms.worker`). Settling reads what is stored, decides with
:func:`csms.domain.billing.settle`, and records the charge with its ledger entry (and the
release of the session's hold) in one transaction keyed by the session: run twice, run
concurrently, or killed and run again, a session is charged once. What cannot be billed goes
to the review queue with the reason; an operator resolves it (set the energy and settle,
price it by hand, or waive it), and the resolution is recorded with who did it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from csms.domain.billing import (
    CLOSED,
    ENERGY_SET,
    INVOICE_PER_SESSION,
    PRICED_MANUALLY,
    SETTLED,
    Account,
    Bill,
    Charge,
    Review,
    SettlementFacts,
    ToReview,
    check_amount,
    manual_bill,
    settle,
)
from csms.domain.clock import Clock
from csms.domain.cost import cost
from csms.domain.cost_periods import Reading, StateChange, Timeline
from csms.domain.ledger import Entry, charge_entry, hold_entry, release_entry
from csms.domain.tariffs import parse_tariff
from csms.errors import InvalidInput, NotFound
from csms.services.hooks import Hooks, SessionEnded, SessionStarted
from csms.services.invoices import session_invoice_job
from csms.services.ports import BillingStore, JobQueue, PricingStore, TariffStore

log = logging.getLogger(__name__)

SETTLE_SESSION = "settle_session"
HOLD_SESSION = "hold_session"
SETTLE_SWEEP = "settle_sweep"
# a charge's source
FROM_TARIFF = "tariff"
FROM_REVIEW = "review"


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    """``charged`` (``charge`` is new), ``already`` (charged before), ``review`` (why in
    ``reason``), ``open`` (the session has not ended) or ``missing``."""

    outcome: str
    charge: Charge | None = None
    reason: str | None = None


class SettlementTrigger:
    """The node's side: enqueue settlement when sessions start and end."""

    def __init__(self, jobs: JobQueue) -> None:
        self._jobs = jobs

    def attach(self, hooks: Hooks) -> None:
        hooks.subscribe(SessionStarted, self.on_session_started)
        hooks.subscribe(SessionEnded, self.on_session_ended)

    async def on_session_started(self, e: SessionStarted) -> None:
        if e.event.start_token is not None:
            await self._jobs.enqueue(
                HOLD_SESSION, {"transaction_pk": e.session.pk}, dedupe_key=f"hold:{e.session.pk}"
            )

    async def on_session_ended(self, e: SessionEnded) -> None:
        await self._jobs.enqueue(
            SETTLE_SESSION, {"transaction_pk": e.session.pk}, dedupe_key=f"settle:{e.session.pk}"
        )


@dataclass(frozen=True, slots=True)
class Repricing:
    """What pricing a session again needs (an operator set its energy)."""

    pricing: PricingStore
    tariffs: TariffStore
    default_zone: ZoneInfo
    rounding: str


class SettlementService:
    def __init__(
        self,
        billing: BillingStore,
        jobs: JobQueue,
        *,
        clock: Clock,
        repricing: Repricing | None = None,
    ) -> None:
        self._billing = billing
        self._jobs = jobs
        self._clock = clock
        self._repricing = repricing

    async def settle(self, transaction_pk: int) -> SettleOutcome:
        """Settle one ended session (idempotent)."""
        facts = await self._billing.settlement_facts(transaction_pk)
        if facts is None:
            return SettleOutcome("missing")
        if facts.session.ended_at is None:
            return SettleOutcome("open")
        if facts.charge is not None:
            return SettleOutcome("already", facts.charge)
        if facts.review is not None and facts.review.status != "open":
            return SettleOutcome("already", reason=facts.review.resolution)
        decision = settle(
            facts.session,
            facts.cost,
            facts.account,
            meter_went_backwards=facts.meter_went_backwards,
        )
        if isinstance(decision, ToReview):
            if facts.review is None or facts.review.reason != decision.reason:
                await self._billing.record_review(transaction_pk, decision.reason, decision.detail)
                log.info(
                    "session %s to review: %s (%s)",
                    transaction_pk,
                    decision.reason,
                    decision.detail,
                )
            return SettleOutcome("review", reason=decision.reason)
        assert facts.account is not None
        resolve = None
        if facts.review is not None:  # it was in review; now it bills (e.g. an account linked)
            resolve = (SETTLED, {"after": facts.review.reason}, "settlement")
        charge = await self._charge(
            transaction_pk, facts.account, decision, FROM_TARIFF, facts.held, resolve
        )
        if charge is None:
            return SettleOutcome("already", await self._existing(transaction_pk))
        return SettleOutcome("charged", charge)

    async def hold(self, transaction_pk: int) -> bool:
        """Reserve the account's hold amount for a starting session (prepaid accounts that
        have one); True when held."""
        facts = await self._billing.settlement_facts(transaction_pk)
        if facts is None or facts.account is None or facts.charge is not None:
            return False
        account = facts.account
        if not account.prepaid or account.hold_amount <= 0 or facts.session.ended_at is not None:
            return False
        entry = hold_entry(
            account_id=account.id,
            currency=account.currency,
            amount=account.hold_amount,
            transaction_pk=transaction_pk,
        )
        return await self._billing.post(entry) is not None

    async def sweep(self, *, settled_after: timedelta = timedelta(minutes=5)) -> int:
        """Enqueue settlement of sessions that ended a while ago and have neither a charge
        nor a review (their job was lost between a commit and a crash)."""
        found = await self._billing.unsettled(ended_before=self._clock() - settled_after)
        for pk in found:
            await self._jobs.enqueue(
                SETTLE_SESSION, {"transaction_pk": pk}, dedupe_key=f"settle:{pk}"
            )
        return len(found)

    # -- the review queue --------------------------------------------------------------------

    async def reviews(
        self, *, status: str | None = "open", after_pk: int = 0, limit: int = 100
    ) -> list[Review]:
        return await self._billing.list_reviews(status=status, after_pk=after_pk, limit=limit)

    async def review(self, transaction_pk: int) -> Review:
        found = await self._billing.review_of(transaction_pk)
        if found is None:
            raise NotFound(f"session {transaction_pk} is not in review")
        return found

    async def set_energy(
        self, transaction_pk: int, energy_wh: Decimal, *, by: str
    ) -> SettleOutcome:
        """Resolve by giving the session's energy: it is priced again with its tariff version
        and settled (the review records who and what)."""
        review = await self._open_review(transaction_pk)
        if energy_wh < 0:
            raise InvalidInput("energy_wh: must not be negative")
        await self._billing.set_session_energy(transaction_pk, energy_wh)
        facts = await self._billing.settlement_facts(transaction_pk)
        assert facts is not None
        if await self._reprice(facts, energy_wh):
            facts = await self._billing.settlement_facts(transaction_pk)
            assert facts is not None
        return await self._settle_after_review(
            facts, (ENERGY_SET, {"energy_wh": f"{energy_wh:f}", "was": review.reason}, by)
        )

    async def price(
        self, transaction_pk: int, incl_vat: Decimal, vat_rate: Decimal | None, *, by: str
    ) -> SettleOutcome:
        """Resolve by pricing the session by hand (VAT included at ``vat_rate``)."""
        review = await self._open_review(transaction_pk)
        facts = await self._billing.settlement_facts(transaction_pk)
        assert facts is not None
        if facts.account is None:
            raise InvalidInput("the session's id token bills to no account: link one first")
        if facts.account.status == CLOSED:
            raise InvalidInput(
                f"account {facts.account.id} is closed: link the token to another account "
                "(then retry or price), or waive the session"
            )
        incl_vat = check_amount(incl_vat, "incl_vat", facts.account.currency)
        bill = manual_bill(facts.account.currency, incl_vat, vat_rate)
        detail = {
            "incl_vat": f"{incl_vat:f}",
            "vat_rate": None if vat_rate is None else f"{vat_rate:f}",
            "was": review.reason,
        }
        charge = await self._charge(
            transaction_pk,
            facts.account,
            bill,
            FROM_REVIEW,
            facts.held,
            (PRICED_MANUALLY, detail, by),
        )
        if charge is None:
            return SettleOutcome("already", await self._existing(transaction_pk))
        return SettleOutcome("charged", charge)

    async def waive(self, transaction_pk: int, *, note: str, by: str) -> None:
        """Resolve without a charge (the session is free); its hold is released."""
        review = await self._open_review(transaction_pk)
        facts = await self._billing.settlement_facts(transaction_pk)
        assert facts is not None
        release = self._release(facts.account, transaction_pk, facts.held)
        detail: dict[str, Any] = {"note": note, "was": review.reason}
        if not await self._billing.waive(
            transaction_pk, detail=detail, by=by, at=self._clock(), release=release
        ):
            raise InvalidInput(f"session {transaction_pk}: its review is resolved already")

    async def retry(self, transaction_pk: int, *, by: str) -> SettleOutcome:
        """Settle a session in review again as it is now (e.g. after linking its token to an
        account); it stays in review if it still cannot be billed."""
        await self._open_review(transaction_pk)
        facts = await self._billing.settlement_facts(transaction_pk)
        assert facts is not None
        return await self._settle_after_review(facts, (SETTLED, {"retried_by": by}, by))

    # -- the parts ---------------------------------------------------------------------------

    async def _reprice(self, facts: SettlementFacts, energy_wh: Decimal) -> bool:
        """Price the session again with its own tariff version, as if the register had gone
        up evenly by ``energy_wh`` from start to end (the stored readings are what the
        operator overruled); its charging states still count. False: it has no tariff."""
        found = facts.cost
        if self._repricing is None or found is None or found.tariff_id is None:
            return False
        assert found.tariff_version is not None
        r = self._repricing
        version = await r.tariffs.get_version(found.tariff_id, found.tariff_version)
        if version is None:
            return False
        session = facts.session
        assert session.ended_at is not None
        site = await r.tariffs.site_of(session.charge_point_id)
        start_wh = session.meter_start_wh or Decimal(0)
        ended_at = max(session.ended_at, session.started_at)
        timeline = Timeline(
            started_at=session.started_at,
            ended_at=ended_at,
            meter_start_wh=start_wh,
            readings=(Reading(ended_at, start_wh + energy_wh),),
            states=tuple(StateChange(at, c) for at, c in await r.pricing.states(session.id)),
        )
        breakdown = cost(
            parse_tariff(version.definition),
            timeline,
            time_zone=site.zone if site is not None else r.default_zone,
            rounding=r.rounding,
        )
        return await r.pricing.store_cost(
            session.id,
            excl_vat=breakdown.total_excl_vat,
            vat=breakdown.total_vat,
            incl_vat=breakdown.total_incl_vat,
            breakdown=breakdown.to_json(),
            at=self._clock(),
            final=True,
            replace_final=True,
        )

    async def _open_review(self, transaction_pk: int) -> Review:
        review = await self.review(transaction_pk)
        if review.status != "open":
            raise InvalidInput(f"session {transaction_pk}: its review is resolved already")
        return review

    async def _settle_after_review(
        self, facts: SettlementFacts, resolution: tuple[str, dict[str, Any] | None, str | None]
    ) -> SettleOutcome:
        decision = settle(
            facts.session,
            facts.cost,
            facts.account,
            meter_went_backwards=False,  # the operator looked at the meter
        )
        if isinstance(decision, ToReview):
            await self._billing.record_review(facts.session.id, decision.reason, decision.detail)
            return SettleOutcome("review", reason=decision.reason)
        assert facts.account is not None
        charge = await self._charge(
            facts.session.id, facts.account, decision, FROM_REVIEW, facts.held, resolution
        )
        if charge is None:
            return SettleOutcome("already", await self._existing(facts.session.id))
        return SettleOutcome("charged", charge)

    async def _charge(
        self,
        transaction_pk: int,
        account: Account,
        bill: Bill,
        source: str,
        held: Decimal,
        resolve: tuple[str, dict[str, Any] | None, str | None] | None,
    ) -> Charge | None:
        entry = charge_entry(
            account_id=account.id,
            prepaid=account.prepaid,
            currency=bill.currency,
            incl_vat=bill.incl_vat,
            vat_lines=bill.vat_lines,
            transaction_pk=transaction_pk,
            memo=f"session {transaction_pk}",
            created_by=None if resolve is None else resolve[2],
        )
        charge = await self._billing.record_charge(
            transaction_pk=transaction_pk,
            account=account,
            bill=bill,
            source=source,
            entry=entry,
            release=self._release(account, transaction_pk, held),
            resolve_review=resolve,
            at=self._clock(),
        )
        if charge is not None and account.invoicing == INVOICE_PER_SESSION:
            entrypoint, payload, key = session_invoice_job(charge.id)
            await self._jobs.enqueue(entrypoint, payload, dedupe_key=key)
        return charge

    @staticmethod
    def _release(account: Account | None, transaction_pk: int, held: Decimal) -> Entry | None:
        if account is None or held <= 0:
            return None
        return release_entry(
            account_id=account.id,
            currency=account.currency,
            amount=held,
            transaction_pk=transaction_pk,
        )

    async def _existing(self, transaction_pk: int) -> Charge | None:
        facts = await self._billing.settlement_facts(transaction_pk)
        return None if facts is None else facts.charge
