"""The ``csms`` command: run the platform and manage chargers, tokens and sessions.

Run ``csms --help`` or see docs/reference/cli.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from csms import bootstrap, logs
from csms.cli_records import (
    cmd_charger_add,
    cmd_charger_list,
    cmd_charger_remove,
    cmd_charger_set,
    cmd_charger_show,
    cmd_journal,
    cmd_token_add,
    cmd_token_list,
    cmd_token_remove,
    cmd_transaction_show,
    cmd_transactions,
    token_status_command,
)
from csms.cli_support import Command, err, open_pool, out, table
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.errors import CommandError, CsmsError
from csms.settings import CommonSettings, NodeSettings

# -- platform ---------------------------------------------------------------------------------


async def cmd_migrate(args: argparse.Namespace) -> int:
    from csms.store.pool import migrate

    settings = CommonSettings()
    await migrate(await bootstrap.database_url(settings))
    out("database migrated to head")
    return 0


async def cmd_node(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.node_id:
        overrides["node_id"] = args.node_id
    if args.port is not None:
        overrides["port"] = args.port
    if args.host:
        overrides["host"] = args.host
    settings = NodeSettings(**overrides)
    settings.check_safe()
    return await _run_node(settings, migrate_first=args.migrate)


async def cmd_up(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    settings = NodeSettings(**overrides)
    settings.check_safe()
    from csms.settings import BackofficeSettings

    api = BackofficeSettings()
    api.check_safe()
    # the backoffice shares this process (and its embedded servers) with the node
    database_url = await bootstrap.database_url(settings)
    from csms.store.pool import migrate

    await migrate(database_url)
    server = backoffice_server(api.api_host, api.api_port, api.forwarded_allow_ips)
    serving = asyncio.create_task(server.serve(), name="backoffice")
    out(f"csms backoffice: http://{api.api_host}:{api.api_port}/docs")
    try:
        return await _run_node(settings, migrate_first=False)
    finally:
        server.should_exit = True
        await serving


async def _run_node(settings: NodeSettings, *, migrate_first: bool) -> int:
    from csms.node.runtime import running_node
    from csms.store.pool import migrate

    database_url = await bootstrap.database_url(settings)
    redis_url = await bootstrap.redis_url(settings)
    if migrate_first:
        await migrate(database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_node(settings, database_url, redis_url) as node:
        out(
            f"csms node {settings.node_id}: chargers connect to "
            f"ws://{settings.host}:{node.port}/ocpp/{{charge_point_id}}"
        )
        await stop.wait()
    return 0


# -- cluster ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _redis(settings: CommonSettings) -> AsyncIterator[tuple[Redis, Keys]]:
    redis = redis_client(await bootstrap.redis_url(settings), max_connections=4)
    try:
        yield redis, Keys(settings.redis_prefix)
    finally:
        await redis.aclose()


async def cmd_nodes(args: argparse.Namespace) -> int:
    from csms.cluster.registry import Registry

    async with _redis(CommonSettings()) as (redis, keys):
        nodes = await Registry(redis, keys).live_nodes()
    now = time.time()
    table(
        ["node_id", "address", "version", "chargers", "up_s", "heartbeat_age_s"],
        [
            [
                n.node_id,
                n.address,
                n.version,
                n.connections,
                int(now - n.started_at),
                round(now - n.heartbeat_at, 1),
            ]
            for n in nodes
        ],
    )
    return 0


def _command_params(pairs: Sequence[str], raw_json: str | None) -> dict[str, Any]:
    """``--key value`` pairs (dashes become underscores; JSON values decoded) and --params."""
    import orjson

    params: dict[str, Any] = orjson.loads(raw_json) if raw_json else {}
    if not isinstance(params, dict):
        raise CsmsError("--params must be a JSON object")
    items = list(pairs)
    while items:
        key = items.pop(0)
        if not key.startswith("--") or not items:
            raise CsmsError(f"expected --name value pairs, got {key!r}")
        value = items.pop(0)
        try:
            params[key[2:].replace("-", "_")] = orjson.loads(value)
        except orjson.JSONDecodeError:
            params[key[2:].replace("-", "_")] = value
    return params


async def cmd_command(args: argparse.Namespace) -> int:
    import orjson

    from csms.cluster.bus import CommandClient

    params = _command_params(args.params_pairs, args.params)
    async with _redis(CommonSettings()) as (redis, keys):
        client = CommandClient(redis, keys)
        try:
            result = await client.send(
                args.charge_point_id, args.command_name, params, timeout=args.timeout
            )
        except CommandError as exc:
            err(f"{exc.code}: {exc.detail}")
            if exc.extra:
                err(orjson.dumps(exc.extra).decode())
            return 1
        finally:
            await client.close()
    out(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


# -- backoffice and its users ----------------------------------------------------------------

# The backoffice is loaded by name (uvicorn's factory), so `csms` never imports it.
BACKOFFICE_FACTORY = "backoffice.app:app_from_environment"
USER_ROLES = ("admin", "operator", "monitor", "driver")
MIN_USER_PASSWORD, MAX_USER_PASSWORD = 12, 128


def backoffice_server(host: str, port: int, forwarded_allow_ips: str) -> Any:
    """A uvicorn server for the backoffice (``await server.serve()`` runs it)."""
    import uvicorn

    config = uvicorn.Config(
        BACKOFFICE_FACTORY,
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


async def cmd_backoffice(args: argparse.Namespace) -> int:
    from csms.settings import BackofficeSettings
    from csms.store.pool import migrate

    settings = BackofficeSettings()
    settings.check_safe()
    if args.migrate:
        await migrate(await bootstrap.database_url(settings))
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    out(f"csms backoffice: http://{host}:{port}/docs")
    await backoffice_server(host, port, settings.forwarded_allow_ips).serve()
    return 0


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
    pool = await open_pool(CommonSettings())
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

    pool = await open_pool(CommonSettings())
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

    pool = await open_pool(CommonSettings())
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


def _add_backoffice_parsers(sub: Any) -> None:
    backoffice = sub.add_parser("backoffice", help="run the REST backoffice (FastAPI)")
    backoffice.add_argument("--host", help="bind address (default CSMS_API_HOST or 127.0.0.1)")
    backoffice.add_argument("--port", type=int, help="HTTP port (default CSMS_API_PORT or 8000)")
    backoffice.add_argument("--migrate", action="store_true", help="apply migrations first")
    backoffice.set_defaults(func=cmd_backoffice)

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


# -- parser -----------------------------------------------------------------------------------


def _datetime(text: str) -> datetime:
    from csms.domain.clock import parse_timestamp

    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: {text}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="OCPP central system")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="all-in-one dev platform (embedded servers if none set)")
    up.add_argument("--port", type=int, help="OCPP port (default CSMS_PORT or 9000)")
    up.set_defaults(func=cmd_up)

    node = sub.add_parser("node", help="run one charger-facing node")
    node.add_argument("--node-id", help="unique node id (default host-pid)")
    node.add_argument("--host", help="bind address (default CSMS_HOST or 127.0.0.1)")
    node.add_argument("--port", type=int, help="OCPP port (default CSMS_PORT or 9000)")
    node.add_argument("--migrate", action="store_true", help="apply migrations first")
    node.set_defaults(func=cmd_node)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

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

    txs = sub.add_parser("transactions", help="list charging sessions, newest first")
    txs.add_argument("--charger", help="only this charger")
    txs.add_argument("--token", help="only this id token")
    txs.add_argument("--active", action="store_true", help="only sessions not ended")
    txs.add_argument("--limit", type=int, default=50)
    txs.set_defaults(func=cmd_transactions)
    tx = sub.add_parser("transaction", help="one session").add_subparsers(
        dest="transaction_command", required=True
    )
    txshow = tx.add_parser("show", help="a session with its meter values")
    txshow.add_argument("id", type=int, help="the id column of `csms transactions`")
    txshow.set_defaults(func=cmd_transaction_show)

    sub.add_parser("nodes", help="live nodes of the cluster").set_defaults(func=cmd_nodes)
    command = sub.add_parser(
        "command",
        help="send a command to a charger, wherever it is connected",
        description="Example: csms command CP-1 reset --type soft. Params are --name value "
        "pairs (JSON values allowed) or --params '{...}'. See docs/reference/commands.md.",
    )
    command.add_argument("charge_point_id")
    command.add_argument("command_name", metavar="command", help="neutral command name, or raw")
    command.add_argument("--params", help="params as a JSON object")
    command.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    command.set_defaults(func=cmd_command)

    journal = sub.add_parser("journal", help="the OCPP frames a charger sent and received")
    journal.add_argument("charge_point_id")
    journal.add_argument("--limit", type=int, default=100)
    journal.set_defaults(func=cmd_journal)
    _add_backoffice_parsers(sub)
    return parser


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "command":
        args.params_pairs = extra  # --name value pairs become the command's params
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logs.configure(os.environ.get("CSMS_LOG_LEVEL", "INFO"))
    if args.command in ("up", "node"):
        _use_uvloop()
    func: Command = args.func
    try:
        return asyncio.run(func(args))
    except CsmsError as exc:
        err(str(exc))
        return 1
    except (OSError, asyncpg.PostgresError, RedisError) as exc:
        err(f"{type(exc).__name__}: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
