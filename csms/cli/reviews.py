"""``csms review``: the settlement review queue, sessions settlement could not bill, and
resolving them (set the energy, price by hand, waive, retry; docs/topics/billing.md)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from csms.cli.accounts import amount_text, money
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
    import asyncpg

    from csms.services.billing import SettlementService, SettleOutcome


@contextlib.asynccontextmanager
async def settlement_service() -> AsyncIterator[tuple[SettlementService, asyncpg.Pool]]:
    """The settlement service as the worker builds it: set-energy prices again."""
    from zoneinfo import ZoneInfo

    from csms.domain.clock import utc_now
    from csms.services.billing import Repricing, SettlementService
    from csms.store.jobs import PgJobQueue
    from csms.store.postgres import PostgresBilling, PostgresPricing, PostgresTariffs

    settings = common_settings()
    pool = await open_pool(settings)
    try:
        repricing = Repricing(
            PostgresPricing(pool),
            PostgresTariffs(pool),
            ZoneInfo(settings.default_time_zone),
            settings.cost_rounding,
        )
        yield (
            SettlementService(
                PostgresBilling(pool), PgJobQueue(pool), clock=utc_now, repricing=repricing
            ),
            pool,
        )
    finally:
        await pool.close()


def _outcome(transaction_pk: int, outcome: SettleOutcome) -> int:
    if outcome.outcome == "charged" and outcome.charge is not None:
        charge = outcome.charge
        out(
            f"session {transaction_pk} charged {money(charge.incl_vat, charge.currency)} "
            f"(excl. VAT {charge.excl_vat:f}, VAT {charge.vat:f}) to account {charge.account_id}"
        )
        return 0
    if outcome.outcome == "already":
        out(f"session {transaction_pk} was charged before: nothing changed")
        return 0
    out(f"session {transaction_pk} stays in review: {outcome.reason}")
    return 1


async def cmd_review_list(args: argparse.Namespace) -> int:
    async with settlement_service() as (settlement, _):
        status = None if args.status == "all" else args.status
        rows = await settlement.reviews(status=status, limit=args.limit)
    if args.json:
        print_json([dataclasses.asdict(r) for r in rows])
        return 0
    table(
        ["session", "reason", "status", "resolution", "by", "created_at", "detail"],
        [
            [
                r.transaction_pk,
                r.reason,
                r.status,
                r.resolution,
                r.resolved_by,
                r.created_at,
                r.detail,
            ]
            for r in rows
        ],
    )
    return 0


async def cmd_review_show(args: argparse.Namespace) -> int:
    from csms.store import billing, transactions

    async with settlement_service() as (settlement, pool):
        review = await settlement.review(args.transaction_pk)
        session = await transactions.get_by_pk(pool, args.transaction_pk)
        cost = await transactions.session_cost(pool, args.transaction_pk)
        account = None
        if session is not None and session.id_token is not None:
            account = await billing.account_of_token(pool, session.id_token)
        charge = await billing.charge_of(pool, args.transaction_pk)
    if args.json:
        print_json(
            dataclasses.asdict(review)
            | {
                "session": None if session is None else dataclasses.asdict(session),
                "account": None if account is None else dataclasses.asdict(account),
                "charge": None if charge is None else dataclasses.asdict(charge),
            }
        )
        return 0
    for key, value in dataclasses.asdict(review).items():
        out(f"{key:18} {fmt(value)}")
    if session is not None:
        out(f"{'charger':18} {session.charge_point_id} (transaction {session.transaction_id})")
        out(f"{'id token':18} {fmt(session.id_token)}")
        out(f"{'started / ended':18} {fmt(session.started_at)} / {fmt(session.ended_at)}")
        out(f"{'energy_wh':18} {fmt(session.energy_wh)}  flags: {','.join(session.flags) or '-'}")
    if cost is not None and cost.tariff_id is not None:
        total = "-" if cost.incl_vat is None else money(cost.incl_vat, cost.currency or "")
        final = "final" if cost.final else "running"
        out(f"{'cost':18} {total} ({final}; tariff {cost.tariff_id} v{cost.tariff_version})")
    if account is None:
        out(f"{'account':18} -")
    else:
        described = f"{account.kind}, {account.currency}, {account.status}"
        out(f"{'account':18} {account.id} ({described})")
    if charge is not None:
        charged = money(charge.incl_vat, charge.currency)
        out(f"{'charge':18} {charged} (entry {charge.ledger_entry_id})")
    return 0


@refused_is_usage
async def cmd_review_set_energy(args: argparse.Namespace) -> int:
    async with settlement_service() as (settlement, _):
        outcome = await settlement.set_energy(
            args.transaction_pk, args.energy_wh, by=operator_name()
        )
    return _outcome(args.transaction_pk, outcome)


@refused_is_usage
async def cmd_review_price(args: argparse.Namespace) -> int:
    async with settlement_service() as (settlement, _):
        outcome = await settlement.price(
            args.transaction_pk, args.incl_vat, args.vat_rate, by=operator_name()
        )
    return _outcome(args.transaction_pk, outcome)


@refused_is_usage
async def cmd_review_waive(args: argparse.Namespace) -> int:
    async with settlement_service() as (settlement, _):
        await settlement.waive(args.transaction_pk, note=args.note, by=operator_name())
    out(f"session {args.transaction_pk} waived: no charge")
    return 0


@refused_is_usage
async def cmd_review_retry(args: argparse.Namespace) -> int:
    async with settlement_service() as (settlement, _):
        outcome = await settlement.retry(args.transaction_pk, by=operator_name())
    return _outcome(args.transaction_pk, outcome)


def add_parsers(sub: Subparsers) -> None:
    review = sub.add_parser(
        "review", help="the settlement review queue: sessions that could not be billed"
    ).add_subparsers(dest="review_command", required=True)
    ls = review.add_parser("list", help="sessions in review (open ones unless --status)")
    ls.add_argument("--status", choices=["open", "resolved", "all"], default="open")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_review_list)

    show = review.add_parser("show", help="a review with its session, account and charge")
    show.add_argument("transaction_pk", type=int, help="the session's id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_review_show)

    energy = review.add_parser(
        "set-energy", help="give the session's energy: priced again with its tariff, charged"
    )
    energy.add_argument("transaction_pk", type=int)
    energy.add_argument("energy_wh", type=amount_text, help="the energy in Wh")
    energy.set_defaults(func=cmd_review_set_energy)

    price = review.add_parser("price", help="charge the session a price given by hand")
    price.add_argument("transaction_pk", type=int)
    price.add_argument("incl_vat", type=amount_text, help="the price, VAT included")
    price.add_argument(
        "--vat-rate", type=amount_text, help="VAT in percent included (none: no VAT)"
    )
    price.set_defaults(func=cmd_review_price)

    waive = review.add_parser("waive", help="make the session free (no charge)")
    waive.add_argument("transaction_pk", type=int)
    waive.add_argument("--note", required=True, help="why (kept with the resolution)")
    waive.set_defaults(func=cmd_review_waive)

    retry = review.add_parser(
        "retry", help="settle again as things are now (e.g. after linking an account)"
    )
    retry.add_argument("transaction_pk", type=int)
    retry.set_defaults(func=cmd_review_retry)
