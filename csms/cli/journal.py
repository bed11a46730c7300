"""``csms journal``: the OCPP frames a charger sent and received."""

from __future__ import annotations

import argparse

from csms.cli.support import Subparsers, common_settings, fmt, open_pool, out


async def cmd_journal(args: argparse.Namespace) -> int:
    from csms.store import journal

    pool = await open_pool(common_settings())
    try:
        rows = await journal.list_messages(
            pool,
            args.charge_point_id,
            limit=args.limit,
            action=args.action,
            containing=args.containing,
        )
    finally:
        await pool.close()
    for row in rows:
        arrow = "->" if row["direction"] == "in" else "<-"
        out(f"{fmt(row['at'])} {arrow} {row['frame']}")
    return 0


def add_parsers(sub: Subparsers) -> None:
    journal = sub.add_parser("journal", help="the OCPP frames a charger sent and received")
    journal.add_argument("charge_point_id")
    journal.add_argument("--limit", type=int, default=100)
    journal.add_argument("--action", help="only frames of this action (a CALL and its answer)")
    journal.add_argument(
        "--containing", metavar="TEXT", help="only frames whose text contains TEXT (any case)"
    )
    journal.set_defaults(func=cmd_journal)
