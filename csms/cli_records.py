"""``csms charger``, ``csms token``, ``csms transactions``, ``csms transaction``,
``csms journal``: what the operator registers and what chargers reported."""

from __future__ import annotations

import argparse
import os
from typing import Any

from csms.cli_support import Command, err, fmt, open_pool, out, table
from csms.settings import CommonSettings

# -- chargers ---------------------------------------------------------------------------------


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
    pool = await open_pool(CommonSettings())
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

    pool = await open_pool(CommonSettings())
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

    pool = await open_pool(CommonSettings())
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
    pool = await open_pool(CommonSettings())
    try:
        await chargers.update_charger(pool, args.charge_point_id, **changes)
    finally:
        await pool.close()
    out(f"charger {args.charge_point_id} updated")
    return 0


async def cmd_charger_remove(args: argparse.Namespace) -> int:
    from csms.store import chargers

    pool = await open_pool(CommonSettings())
    try:
        await chargers.remove_charger(pool, args.charge_point_id)
    finally:
        await pool.close()
    out(f"charger {args.charge_point_id} removed")
    return 0


# -- id tokens --------------------------------------------------------------------------------


async def cmd_token_add(args: argparse.Namespace) -> int:
    from csms.store import id_tokens

    pool = await open_pool(CommonSettings())
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

    pool = await open_pool(CommonSettings())
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

        pool = await open_pool(CommonSettings())
        try:
            await id_tokens.update_id_token(pool, args.id_token, status=status)
        finally:
            await pool.close()
        out(f"id token {args.id_token} is now {status}")
        return 0

    return command


async def cmd_token_remove(args: argparse.Namespace) -> int:
    from csms.store import id_tokens

    pool = await open_pool(CommonSettings())
    try:
        await id_tokens.remove_id_token(pool, args.id_token)
    finally:
        await pool.close()
    out(f"id token {args.id_token} removed")
    return 0


# -- sessions and journal ---------------------------------------------------------------------


async def cmd_transactions(args: argparse.Namespace) -> int:
    from csms.store import transactions

    pool = await open_pool(CommonSettings())
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
                t.stop_reason,
                ",".join(t.flags),
            ]
            for t in rows
        ],
    )
    return 0


async def cmd_transaction_show(args: argparse.Namespace) -> int:
    from csms.store import meter_values, transactions

    pool = await open_pool(CommonSettings())
    try:
        transaction = await transactions.get_by_pk(pool, args.id)
        samples = await meter_values.list_for_transaction(pool, args.id) if transaction else []
    finally:
        await pool.close()
    if transaction is None:
        err(f"transaction {args.id} not found")
        return 1
    for key in transaction.__slots__:
        out(f"{key:21} {fmt(getattr(transaction, key))}")
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


async def cmd_journal(args: argparse.Namespace) -> int:
    import orjson

    from csms.store import journal

    pool = await open_pool(CommonSettings())
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
