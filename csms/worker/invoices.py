"""The invoice jobs of ``csms worker``: per-session invoices, billing runs, their schedules."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer.models import Schedule

from csms.domain.clock import utc_now
from csms.services.invoices import (
    BILLING_RUN,
    BILLING_RUN_SCHEDULE,
    INVOICE_SWEEP,
    ISSUE_SESSION_INVOICE,
    InvoiceOptions,
    InvoiceService,
)
from csms.settings import CommonSettings
from csms.store.invoices import PostgresInvoices
from csms.store.jobs import PgJobQueue
from csms.worker.runtime import Worker, register, schedule

log = logging.getLogger(__name__)


def invoice_service(pool: asyncpg.Pool, settings: CommonSettings) -> InvoiceService:
    """The invoice service over ``pool``, its seller and series from ``settings``."""
    return InvoiceService(
        PostgresInvoices(pool),
        PgJobQueue(pool),
        clock=utc_now,
        options=InvoiceOptions.from_settings(settings),
    )


def register_invoice_jobs(worker: Worker, pool: asyncpg.Pool) -> None:
    """``issue_session_invoice`` and ``billing_run`` jobs; the billing run of the last
    month that ended and the sweep of lost per-session invoices on their schedules."""
    settings = worker.settings
    invoices = invoice_service(pool, settings)

    async def issue(payload: dict[str, Any]) -> None:
        await invoices.issue_for_charge(int(payload["charge_id"]))

    async def run(payload: dict[str, Any]) -> None:
        await invoices.run(invoices.ended_period(str(payload["period"])))

    register(worker, ISSUE_SESSION_INVOICE, issue)
    register(worker, BILLING_RUN, run)

    async def scheduled_run(_: Schedule) -> None:
        summary = await invoices.run(invoices.last_ended_period())
        if summary.issued:
            log.info(
                "scheduled billing run %s: %d invoices", summary.period.name, len(summary.issued)
            )

    async def sweep(_: Schedule) -> None:
        found = await invoices.sweep(older_than=timedelta(seconds=settings.settle_sweep_after))
        if found:
            log.warning("%d charges had no per-session invoice job: enqueued", found)

    schedule(worker, BILLING_RUN_SCHEDULE, settings.billing_run_schedule, scheduled_run)
    schedule(worker, INVOICE_SWEEP, settings.invoice_sweep_schedule, sweep)
