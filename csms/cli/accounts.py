"""``csms account``: billing accounts (prepaid wallets, postpaid receivables), which account
a token bills to, and an account's ledger (docs/topics/billing.md)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    fmt,
    open_pool,
    out,
    print_json,
    refused_is_usage,
    table,
)

if TYPE_CHECKING:
    import asyncpg

    from csms.domain.billing import Account
    from csms.services.accounts import AccountService, AccountView

# option -> account field (beside --name), as `add` and `update` take them
TEXT_FIELDS = ("email", "address", "country", "vat_id")


@contextlib.asynccontextmanager
async def account_service() -> AsyncIterator[tuple[AccountService, asyncpg.Pool]]:
    from csms.services.accounts import AccountService
    from csms.store.postgres import PostgresBilling

    pool = await open_pool(common_settings())
    try:
        yield AccountService(PostgresBilling(pool)), pool
    finally:
        await pool.close()


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:f} {currency}"


def amount_text(text: str) -> Decimal:
    """An amount as the operator typed it (checked against the currency later)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a number: {text}")
    if value and (value.adjusted() > 14 or int(value.as_tuple().exponent) < -12):
        raise argparse.ArgumentTypeError(f"out of range: {text}")
    return value


async def _user_id(pool: asyncpg.Pool, username: str) -> int:
    from csms.errors import NotFound
    from csms.store import users

    user = await users.get_user_by_username(pool, username)
    if user is None:
        raise NotFound(f"user {username} not found")
    return user.id


def _account_json(view: AccountView, refused: Any) -> dict[str, Any]:
    return dataclasses.asdict(view.account) | {
        "balances": view.balances.as_dict(),
        "standing": {
            "may_start": refused is None,
            "reason": None if refused is None else refused.reason,
            "detail": None if refused is None else refused.detail,
        },
    }


async def _show(accounts: AccountService, account_id: int, as_json: bool) -> None:
    view = await accounts.view(account_id)
    refused = await accounts.refusal_to_start(view.account)
    if as_json:
        print_json(_account_json(view, refused))
        return
    account, balances = view.account, view.balances
    for key, value in dataclasses.asdict(account).items():
        out(f"{key:15} {fmt(None if value == '' else value)}")
    currency = account.currency
    out(f"{'wallet':15} {money(balances.wallet, currency)}")
    out(f"{'held':15} {money(balances.held, currency)}")
    out(f"{'receivable':15} {money(balances.receivable, currency)}")
    out(f"{'may start':15} {'yes' if refused is None else f'no: {refused.detail}'}")


@refused_is_usage
async def cmd_account_add(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {
        name: getattr(args, name) for name in TEXT_FIELDS if getattr(args, name) is not None
    }
    if args.invoicing is not None:
        fields["invoicing"] = args.invoicing
    if args.hold_amount is not None:
        fields["hold_amount"] = args.hold_amount
    async with account_service() as (accounts, pool):
        if args.user is not None:
            fields["user_id"] = await _user_id(pool, args.user)
        account = await accounts.open(args.kind, args.currency, args.name, **fields)
        if args.json:
            await _show(accounts, account.id, True)
            return 0
    owner = f" for user {args.user}" if args.user else ""
    out(f"account {account.id} added: {account.kind}, {account.currency}{owner}")
    return 0


async def cmd_account_list(args: argparse.Namespace) -> int:
    async with account_service() as (accounts, pool):
        user_id = None if args.user is None else await _user_id(pool, args.user)
        rows = await accounts.accounts(
            limit=args.limit,
            status=args.status,
            kind=args.kind,
            currency=args.currency,
            user_id=user_id,
            text=args.search,
        )
        views = [(a, await accounts.balances(a)) for a in rows]
    if args.json:
        print_json(
            [dataclasses.asdict(a) | {"balances": b.as_dict()} for a, b in views],
        )
        return 0
    table(
        ["id", "kind", "currency", "status", "name", "user_id", "wallet", "held", "receivable"],
        [
            [a.id, a.kind, a.currency, a.status, a.name, a.user_id, b.wallet, b.held, b.receivable]
            for a, b in views
        ],
    )
    return 0


async def cmd_account_show(args: argparse.Namespace) -> int:
    async with account_service() as (accounts, _):
        await _show(accounts, args.account_id, args.json)
    return 0


@refused_is_usage
async def cmd_account_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {
        name: getattr(args, name)
        for name in ("name", *TEXT_FIELDS, "invoicing", "hold_amount", "status")
        if getattr(args, name) is not None
    }
    if args.reason is not None:
        changes["status_reason"] = args.reason
    async with account_service() as (accounts, pool):
        if args.user is not None:
            changes["user_id"] = await _user_id(pool, args.user)
        if args.no_user:
            changes["user_id"] = None
        if not changes:
            err("nothing to change")
            return 2
        account = await accounts.change(args.account_id, **changes)
    out(f"account {account.id} updated ({account.status})")
    return 0


@refused_is_usage
async def cmd_account_link(args: argparse.Namespace) -> int:
    if (args.account_id is None) == (not args.unlink):
        err("give an ACCOUNT_ID or --unlink")
        return 2
    async with account_service() as (accounts, _):
        account = await accounts.link_token(args.id_token, args.account_id)
    if account is None:
        out(f"id token {args.id_token} bills to no account")
    elif args.account_id is None:
        out(f"id token {args.id_token} bills to its driver's account {account.id}")
    else:
        out(f"id token {args.id_token} bills to account {account.id}")
    return 0


async def cmd_account_ledger(args: argparse.Namespace) -> int:
    async with account_service() as (accounts, _):
        account: Account = await accounts.account(args.account_id)
        entries = await accounts.ledger(args.account_id, after_id=args.after, limit=args.limit)
    if args.json:
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    rows: list[list[object]] = []
    for entry in entries:
        for i, posting in enumerate(entry.postings):
            first = i == 0
            rows.append(
                [
                    entry.id if first else "",
                    entry.at if first else "",
                    entry.kind if first else "",
                    (entry.transaction_pk or "") if first else "",
                    posting.ledger_account,
                    f"{posting.amount:f}" if posting.amount > 0 else "",
                    f"{-posting.amount:f}" if posting.amount < 0 else "",
                    entry.memo if first else "",
                ]
            )
    table(["entry", "at", "kind", "session", "ledger account", "debit", "credit", "memo"], rows)
    out(f"{len(entries)} entries of account {account.id} ({account.currency})")
    return 0


def _account_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email")
    parser.add_argument("--address", help="billing address (lines separated by \\n)")
    parser.add_argument("--country", help="ISO 3166-1 alpha-2, e.g. NL")
    parser.add_argument("--vat-id", dest="vat_id")
    parser.add_argument("--invoicing", choices=["session", "period"])
    parser.add_argument(
        "--hold-amount",
        type=amount_text,
        help="prepaid: reserved when a session starts, and the least a wallet must hold to "
        "start one (0: no hold)",
    )
    parser.add_argument("--user", help="the driver (username) whose account it is")


def add_parsers(sub: Subparsers) -> None:
    account = sub.add_parser("account", help="billing accounts and their ledger").add_subparsers(
        dest="account_command", required=True
    )
    add = account.add_parser("add", help="open a prepaid or postpaid account")
    add.add_argument("name", help="the account holder's name (1-255 characters)")
    add.add_argument("--kind", choices=["prepaid", "postpaid"], required=True)
    add.add_argument("--currency", required=True, help="ISO 4217, e.g. EUR")
    _account_options(add)
    add.add_argument("--json", action="store_true", help="print the account as JSON")
    add.set_defaults(func=cmd_account_add)

    ls = account.add_parser("list", help="accounts with their balances")
    ls.add_argument("--status", choices=["open", "blocked", "closed"])
    ls.add_argument("--kind", choices=["prepaid", "postpaid"])
    ls.add_argument("--currency")
    ls.add_argument("--user", help="the account of this driver (username)")
    ls.add_argument("--search", help="text in the name or e-mail")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_account_list)

    show = account.add_parser("show", help="an account, its balances and standing")
    show.add_argument("account_id", type=int)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_account_show)

    update = account.add_parser(
        "update", help="change an account; --status blocks, unblocks (open) or closes it"
    )
    update.add_argument("account_id", type=int)
    update.add_argument("--name")
    _account_options(update)
    update.add_argument("--no-user", action="store_true", help="the account is no driver's")
    update.add_argument("--status", choices=["open", "blocked", "closed"])
    update.add_argument("--reason", help="why it is blocked (shown with the account)")
    update.set_defaults(func=cmd_account_update)

    link = account.add_parser("link", help="bill an id token to an account")
    link.add_argument("id_token")
    link.add_argument("account_id", type=int, nargs="?")
    link.add_argument("--unlink", action="store_true", help="bill it to its driver's account again")
    link.set_defaults(func=cmd_account_link)

    ledger = account.add_parser("ledger", help="an account's ledger entries with postings")
    ledger.add_argument("account_id", type=int)
    ledger.add_argument("--after", type=int, default=0, help="entries after this entry id")
    ledger.add_argument("--limit", type=int, default=100)
    ledger.add_argument("--json", action="store_true", help="print JSON")
    ledger.set_defaults(func=cmd_account_ledger)
