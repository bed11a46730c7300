"""The ``csms`` command: run the platform and manage chargers, tokens, sessions, sites and
tariffs.

Run ``csms --help`` or see docs/reference/cli.md. One module per noun adds its subcommands
(``add_parsers(sub)``); each subcommand is an ``async def cmd_...(args) -> int`` that imports
what it needs when it runs, so ``csms`` starts quickly whatever the subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence

from csms.cli import (
    accounts,
    alarms,
    audit,
    cdrs,
    certificates,
    chargers,
    commands,
    firmware,
    fleet_config,
    invoices,
    journal,
    nodes,
    payments,
    platform,
    reviews,
    sites,
    tariffs,
    tokens,
    transactions,
    users,
)
from csms.cli.support import Command, err
from csms.errors import CsmsError

__all__ = ["build_parser", "main", "parse_args"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csms", description="OCPP central system")
    sub = parser.add_subparsers(dest="command", required=True)
    platform.add_parsers(sub)
    chargers.add_parsers(sub)
    tokens.add_parsers(sub)
    transactions.add_parsers(sub)
    nodes.add_parsers(sub)
    commands.add_parsers(sub)
    journal.add_parsers(sub)
    platform.add_backoffice_parser(sub)
    users.add_parsers(sub)
    sites.add_parsers(sub)
    tariffs.add_parsers(sub)
    fleet_config.add_parsers(sub)
    firmware.add_parsers(sub)
    cdrs.add_parsers(sub)
    accounts.add_parsers(sub)
    reviews.add_parsers(sub)
    invoices.add_parsers(sub)
    payments.add_parsers(sub)
    certificates.add_parsers(sub)
    alarms.add_parsers(sub)
    audit.add_parsers(sub)
    parser.add_argument(
        "--actor",
        dest="acting_as",
        help="who is acting, for the audit log (default: the OS user, which is recorded too)",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed. A subcommand that takes more than its parser knows (``csms command``:
    ``--name value`` params) sets ``finish_args(args, rest)``; any other gets no extras."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    finish = getattr(args, "finish_args", None)
    if finish is not None:
        finish(args, extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: Sequence[str] | None = None) -> int:
    from csms import logs

    args = parse_args(argv)
    logs.configure(os.environ.get("CSMS_LOG_LEVEL", "INFO"))
    if getattr(args, "uvloop", False):
        _use_uvloop()
    func: Command = audit.audited(args.func)  # state-changing subcommands leave an entry
    try:
        return asyncio.run(func(args))
    except CsmsError as exc:
        err(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, _operational_errors()):
            err(f"{type(exc).__name__}: {exc}")
            return 1
        raise


def _operational_errors() -> tuple[type[Exception], ...]:
    """A database, Redis or network failure: one line on stderr, exit status 1."""
    import asyncpg
    from redis.exceptions import RedisError

    return (OSError, asyncpg.PostgresError, RedisError)
