"""``csms user``: the backoffice's users."""

from __future__ import annotations

import argparse
import os

from csms.cli.support import Subparsers, common_settings, err, open_pool, out, table

USER_ROLES = ("admin", "operator", "monitor", "driver")
MIN_USER_PASSWORD, MAX_USER_PASSWORD = 12, 128


async def cmd_user_add(args: argparse.Namespace) -> int:
    import re

    from csms.passwords import generate_password, hash_password
    from csms.store import users

    if not re.fullmatch(r"[A-Za-z0-9._@+-]{1,64}", args.username):
        err("username: 1-64 of letters, digits and . _ @ + -")
        return 2
    password = args.password or os.environ.get("CSMS_USER_PASSWORD")
    generated = password is None
    if password is None:
        password = generate_password(20)
    if not MIN_USER_PASSWORD <= len(password) <= MAX_USER_PASSWORD:
        err(f"password: {MIN_USER_PASSWORD}-{MAX_USER_PASSWORD} characters")
        return 2
    pool = await open_pool(common_settings())
    try:
        await users.add_user(
            pool, args.username, password_hash=hash_password(password), role=args.role
        )
    finally:
        await pool.close()
    out(f"user {args.username} added ({args.role})")
    if generated:
        out(f"generated password (shown once, only its hash is stored): {password}")
    return 0


async def cmd_user_list(args: argparse.Namespace) -> int:
    from csms.store import users

    pool = await open_pool(common_settings())
    try:
        rows = await users.list_users(pool, limit=args.limit)
    finally:
        await pool.close()
    table(
        ["id", "username", "role", "disabled", "created_at"],
        [[u.id, u.username, u.role, u.disabled, u.created_at] for u in rows],
    )
    return 0


async def cmd_user_remove(args: argparse.Namespace) -> int:
    from csms.store import users

    pool = await open_pool(common_settings())
    try:
        user = await users.get_user_by_username(pool, args.username)
        if user is None:
            err(f"user {args.username} not found")
            return 1
        await users.remove_user(pool, user.id)
    finally:
        await pool.close()
    out(f"user {args.username} removed")
    return 0


def add_parsers(sub: Subparsers) -> None:
    user = sub.add_parser("user", help="backoffice users").add_subparsers(
        dest="user_command", required=True
    )
    uadd = user.add_parser("add", help="create a backoffice user")
    uadd.add_argument("username")
    uadd.add_argument("--role", choices=USER_ROLES, required=True)
    uadd.add_argument(
        "--password",
        help=f"{MIN_USER_PASSWORD}-{MAX_USER_PASSWORD} characters; default: CSMS_USER_PASSWORD "
        "or a generated one, shown once",
    )
    uadd.set_defaults(func=cmd_user_add)
    uls = user.add_parser("list", help="list backoffice users")
    uls.add_argument("--limit", type=int, default=1000)
    uls.set_defaults(func=cmd_user_list)
    urm = user.add_parser("remove", help="delete a backoffice user")
    urm.add_argument("username")
    urm.set_defaults(func=cmd_user_remove)
