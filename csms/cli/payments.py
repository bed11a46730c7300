"""``csms account topup`` and ``csms payment list|show|refund|write-off``: money into an
account, and what became of it (docs/topics/payments.md)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    err,
    fmt,
    operator_name,
    out,
    print_json,
    refused_is_usage,
    table,
)

if TYPE_CHECKING:
    from csms.domain.payments import Payment
    from csms.services.payments import PaymentService, PaymentView

PAYMENT_COLUMNS = [
    "id",
    "account",
    "kind",
    "provider",
    "amount",
    "status",
    "attempts",
    "created_at",
]


@contextlib.asynccontextmanager
async def payment_service() -> AsyncIterator[PaymentService]:
    """The payment service over a small pool and the providers ``CSMS_CARD_*`` configure."""
    from csms.cli.support import open_pool
    from csms.domain.clock import utc_now
    from csms.payments import open_providers, retry_policy
    from csms.services.payments import PaymentService
    from csms.settings import PaymentSettings
    from csms.store.jobs import PgJobQueue
    from csms.store.postgres import PostgresBilling, PostgresPayments

    settings = PaymentSettings()
    settings.check_safe()
    pool = await open_pool(settings)
    providers = open_providers(settings)
    try:
        yield PaymentService(
            PostgresPayments(pool),
            PostgresBilling(pool),
            providers,
            PgJobQueue(pool),
            clock=utc_now,
            policy=retry_policy(settings),
        )
    finally:
        await providers.aclose()
        await pool.close()


def payment_json(p: Payment) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(p)
    data["amount"] = f"{p.amount:f}"
    return data


def _row(p: Payment) -> list[object]:
    return [
        p.id,
        p.account_id,
        p.kind,
        p.provider,
        f"{p.amount:f} {p.currency}",
        p.status,
        p.attempts,
        p.created_at,
    ]


def print_payment(p: Payment) -> None:
    fields: list[tuple[str, object]] = [
        ("id", p.id),
        ("account", p.account_id),
        ("kind", p.kind),
        ("provider", p.provider),
        ("amount", f"{p.amount:f} {p.currency}"),
        ("status", p.status),
        ("provider_ref", p.provider_ref),
        ("invoice", p.invoice_id),
        ("refund_of", p.refund_of),
        ("failure", p.failure or None),
        ("attempts", p.attempts),
        ("next_attempt_at", p.next_attempt_at),
        ("created_by", p.created_by),
        ("created_at", p.created_at),
    ]
    for name, value in fields:
        out(f"{name:16} {fmt(value)}")


@refused_is_usage
async def cmd_topup(args: argparse.Namespace) -> int:
    async with payment_service() as payments:
        started = await payments.pay(
            args.account_id,
            args.amount,
            provider=args.provider,
            by=operator_name(),
            note=args.note,
            currency=args.currency,
            invoice_id=args.invoice,
        )
    if args.json:
        print_json(payment_json(started.payment))
        return 0
    print_payment(started.payment)
    if started.client_secret:
        out(f"{'client_secret':16} {started.client_secret}")
    return 0 if started.payment.status != "failed" else 1


@refused_is_usage
async def cmd_list(args: argparse.Namespace) -> int:
    async with payment_service() as payments:
        rows = await payments.list_payments(
            account_id=args.account, status=args.status, kind=args.kind, limit=args.limit
        )
    if args.json:
        print_json([payment_json(p) for p in rows])
        return 0
    table(PAYMENT_COLUMNS, [_row(p) for p in rows])
    return 0


async def cmd_show(args: argparse.Namespace) -> int:
    async with payment_service() as payments:
        view = await payments.view(args.id)
    if args.json:
        print_json(_view_json(view))
        return 0
    print_payment(view.payment)
    out(f"{'refunded':16} {view.refunded:f} {view.payment.currency}")
    if view.refunds:
        out()
        table(PAYMENT_COLUMNS, [_row(r) for r in view.refunds])
    if view.entries:
        out()
        table(
            ["entry", "at", "kind", "memo", "by", "postings"],
            [
                [
                    e.id,
                    e.at,
                    e.kind,
                    e.memo,
                    e.created_by,
                    " ".join(f"{p.ledger_account}:{p.amount:+f}" for p in e.postings),
                ]
                for e in view.entries
            ],
        )
    if view.events:
        out()
        table(
            ["event", "type", "outcome", "received_at"],
            [[e.event_id, e.type, e.outcome, e.received_at] for e in view.events],
        )
    return 0


def _view_json(view: PaymentView) -> dict[str, Any]:
    import dataclasses

    return {
        "payment": payment_json(view.payment),
        "refunded": f"{view.refunded:f}",
        "refunds": [payment_json(r) for r in view.refunds],
        "ledger": [dataclasses.asdict(e) for e in view.entries],
        "events": [dataclasses.asdict(e) for e in view.events],
    }


@refused_is_usage
async def cmd_refund(args: argparse.Namespace) -> int:
    async with payment_service() as payments:
        refund = (
            await payments.refund(args.id, args.amount, by=operator_name(), reason=args.reason)
        ).payment
    if args.json:
        print_json(payment_json(refund))
        return 0
    print_payment(refund)
    return 0 if refund.status != "failed" else 1


@refused_is_usage
async def cmd_write_off(args: argparse.Namespace) -> int:
    async with payment_service() as payments:
        payment = await payments.write_off(args.id, reason=args.reason, by=operator_name())
    if args.json:
        print_json(payment_json(payment))
        return 0
    print_payment(payment)
    return 0


def _account_subparsers(sub: Subparsers) -> Subparsers:
    """``csms account``'s subcommands (another module may have made ``csms account``)."""
    existing = sub.choices.get("account")
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                found: Subparsers = action
                return found
        err("csms account has no subcommands")
    parser = sub.add_parser("account", help="billing accounts")
    return parser.add_subparsers(dest="account_command", required=True)


def add_parsers(sub: Subparsers) -> None:
    accounts = _account_subparsers(sub)
    topup = accounts.add_parser(
        "topup",
        help="money into an account: a prepaid wallet's top-up, or a payment of what a "
        "postpaid account owes",
    )
    topup.add_argument("account_id", type=int, metavar="ACCOUNT_ID")
    topup.add_argument("amount", metavar="AMOUNT", help="a decimal amount, e.g. 20.00")
    topup.add_argument(
        "--provider",
        default="manual",
        help="manual (default): money received; card: charge a postpaid account's saved card",
    )
    topup.add_argument("--note", default="", help="kept on the ledger entry (manual)")
    topup.add_argument("--currency", help="must be the account's, if given")
    topup.add_argument("--invoice", type=int, help="the invoice it pays (postpaid)")
    topup.add_argument("--json", action="store_true")
    topup.set_defaults(func=cmd_topup)

    payment = sub.add_parser("payment", help="payments, refunds, write-offs").add_subparsers(
        dest="payment_command", required=True
    )
    listing = payment.add_parser("list", help="payments, newest first")
    listing.add_argument("--account", type=int, help="only this account's")
    listing.add_argument(
        "--status", choices=["pending", "succeeded", "failed", "written_off", "canceled"]
    )
    listing.add_argument("--kind", choices=["topup", "invoice", "refund"])
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    show = payment.add_parser("show", help="a payment with its refunds, entries and events")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    refund = payment.add_parser("refund", help="pay back part or all of a succeeded payment")
    refund.add_argument("id", type=int)
    refund.add_argument("--amount", help="default: all that is left to refund")
    refund.add_argument("--reason", default="")
    refund.add_argument("--json", action="store_true")
    refund.set_defaults(func=cmd_refund)
    write_off = payment.add_parser("write-off", help="give up on a failed receivable")
    write_off.add_argument("id", type=int)
    write_off.add_argument("--reason", required=True, help="why (recorded with who)")
    write_off.add_argument("--json", action="store_true")
    write_off.set_defaults(func=cmd_write_off)
