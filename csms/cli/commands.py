"""``csms command``: send a command to one charger or many, wherever they are connected.

``csms command CP-1 reset --type soft`` prints the charger's answer as JSON (exit status 0)
or the error on stderr (1). A list (``CP-1,CP-2``, ``--charger``) or a filter over the
registered chargers (``--all``, ``--connected``, ``--protocol``, ``--vendor``, ``--model``,
``--firmware``) sends to each of them concurrently and prints one row per charger and a
summary; exit status 0 only if every charger answered. docs/reference/cli.md.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from csms.cli.command_targets import PROTOCOLS, ChargerFilter, UsageError, resolve, select
from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    open_pool,
    operator_name,
    out,
    redis_session,
    table,
)
from csms.errors import CommandError, CsmsError

if TYPE_CHECKING:
    from csms.settings import CommonSettings
    from csms.store.chargers import Charger

DEFAULT_CONCURRENCY = 20
PAGE = 1000  # registered chargers read per query when a filter selects them


def command_params(pairs: Sequence[str], raw_json: str | None) -> dict[str, Any]:
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
    params = command_params(args.params_pairs, args.params)
    args.audit_params = params  # recorded (redacted) in the audit entry
    settings = common_settings()
    if args.targets.single:
        return await _send_one(settings, args.targets.chargers[0], args, params)
    if args.targets.selection is not None:
        chargers = await _selected(settings, args.targets.selection)
        if not chargers:
            err("no registered charger matches")
            return 1
    else:
        chargers = list(args.targets.chargers)
    return await _send_many(settings, chargers, args, params)


async def _send_one(
    settings: CommonSettings, charge_point_id: str, args: argparse.Namespace, params: dict[str, Any]
) -> int:
    import orjson

    from csms.cluster.bus import CommandClient

    async with redis_session(settings) as (redis, keys):
        client = CommandClient(redis, keys)
        try:
            result = await client.send(
                charge_point_id,
                args.command_name,
                params,
                timeout=args.timeout,
                by=operator_name(),
            )
        except CommandError as exc:
            args.audit_result = {"error": exc.code, "detail": exc.detail, **exc.extra}
            err(f"{exc.code}: {exc.detail}")
            if exc.extra:
                err(orjson.dumps(exc.extra).decode())
            return 1
        finally:
            await client.close()
    # the charger's answer, for the audit entry (csms.cli.audit)
    args.audit_result = {"action": result.get("action"), "response": result.get("response")}
    out(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


async def _selected(settings: CommonSettings, chosen: ChargerFilter) -> list[str]:
    from csms.store import chargers

    pool = await open_pool(settings)

    async def pages() -> AsyncIterator[list[Charger]]:
        after = ""
        while page := await chargers.list_chargers(pool, limit=PAGE, after=after):
            yield page
            after = page[-1].charge_point_id

    try:
        return await select(pages(), chosen)
    finally:
        await pool.close()


async def _send_many(
    settings: CommonSettings,
    charge_point_ids: list[str],
    args: argparse.Namespace,
    params: dict[str, Any],
) -> int:
    from csms.cli.command_fanout import TerminalProgress, send_many, summary
    from csms.cluster.bus import CommandClient

    progress = TerminalProgress()
    # the reply listener holds one connection; each send needs one briefly
    connections = min(args.concurrency, 32) + 2
    async with redis_session(settings, max_connections=connections) as (redis, keys):
        client = CommandClient(redis, keys)
        try:
            outcomes = await send_many(
                client,
                charge_point_ids,
                args.command_name,
                params,
                timeout=args.timeout,
                concurrency=args.concurrency,
                progress=progress,
                by=operator_name(),
            )
        finally:
            await client.close()
            progress.clear()
    table(
        ["charger", "outcome", "detail"],
        [[o.charge_point_id, o.outcome, o.detail] for o in outcomes],
    )
    out(summary(outcomes))
    args.audit_result = {
        o.charge_point_id: {"outcome": o.outcome, "detail": o.detail} for o in outcomes
    }
    return 0 if all(o.ok for o in outcomes) else 1


def _concurrency(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


USAGE = """csms command CHARGER[,CHARGER...] COMMAND [--name value ...] [options]
       csms command COMMAND --charger ID [--charger ID ...] [--name value ...] [options]
       csms command COMMAND FILTER [FILTER ...] [--name value ...] [options]"""

DESCRIPTION = """Send a command to chargers wherever they are connected (see
docs/reference/commands.md for commands and their params). Params are --name value pairs
(JSON values allowed; dashes become underscores) or --params '{...}'. One charger: its answer
as JSON. A list or a filter: one row per charger (ok, not_connected, timeout,
node_unavailable, rejected, call_error, error) and a summary; exit status 0 only if every
charger answered ok. FILTER: --all, --connected, --protocol, --vendor, --model, --firmware
(all given must match). A param whose name is one of the options below goes in --params."""


def add_parsers(sub: Subparsers) -> None:
    command = sub.add_parser(
        "command",
        help="send a command to a charger, wherever it is connected",
        usage=USAGE,
        description=DESCRIPTION,
    )
    command.add_argument(
        "target", metavar="charger", help="a charge point id, or several separated by commas"
    )
    command.add_argument(
        "command_name", metavar="command", nargs="?", help="neutral command name, or raw"
    )
    command.add_argument("--params", help="params as a JSON object")
    command.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    many = command.add_argument_group("many chargers")
    many.add_argument(
        "--charger", action="append", metavar="ID", help="a charger (repeat for more)"
    )
    many.add_argument("--all", action="store_true", help="every registered charger")
    many.add_argument("--connected", action="store_true", help="registered chargers connected now")
    many.add_argument(
        "--protocol", choices=PROTOCOLS, help="chargers connected with this OCPP version"
    )
    many.add_argument("--vendor", metavar="PATTERN", help="vendor from BootNotification (glob)")
    many.add_argument("--model", metavar="PATTERN", help="model from BootNotification (glob)")
    many.add_argument(
        "--firmware", metavar="PATTERN", help="firmware version from BootNotification (glob)"
    )
    many.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"chargers in flight at once (default {DEFAULT_CONCURRENCY})",
    )

    def finish(args: argparse.Namespace, extra: list[str]) -> None:
        try:
            args.params_pairs = resolve(args, extra)
        except UsageError as exc:
            command.error(str(exc))

    command.set_defaults(func=cmd_command, finish_args=finish)
