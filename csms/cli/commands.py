"""``csms command``: send a command to a charger, wherever it is connected."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from csms.cli.support import Subparsers, common_settings, err, out, redis_session
from csms.errors import CommandError, CsmsError


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
    import orjson

    from csms.cluster.bus import CommandClient

    params = command_params(args.params_pairs, args.params)
    async with redis_session(common_settings()) as (redis, keys):
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


def add_parsers(sub: Subparsers) -> None:
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
    command.set_defaults(func=cmd_command, takes_params=True)
