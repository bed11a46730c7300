"""``csms journal``: the OCPP frames a charger sent and received."""

from __future__ import annotations

import argparse

from csms.cli.support import Subparsers, common_settings, fmt, open_pool, out


async def cmd_journal(args: argparse.Namespace) -> int:
    import orjson

    from csms.store import journal

    pool = await open_pool(common_settings())
    try:
        rows = await journal.list_messages(pool, args.charge_point_id, limit=args.limit)
    finally:
        await pool.close()
    for row in rows:
        arrow = "->" if row["direction"] == "in" else "<-"
        payload = orjson.dumps(row["payload"]).decode()
        out(
            f"{fmt(row['at'])} {arrow} {row['message_type']} {row['message_id']} "
            f"{row['action'] or ''} {payload}"
        )
    return 0


def add_parsers(sub: Subparsers) -> None:
    journal = sub.add_parser("journal", help="the OCPP frames a charger sent and received")
    journal.add_argument("charge_point_id")
    journal.add_argument("--limit", type=int, default=100)
    journal.set_defaults(func=cmd_journal)
