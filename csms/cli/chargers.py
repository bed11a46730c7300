"""``csms charger``: register chargers and see what they reported."""

from __future__ import annotations

import argparse
import dataclasses
import os

from csms.cli import security_profiles
from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    fmt,
    open_pool,
    out,
    print_json,
    services_session,
    table,
)


async def cmd_charger_add(args: argparse.Namespace) -> int:
    from csms.errors import InvalidInput

    password = None if args.no_auth else args.password or os.environ.get("CSMS_CHARGER_PASSWORD")
    async with services_session(common_settings()) as services:
        try:
            registered = await services.chargers.register(
                args.charge_point_id,
                auth=not args.no_auth,
                password=password,
                boot_policy=args.boot_policy,
                ocpp_version=args.ocpp_version,
                description=args.description,
            )
        except InvalidInput as exc:
            err(str(exc))
            return 2
    out(f"charger {args.charge_point_id} added")
    if args.no_auth:
        out("WARNING: no authentication; anyone can connect as this charger (dev/test only)")
    if registered.generated_password is not None:
        out(
            "generated password (shown once, only its hash is stored): "
            f"{registered.generated_password}"
        )
    return 0


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
    from csms.errors import InvalidInput

    password = args.password or os.environ.get("CSMS_CHARGER_PASSWORD")
    if not (args.boot_policy or args.ocpp_version or args.description is not None or password):
        err("nothing to change")
        return 2
    async with services_session(common_settings()) as services:
        try:
            await services.chargers.change(
                args.charge_point_id,
                password=password,
                boot_policy=args.boot_policy,
                ocpp_version=args.ocpp_version,
                description=args.description,
            )
        except InvalidInput as exc:
            err(str(exc))
            return 2
    out(f"charger {args.charge_point_id} updated")
    return 0


async def cmd_charger_remove(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        await services.chargers.remove(args.charge_point_id)
    out(f"charger {args.charge_point_id} removed")
    return 0


async def cmd_charger_config(args: argparse.Namespace) -> int:
    import fnmatch

    async with services_session(common_settings()) as services:
        await services.chargers.get(args.charge_point_id)  # NotFound: exit 1
        values = await services.reports.configuration(args.charge_point_id)
    if args.key:
        values = [v for v in values if fnmatch.fnmatchcase(v.key, args.key)]
    if args.json:
        print_json([dataclasses.asdict(v) for v in values])
        return 0
    table(
        ["key", "value", "readonly", "evse", "connector", "attribute", "reported_at"],
        [
            [v.key, v.value, v.readonly, v.evse_id, v.connector_id, v.attribute_type, v.reported_at]
            for v in values
        ],
    )
    if not values:
        out("nothing reported yet: csms command CHARGER get_configuration (1.6) or "
            "get_base_report --report-base FullInventory (2.0.1)")  # fmt: skip
    return 0


async def cmd_charger_availability(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        await services.chargers.get(args.charge_point_id)
        answers = await services.reports.availability(args.charge_point_id)
    table(
        ["evse", "connector", "operative", "answer", "updated_at"],
        [[a.evse_id, a.connector_id, a.operative, a.answer, a.updated_at] for a in answers],
    )
    return 0


async def cmd_charger_events(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        await services.chargers.get(args.charge_point_id)
        events = await services.reports.notifications(
            args.charge_point_id, actions=args.action, limit=args.limit
        )
    if args.json:
        print_json([dataclasses.asdict(e) for e in events])
        return 0
    table(
        ["id", "received_at", "occurred_at", "action", "kind"],
        [[e.id, e.received_at, e.occurred_at, e.action, e.kind] for e in events],
    )
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
    config = charger.add_parser(
        "config", help="the configuration the charger reported (1.6 keys, 2.0.1 device model)"
    )
    config.add_argument("charge_point_id")
    config.add_argument("--key", help="only keys matching this glob, e.g. 'OCPPCommCtrlr.*'")
    config.add_argument("--json", action="store_true", help="print JSON")
    config.set_defaults(func=cmd_charger_config)
    availability = charger.add_parser(
        "availability", help="the answers to the last change_availability per connector"
    )
    availability.add_argument("charge_point_id")
    availability.set_defaults(func=cmd_charger_availability)
    events = charger.add_parser(
        "events", help="messages the charger sent (security events, alerts, statuses), newest first"
    )
    events.add_argument("charge_point_id")
    events.add_argument(
        "--action", action="append", help="only this action (repeatable), e.g. NotifyEvent"
    )
    events.add_argument("--limit", type=int, default=100)
    events.add_argument("--json", action="store_true", help="print JSON with the payloads")
    events.set_defaults(func=cmd_charger_events)
    security_profiles.add_charger_parsers(charger)
