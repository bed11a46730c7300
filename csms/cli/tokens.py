"""``csms token``: the id tokens chargers authorize."""

from __future__ import annotations

import argparse
from datetime import datetime

from csms.cli.support import Command, Subparsers, common_settings, open_pool, out, table


async def cmd_token_add(args: argparse.Namespace) -> int:
    from csms.store import id_tokens

    pool = await open_pool(common_settings())
    try:
        await id_tokens.add_id_token(
            pool,
            args.id_token,
            token_type=args.type,
            status=args.status,
            expiry_date=args.expiry,
            parent_id_token=args.parent,
            allow_concurrent=args.allow_concurrent,
            description=args.description,
        )
    finally:
        await pool.close()
    out(f"id token {args.id_token} added ({args.status})")
    return 0


async def cmd_token_list(args: argparse.Namespace) -> int:
    from csms.store import id_tokens

    pool = await open_pool(common_settings())
    try:
        rows = await id_tokens.list_id_tokens(pool, limit=args.limit)
    finally:
        await pool.close()
    table(
        ["id_token", "type", "status", "expiry_date", "parent", "concurrent", "description"],
        [
            [
                t.id_token,
                t.token_type,
                t.status,
                t.expiry_date,
                t.parent_id_token,
                t.allow_concurrent,
                t.description,
            ]
            for t in rows
        ],
    )
    return 0


def token_status_command(status: str) -> Command:
    async def command(args: argparse.Namespace) -> int:
        from csms.store import id_tokens

        pool = await open_pool(common_settings())
        try:
            await id_tokens.update_id_token(pool, args.id_token, status=status)
        finally:
            await pool.close()
        out(f"id token {args.id_token} is now {status}")
        return 0

    return command


async def cmd_token_remove(args: argparse.Namespace) -> int:
    from csms.store import id_tokens

    pool = await open_pool(common_settings())
    try:
        await id_tokens.remove_id_token(pool, args.id_token)
    finally:
        await pool.close()
    out(f"id token {args.id_token} removed")
    return 0


def _datetime(text: str) -> datetime:
    from csms.domain.clock import parse_timestamp

    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: {text}") from None


def add_parsers(sub: Subparsers) -> None:
    token = sub.add_parser("token", help="register and manage id tokens").add_subparsers(
        dest="token_command", required=True
    )
    tadd = token.add_parser("add", help="register an id token")
    tadd.add_argument("id_token")
    tadd.add_argument("--type", default="ISO14443", help="2.0.1 IdTokenEnumType")
    tadd.add_argument(
        "--status", choices=["Accepted", "Blocked", "Expired", "Invalid"], default="Accepted"
    )
    tadd.add_argument("--expiry", type=_datetime, help="expiry date/time (ISO 8601)")
    tadd.add_argument("--parent", help="parent / group id token")
    tadd.add_argument(
        "--allow-concurrent", action="store_true", help="may have several sessions at once"
    )
    tadd.add_argument("--description", default="")
    tadd.set_defaults(func=cmd_token_add)
    tls = token.add_parser("list", help="list id tokens")
    tls.add_argument("--limit", type=int, default=1000)
    tls.set_defaults(func=cmd_token_list)
    for name, status in (("block", "Blocked"), ("unblock", "Accepted")):
        p = token.add_parser(name, help=f"set an id token's status to {status}")
        p.add_argument("id_token")
        p.set_defaults(func=token_status_command(status))
    trm = token.add_parser("remove", help="delete an id token")
    trm.add_argument("id_token")
    trm.set_defaults(func=cmd_token_remove)
