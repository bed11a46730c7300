"""``csms billing run`` and ``csms invoice``: billing runs, invoices, their PDFs, credit notes.

An invoice is named by its id (``42``) or its number (``INV-000042``). Input the CSMS refuses
(a period that has not ended, an amount above what is left to credit) exits with status 2
and issues nothing; an invoice that does not exist exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from csms.cli.support import (
    Subparsers,
    common_settings,
    fmt,
    open_pool,
    operator_name,
    out,
    print_json,
    refused_is_usage,
    table,
)

if TYPE_CHECKING:
    import contextlib
    from collections.abc import AsyncIterator

    from csms.domain.invoices import Invoice
    from csms.services.invoices import InvoiceService
    from csms.settings import CommonSettings


def _service(settings: CommonSettings) -> contextlib.AbstractAsyncContextManager[InvoiceService]:
    import contextlib

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[InvoiceService]:
        from csms.domain.clock import utc_now
        from csms.services.invoices import InvoiceOptions, InvoiceService
        from csms.store.invoices import PostgresInvoices
        from csms.store.jobs import PgJobQueue

        pool = await open_pool(settings)
        try:
            yield InvoiceService(
                PostgresInvoices(pool),
                PgJobQueue(pool),
                clock=utc_now,
                options=InvoiceOptions.from_settings(settings),
            )
        finally:
            await pool.close()

    return opened()


def _amount(invoice: Invoice) -> str:
    from csms.domain.money import format_amount

    return f"{format_amount(invoice.total_incl_vat, invoice.currency)} {invoice.currency}"


def _row(invoice: Invoice) -> list[object]:
    period = "-" if invoice.period_start is None else invoice.period_start.strftime("%Y-%m")
    return [
        invoice.id,
        invoice.number_text,
        invoice.kind,
        invoice.account_id,
        invoice.buyer.name,
        invoice.issued_at,
        period,
        _amount(invoice),
        "yes" if invoice.paid else "no",
    ]


HEADERS = ["id", "number", "kind", "account", "buyer", "issued_at", "period", "total", "paid"]


@refused_is_usage
async def cmd_billing_run(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from csms.domain.invoices import invoice_json
    from csms.domain.money import format_amount
    from csms.services.invoices import RunStep

    async with _service(common_settings()) as invoices:
        period = invoices.ended_period(args.period)
        console = Console(file=sys.stderr)
        with Progress(
            TextColumn(f"billing run {period.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=True,
            disable=args.json or not console.is_terminal,
        ) as progress:
            task = progress.add_task("run", total=None, last="")

            def step(done: RunStep) -> None:
                last = "" if done.invoice is None else done.invoice.number_text
                progress.update(task, total=done.total, completed=done.done, last=last)

            summary = await invoices.run(period, progress=step)
    if args.json:
        print_json(
            {
                "period": period.name,
                "issued": [invoice_json(i, lines=False) for i in summary.issued],
                "already_invoiced": summary.already,
                "nothing_to_invoice": summary.nothing,
            }
        )
        return 0
    if not summary.issued:
        out(
            f"billing run {period.name}: nothing to invoice (every account invoiced per period "
            f"has its {period.name} invoice, or no charge)"
        )
        return 0
    table(HEADERS, [_row(i) for i in summary.issued])
    out()
    totals: dict[str, Decimal] = {}
    for invoice in summary.issued:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal(0)) + invoice.total_incl_vat
    amounts = ", ".join(
        f"{format_amount(amount, currency)} {currency}"
        for currency, amount in sorted(totals.items())
    )
    out(f"billing run {period.name}: {len(summary.issued)} invoice(s) issued, {amounts}")
    return 0


async def cmd_invoice_list(args: argparse.Namespace) -> int:
    from csms.domain.invoices import invoice_json

    async with _service(common_settings()) as invoices:
        rows = await invoices.invoices(
            account_id=args.account, kind=args.kind, period=args.period, limit=args.limit
        )
    if args.json:
        print_json([invoice_json(i, lines=False) for i in rows])
        return 0
    table(HEADERS, [_row(i) for i in rows])
    return 0


async def cmd_invoice_show(args: argparse.Namespace) -> int:
    from csms.domain.invoices import invoice_json

    async with _service(common_settings()) as invoices:
        invoice = await invoices.find(args.invoice)
    if args.json:
        print_json(invoice_json(invoice))
        return 0
    _show(invoice)
    return 0


def _show(invoice: Invoice) -> None:
    from csms.domain.money import format_amount

    def money(value: object) -> str:
        from decimal import Decimal

        assert isinstance(value, Decimal)
        return format_amount(value, invoice.currency)

    title = "credit note" if invoice.is_credit_note else "invoice"
    out(f"{title} {invoice.number_text} (id {invoice.id})")
    facts: list[tuple[str, object]] = [
        ("issued_at", invoice.issued_at),
        ("seller", invoice.seller.name),
        ("buyer", f"{invoice.buyer.name} (account {invoice.account_id})"),
    ]
    if invoice.period_start is not None:
        facts.append(("period", f"{fmt(invoice.period_start)} - {fmt(invoice.period_end)}"))
    if invoice.credits_number is not None:
        facts.append(("credits", invoice.credits_number))
        facts.append(("reason", invoice.reason))
        facts.append(("created_by", invoice.created_by))
    facts.append(("paid", fmt(invoice.paid_at) if invoice.paid else "no"))
    for label, value in facts:
        out(f"  {label:<11} {fmt(value)}")
    out()
    table(
        [
            "line",
            "description",
            "started_at",
            "ended_at",
            "kWh",
            "tariff",
            "vat %",
            "excl",
            "vat",
            "incl",
        ],  # fmt: skip
        [
            [
                line.line_no,
                line.description,
                line.started_at,
                line.ended_at,
                None if line.energy_wh is None else f"{line.energy_wh / 1000:.3f}",
                line.tariff or "-",
                line.vat_rate,
                money(line.excl_vat),
                money(line.vat),
                money(line.incl_vat),
            ]
            for line in invoice.lines
        ],
    )
    out()
    table(
        ["vat %", "excl", "vat"],
        [[v.rate, money(v.excl_vat), money(v.vat)] for v in invoice.vat_totals],
    )
    out()
    out(f"  total excl. VAT  {money(invoice.total_excl_vat)} {invoice.currency}")
    out(f"  VAT              {money(invoice.total_vat)} {invoice.currency}")
    out(f"  total            {money(invoice.total_incl_vat)} {invoice.currency}")
    if invoice.credit_notes:
        credited = ", ".join(
            f"{c.number} ({money(c.total_incl_vat)})" for c in invoice.credit_notes
        )
        out(f"  credit notes     {credited}")


async def cmd_invoice_pdf(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from csms.services.invoice_pdf import PdfOptions, render_pdf

    settings = common_settings()
    async with _service(settings) as invoices:
        invoice = await invoices.find(args.invoice)
    pdf = await asyncio.to_thread(render_pdf, invoice, PdfOptions.from_settings(settings))
    if args.output == "-":
        sys.stdout.buffer.write(pdf)
        sys.stdout.flush()
        return 0
    target = Path(args.output or f"{invoice.number_text}.pdf")
    target.write_bytes(pdf)
    out(f"{invoice.number_text} written to {target} ({len(pdf)} bytes)")
    return 0


@refused_is_usage
async def cmd_invoice_credit(args: argparse.Namespace) -> int:
    from csms.domain.invoices import invoice_json

    async with _service(common_settings()) as invoices:
        original = await invoices.find(args.invoice)
        note = await invoices.credit(
            original.id,
            reason=args.reason,
            by=operator_name(),
            amount=args.amount,
            lines=args.line or (),
        )
    if args.json:
        print_json(invoice_json(note))
        return 0
    out(
        f"credit note {note.number_text} issued: {_amount(note)} of {original.number_text} "
        f"credited ({note.reason})"
    )
    return 0


def add_parsers(sub: Subparsers) -> None:
    billing = sub.add_parser("billing", help="billing runs (invoices per period)").add_subparsers(
        dest="billing_command", required=True
    )
    run = billing.add_parser(
        "run",
        help="invoice every account invoiced per period for a month that has ended "
        "(once: a second run issues nothing)",
    )
    run.add_argument("--period", required=True, help="the month, YYYY-MM (e.g. 2026-11)")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(func=cmd_billing_run)

    invoice = sub.add_parser("invoice", help="invoices and credit notes").add_subparsers(
        dest="invoice_command", required=True
    )
    ls = invoice.add_parser("list", help="invoices and credit notes, newest first")
    ls.add_argument("--account", type=int, help="of this billing account")
    ls.add_argument("--kind", choices=("invoice", "credit_note"))
    ls.add_argument(
        "--period",
        help="YYYY-MM: that month's invoices, and those issued in it (per session, credit notes)",
    )
    ls.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_invoice_list)
    show = invoice.add_parser("show", help="an invoice with its lines, VAT and totals")
    show.add_argument("invoice", help="its id or number (INV-000042)")
    show.add_argument("--json", action="store_true", help="print JSON (as the API gives it)")
    show.set_defaults(func=cmd_invoice_show)
    pdf = invoice.add_parser("pdf", help="write an invoice as PDF")
    pdf.add_argument("invoice", help="its id or number (INV-000042)")
    pdf.add_argument(
        "-o", "--output", help="the file (default: <number>.pdf here; - standard output)"
    )
    pdf.set_defaults(func=cmd_invoice_pdf)
    credit = invoice.add_parser(
        "credit",
        help="issue a credit note: all that is left of the invoice, --amount, or --line N",
    )
    credit.add_argument("invoice", help="its id or number (INV-000042)")
    credit.add_argument("--amount", help="VAT included, at most what is left to credit")
    credit.add_argument(
        "--line", type=int, action="append", help="credit this line whole (repeatable)"
    )
    credit.add_argument("--reason", required=True, help="why (kept with the credit note)")
    credit.add_argument("--json", action="store_true", help="print JSON")
    credit.set_defaults(func=cmd_invoice_credit)
