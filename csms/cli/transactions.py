"""``csms transactions`` and ``csms transaction show``: charging sessions."""

from __future__ import annotations

import argparse

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    fmt,
    open_pool,
    out,
    print_json,
    table,
)


async def cmd_transactions(args: argparse.Namespace) -> int:
    from csms.store import transactions

    pool = await open_pool(common_settings())
    try:
        rows = await transactions.list_transactions(
            pool,
            charge_point_id=args.charger,
            id_token=args.token,
            active=True if args.active else None,
            limit=args.limit,
        )
    finally:
        await pool.close()
    table(
        [
            "id",
            "charger",
            "transaction_id",
            "evse",
            "conn",
            "id_token",
            "auth",
            "started_at",
            "ended_at",
            "energy_wh",
            "stop_reason",
            "flags",
        ],
        [
            [
                t.id,
                t.charge_point_id,
                t.transaction_id,
                t.evse_id,
                t.connector_id,
                t.id_token,
                t.authorization_status,
                t.started_at,
                t.ended_at,
                t.energy_wh,
                # closed by the CSMS (docs/topics/sessions.md): csms:<rule>
                f"csms:{t.close_reason}" if t.closed_by == "csms" else t.stop_reason,
                ",".join(t.flags),
            ]
            for t in rows
        ],
    )
    return 0


async def cmd_transaction_show(args: argparse.Namespace) -> int:
    import dataclasses

    from csms.cli import costs
    from csms.store import meter_values, transactions

    pool = await open_pool(common_settings())
    try:
        transaction = await transactions.get_by_pk(pool, args.id)
        samples = await meter_values.list_for_transaction(pool, args.id) if transaction else []
        cost = await transactions.session_cost(pool, args.id) if transaction else None
    finally:
        await pool.close()
    if transaction is None:
        err(f"transaction {args.id} not found")
        return 1
    if args.json:
        print_json(
            {
                "transaction": dataclasses.asdict(transaction),
                "cost": costs.cost_json(cost),
                "meter_values": samples,
            }
        )
        return 0
    for key in transaction.__slots__:
        out(f"{key:21} {fmt(getattr(transaction, key))}")
    costs.print_cost(cost)
    out()
    table(
        [
            "sampled_at",
            "evse",
            "conn",
            "measurand",
            "phase",
            "location",
            "context",
            "value",
            "unit",
        ],
        [
            [
                s["sampled_at"],
                s["evse_id"],
                s["connector_id"],
                s["measurand"],
                s["phase"],
                s["location"],
                s["context"],
                s["value"] if s["value"] is not None else s["raw_value"],
                s["unit"],
            ]
            for s in samples
        ],
    )
    return 0


def add_parsers(sub: Subparsers) -> None:
    txs = sub.add_parser("transactions", help="list charging sessions, newest first")
    txs.add_argument("--charger", help="only this charger")
    txs.add_argument("--token", help="only this id token")
    txs.add_argument("--active", action="store_true", help="only sessions not ended")
    txs.add_argument("--limit", type=int, default=50)
    txs.set_defaults(func=cmd_transactions)
    tx = sub.add_parser("transaction", help="one session").add_subparsers(
        dest="transaction_command", required=True
    )
    txshow = tx.add_parser("show", help="a session with its cost and meter values")
    txshow.add_argument("id", type=int, help="the id column of `csms transactions`")
    txshow.add_argument("--json", action="store_true", help="print JSON")
    txshow.set_defaults(func=cmd_transaction_show)
