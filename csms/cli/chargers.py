"""``csms charger``: register chargers and see what they reported."""

from __future__ import annotations

import argparse
import os
from typing import Any

from csms.cli.support import Subparsers, common_settings, err, fmt, open_pool, out, table


async def cmd_charger_add(args: argparse.Namespace) -> int:
    from csms.domain.charge_points import valid_charge_point_id
    from csms.passwords import (
        MAX_CHARGER_PASSWORD,
        MIN_CHARGER_PASSWORD,
        generate_password,
        hash_password,
    )
    from csms.store import chargers

    if not valid_charge_point_id(args.charge_point_id):
        err("charge point id: 1-48 printable characters, no ':', '/' or spaces")
        return 2
    password: str | None = None
    if args.no_auth:
        password_hash = None
    else:
        password = args.password or os.environ.get("CSMS_CHARGER_PASSWORD")
        generated = password is None
        if password is None:
            password = generate_password()
        if not MIN_CHARGER_PASSWORD <= len(password) <= MAX_CHARGER_PASSWORD:
            err(f"password: {MIN_CHARGER_PASSWORD}-{MAX_CHARGER_PASSWORD} characters")
            return 2
        password_hash = hash_password(password)
        if not generated:
            password = None  # the operator knows it; never echo it
    pool = await open_pool(common_settings())
    try:
        await chargers.add_charger(
            pool,
            args.charge_point_id,
            password_hash=password_hash,
            boot_policy=args.boot_policy,
            ocpp_version=_protocol(args.ocpp_version),
            description=args.description,
        )
    finally:
        await pool.close()
    out(f"charger {args.charge_point_id} added")
    if args.no_auth:
        out("WARNING: no authentication; anyone can connect as this charger (dev/test only)")
    if password is not None:
        out(f"generated password (shown once, only its hash is stored): {password}")
    return 0


def _protocol(version: str | None) -> str | None:
    return None if version is None else f"ocpp{version}"


async def cmd_charger_list(args: argparse.Namespace) -> int:
    from csms.store import chargers

    pool = await open_pool(common_settings())
    try:
        rows = await chargers.list_chargers(pool, limit=args.limit)
    finally:
        await pool.close()
    table(
        [
            "charge_point_id",
            "auth",
            "boot",
            "status",
            "connected",
            "vendor",
            "model",
            "last_seen_at",
        ],
        [
            [
                c.charge_point_id,
                c.auth_mode,
                c.boot_policy,
                c.registration_status,
                c.connected_protocol,
                c.vendor,
                c.model,
                c.last_seen_at,
            ]
            for c in rows
        ],
    )
    return 0


async def cmd_charger_show(args: argparse.Namespace) -> int:
    from csms.store import chargers, transactions

    pool = await open_pool(common_settings())
    try:
        charger = await chargers.get_charger(pool, args.charge_point_id)
        if charger is None:
            err(f"charger {args.charge_point_id} not found")
            return 1
        connectors = await chargers.list_connectors(pool, args.charge_point_id)
        active = await transactions.list_transactions(
            pool, charge_point_id=args.charge_point_id, active=True
        )
    finally:
        await pool.close()
    for key, value in charger.public().items():
        out(f"{key:21} {fmt(value)}")
    out()
    table(
        ["evse", "connector", "status", "error_code", "info", "vendor_error", "at"],
        [
            [
                c.evse_id,
                c.connector_id,
                c.status,
                c.error_code,
                c.info,
                c.vendor_error_code,
                c.status_at,
            ]
            for c in connectors
        ],
    )
    out()
    out(f"active transactions: {', '.join(t.transaction_id for t in active) or 'none'}")
    return 0


async def cmd_charger_set(args: argparse.Namespace) -> int:
    from csms.passwords import hash_password
    from csms.store import chargers

    changes: dict[str, Any] = {}
    if args.boot_policy:
        changes["boot_policy"] = args.boot_policy
    if args.ocpp_version:
        changes["ocpp_version"] = (
            None if args.ocpp_version == "any" else _protocol(args.ocpp_version)
        )
    if args.description is not None:
        changes["description"] = args.description
    if args.password or os.environ.get("CSMS_CHARGER_PASSWORD"):
        changes["password_hash"] = hash_password(
            args.password or os.environ["CSMS_CHARGER_PASSWORD"]
        )
        changes["auth_mode"] = "basic"
    if not changes:
        err("nothing to change")
        return 2
    pool = await open_pool(common_settings())
    try:
        await chargers.update_charger(pool, args.charge_point_id, **changes)
    finally:
        await pool.close()
    out(f"charger {args.charge_point_id} updated")
    return 0


async def cmd_charger_remove(args: argparse.Namespace) -> int:
    from csms.store import chargers

    pool = await open_pool(common_settings())
    try:
        await chargers.remove_charger(pool, args.charge_point_id)
    finally:
        await pool.close()
    out(f"charger {args.charge_point_id} removed")
    return 0


def add_parsers(sub: Subparsers) -> None:
    charger = sub.add_parser("charger", help="register and manage chargers").add_subparsers(
        dest="charger_command", required=True
    )
    add = charger.add_parser("add", help="register a charger")
    add.add_argument("charge_point_id")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument(
        "--password",
        help="Basic-auth password (16-40 chars); "
        "default: CSMS_CHARGER_PASSWORD or a generated one, shown once",
    )
    secret.add_argument(
        "--no-auth",
        action="store_true",
        help="accept the charger without credentials (dev/test only)",
    )
    add.add_argument("--boot-policy", choices=["accept", "pending", "reject"], default="accept")
    add.add_argument("--ocpp-version", choices=["1.6", "2.0.1"], help="pin the OCPP version")
    add.add_argument("--description", default="")
    add.set_defaults(func=cmd_charger_add)
    ls = charger.add_parser("list", help="list chargers")
    ls.add_argument("--limit", type=int, default=1000)
    ls.set_defaults(func=cmd_charger_list)
    show = charger.add_parser("show", help="a charger, its connectors and active sessions")
    show.add_argument("charge_point_id")
    show.set_defaults(func=cmd_charger_show)
    change = charger.add_parser("set", help="change a charger's settings")
    change.add_argument("charge_point_id")
    change.add_argument("--password", help="new Basic-auth password")
    change.add_argument("--boot-policy", choices=["accept", "pending", "reject"])
    change.add_argument("--ocpp-version", choices=["1.6", "2.0.1", "any"])
    change.add_argument("--description")
    change.set_defaults(func=cmd_charger_set)
    remove = charger.add_parser("remove", help="delete a charger and its data")
    remove.add_argument("charge_point_id")
    remove.set_defaults(func=cmd_charger_remove)
