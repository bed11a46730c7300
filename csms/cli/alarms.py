"""``csms alarms``: list alarms, follow them live; ``csms alarm ack|clear ID --note``.

The list reads PostgreSQL (the record); ``--watch`` then prints one line per
``alarm.raised`` / ``alarm.acknowledged`` / ``alarm.cleared`` event of the cluster's live
stream until interrupted. An acknowledgement or a clear from here is recorded as
``cli:<OS user>`` and published on the live stream like one from the backoffice.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    open_pool,
    operator_name,
    out,
    print_json,
    refused_is_usage,
)

if TYPE_CHECKING:
    from csms.domain.alarms import Alarm, Change
    from csms.settings import CommonSettings

STATES = ("open", "raised", "acknowledged", "cleared")
SEVERITY_STYLE = {
    "critical": "bold red",
    "major": "red",
    "minor": "yellow",
    "warning": "cyan",
    "info": "dim",
}


def _table(alarms: list[Alarm]) -> Any:
    from rich.table import Table

    table = Table("id", "severity", "state", "type", "charger", "subject", "count", "raised",
                  "message", title=f"{len(alarms)} alarms")  # fmt: skip
    for a in alarms:
        table.add_row(
            str(a.id),
            f"[{SEVERITY_STYLE.get(a.severity.value, '')}]{a.severity.value}[/]",
            a.state.value,
            a.type.value,
            a.charge_point_id or "-",
            a.subject or "-",
            str(a.count),
            a.last_raised_at.isoformat(timespec="seconds"),
            a.message,
        )
    return table


@refused_is_usage
async def cmd_alarms(args: argparse.Namespace) -> int:
    from rich.console import Console

    from csms.domain.alarms import AlarmError, parse_severity, parse_type
    from csms.errors import InvalidInput
    from csms.store import alarms as store

    try:
        severity = None if args.severity is None else parse_severity(args.severity).value
        alarm_type = None if args.type is None else parse_type(args.type).value
    except AlarmError as exc:
        raise InvalidInput(str(exc)) from None
    settings = common_settings()
    pool = await open_pool(settings)
    try:
        found = await store.list_alarms(
            pool,
            before_id=None,
            limit=args.limit,
            states=args.state or (["open"] if not args.all else None),
            severity=severity,
            site_id=args.site,
            charge_point_id=args.charger,
            alarm_type=alarm_type,
        )
    finally:
        await pool.close()
    if args.json:
        print_json([_jsonable(a) for a in found])
    else:
        console = Console()
        if not console.is_terminal:  # piped: whole cells, not ones cut to 80 columns
            console = Console(width=240)
        console.print(_table(found))
    if args.watch:
        await _watch(settings, args)
    return 0


def _jsonable(a: Alarm) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(a)
    data.update(type=a.type.value, severity=a.severity.value, state=a.state.value)
    return data


async def _watch(settings: CommonSettings, args: argparse.Namespace) -> None:
    """One line per alarm event of the live stream, filtered like the list."""
    from csms import bootstrap
    from csms.cluster.connect import redis_client
    from csms.cluster.events import read_events
    from csms.cluster.keys import Keys

    redis = redis_client(await bootstrap.redis_url(settings), max_connections=2)
    keys = Keys(settings.redis_prefix)
    try:
        # from the stream's last entry, not "$": "$" again after an empty read would miss
        # what arrived between two reads
        last: Any = await redis.xrevrange(keys.events(), count=1)
        start = last[0][0] if last else "0-0"
        start = start.decode() if isinstance(start, bytes) else str(start)
        out("following alarm events (Ctrl-C to stop)")
        async for event in read_events(redis, keys, last_id=start, block_ms=1000):
            if not event.type.startswith("alarm."):
                continue
            d = event.data
            if args.charger and event.charge_point_id != args.charger:
                continue
            if args.severity and d.get("severity") != args.severity:
                continue
            if args.site and d.get("site_id") != args.site:
                continue
            if args.type and d.get("type") != args.type:
                continue
            at = datetime.fromtimestamp(event.at).isoformat(timespec="seconds")
            who = f" by {d['by']}" if d.get("by") else ""
            out(
                f"{at} {event.type} #{d.get('alarm_id')} {d.get('severity')} {d.get('type')} "
                f"{event.charge_point_id or '-'} {d.get('subject') or '-'} "
                f"x{d.get('count')}{who}: {d.get('message')}"
            )
    finally:
        await redis.aclose()


async def _transition(args: argparse.Namespace, action: str) -> int:
    from csms import bootstrap
    from csms.cluster.connect import redis_client
    from csms.cluster.events import publish_now
    from csms.cluster.keys import Keys
    from csms.domain.alarms import alarm_payload
    from csms.domain.clock import utc_now
    from csms.errors import NotFound
    from csms.store import alarms as store

    settings = common_settings()
    pool = await open_pool(settings)
    by = operator_name()
    try:
        change: Change | None
        if action == "ack":
            change = await store.acknowledge(
                pool, args.alarm_id, now=utc_now(), by=by, note=args.note
            )
        else:
            change = await store.clear_by_hand(
                pool, args.alarm_id, now=utc_now(), by=by, note=args.note
            )
        if change is None:
            current = await store.get_alarm(pool, args.alarm_id)
            if current is None:
                raise NotFound(f"alarm {args.alarm_id} not found")
            err(f"alarm {args.alarm_id} is {current.state.value}: nothing to {action}")
            return 1
    finally:
        await pool.close()
    with contextlib.suppress(Exception):  # the live stream is best effort; PostgreSQL has it
        redis = redis_client(await bootstrap.redis_url(settings), max_connections=1)
        try:
            data = alarm_payload(change)
            cp = data.pop("charge_point_id") or ""
            await publish_now(redis, Keys(settings.redis_prefix), "cli", change.event_type, cp,
                              data)  # fmt: skip
        finally:
            await redis.aclose()
    a = change.alarm
    out(f"alarm {a.id} {a.state.value} by {by}: {a.type.value} {a.charge_point_id or '-'}")
    return 0


async def cmd_alarm_ack(args: argparse.Namespace) -> int:
    return await _transition(args, "ack")


async def cmd_alarm_clear(args: argparse.Namespace) -> int:
    return await _transition(args, "clear")


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("alarms", help="list alarms (open ones unless --state/--all); --watch")
    p.add_argument("--state", action="append", choices=STATES, help="repeat for several")
    p.add_argument("--all", action="store_true", help="every state")
    p.add_argument("--severity", help="critical, major, minor, warning or info")
    p.add_argument("--site", help="a site id")
    p.add_argument("--charger", help="a charge point id")
    p.add_argument("--type", help="an alarm type (charger_offline, connector_faulted, ...)")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.add_argument("--watch", action="store_true", help="then follow the live stream")
    p.set_defaults(func=cmd_alarms)

    alarm = sub.add_parser("alarm", help="acknowledge or clear one alarm")
    verbs = alarm.add_subparsers(dest="alarm_command", required=True)
    ack = verbs.add_parser("ack", help="acknowledge a raised alarm")
    ack.add_argument("alarm_id", type=int)
    ack.add_argument("--note", required=True)
    ack.set_defaults(func=cmd_alarm_ack)
    clear = verbs.add_parser("clear", help="clear an open alarm by hand")
    clear.add_argument("alarm_id", type=int)
    clear.add_argument("--note", required=True)
    clear.set_defaults(func=cmd_alarm_clear)
