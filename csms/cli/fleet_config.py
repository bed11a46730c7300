"""``csms config``: configuration baselines. Profiles of desired values per OCPP version and
selector, applied to the chargers they select by ``csms worker``; drift (reported vs
desired), each charger's history of changes, reads on demand (docs/reference/cli.md,
docs/topics/fleet-operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    fmt,
    operator_name,
    out,
    print_json,
    redis_session,
    refused_is_usage,
    services_session,
    table,
)

if TYPE_CHECKING:
    from csms.domain.fleet_config import ConfigApply, ConfigProfile

WAIT_POLL = 0.5  # seconds between looks at an apply being sent


def read_profile_file(path: str) -> dict[str, Any]:
    """A profile from a JSON or YAML file (by its suffix; ``-`` reads JSON from stdin)."""
    import sys

    import orjson

    from csms.errors import InvalidInput

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    if path.endswith((".yaml", ".yml")):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path}: not YAML ({exc})") from None
    else:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: a profile is an object with id, ocpp_version and settings")
    return data


def _pairs(values: list[str]) -> dict[str, str]:
    from csms.errors import InvalidInput

    found: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--set {text!r}: write KEY=VALUE")
        found[key] = value
    return found


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """What the flags give (the file's fields are overridden by them)."""
    fields: dict[str, Any] = {}
    if getattr(args, "profile_id_flag", None):
        fields["id"] = args.profile_id_flag
    for name in ("ocpp_version", "priority", "description"):
        if getattr(args, name, None) is not None:
            fields[name] = getattr(args, name)
    if args.reapply_on_boot is not None:
        fields["reapply_on_boot"] = args.reapply_on_boot
    selector = {
        name: getattr(args, name)
        for name in ("site", "vendor", "model", "firmware_version", "chargers")
        if getattr(args, name)
    }
    if selector:
        fields["selector"] = selector
    return fields


@refused_is_usage
async def cmd_profile_add(args: argparse.Namespace) -> int:
    data = read_profile_file(args.file) if args.file else {}
    data.update(_fields(args))
    settings = _pairs(args.set)
    if settings:
        current = data.get("settings") or {}
        if isinstance(current, dict):
            data["settings"] = {**current, **settings}
        else:
            data["settings"] = [*current, *({"key": k, "value": v} for k, v in settings.items())]
    async with services_session(common_settings()) as services:
        profile = await services.config.add_profile(data, by=operator_name())
        targets = await services.config.targets(profile)
    out(
        f"profile {profile.id} added ({profile.ocpp_version}, priority {profile.priority}, "
        f"{len(profile.settings)} settings); it selects {len(targets)} chargers"
    )
    return 0


@refused_is_usage
async def cmd_profile_update(args: argparse.Namespace) -> int:
    changes = read_profile_file(args.file) if args.file else {}
    changes.update(_fields(args))
    if args.set:
        changes["set"] = _pairs(args.set)
    if args.unset:
        changes["unset"] = list(args.unset)
    if args.clear_selector:
        changes["selector"] = {}
    if not changes:
        err("nothing to change")
        return 2
    async with services_session(common_settings()) as services:
        profile = await services.config.update_profile(args.profile_id, changes, by=operator_name())
    out(f"profile {profile.id} updated ({len(profile.settings)} settings)")
    return 0


def _profile_json(profile: ConfigProfile, targets: list[str] | None = None) -> dict[str, Any]:
    from csms.domain.fleet_config import setting_json

    data: dict[str, Any] = {
        "id": profile.id,
        "ocpp_version": profile.ocpp_version,
        "priority": profile.priority,
        "description": profile.description,
        "reapply_on_boot": profile.reapply_on_boot,
        "selector": profile.selector.as_json(),
        "settings": [setting_json(d) for d in profile.settings],
        "created_by": profile.created_by,
        "created_at": profile.created_at,
        "updated_by": profile.updated_by,
        "updated_at": profile.updated_at,
    }
    if targets is not None:
        data["chargers"] = targets
    return data


def _selector_text(profile: ConfigProfile) -> str:
    parts = [f"{k}={','.join(v)}" for k, v in profile.selector.as_json().items()]
    return " ".join(parts) or "all"


async def cmd_profile_list(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        profiles = await services.config.profiles()
        counts = {p.id: len(await services.config.targets(p)) for p in profiles}
    if args.json:
        print_json([_profile_json(p) | {"chargers": counts[p.id]} for p in profiles])
        return 0
    table(
        ["id", "version", "priority", "settings", "chargers", "reapply", "selector"],
        [
            [
                p.id,
                p.ocpp_version,
                p.priority,
                len(p.settings),
                counts[p.id],
                "yes" if p.reapply_on_boot else "no",
                _selector_text(p),
            ]
            for p in profiles
        ],
    )
    return 0


async def cmd_profile_show(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        profile = await services.config.profile(args.profile_id)
        targets = [f.charge_point_id for f in await services.config.targets(profile)]
        applies = await services.config.applies(profile_id=profile.id, limit=5)
    if args.json:
        print_json(_profile_json(profile, targets))
        return 0
    for key in ("id", "ocpp_version", "priority", "description", "reapply_on_boot"):
        out(f"{key:16} {fmt(getattr(profile, key))}")
    out(f"{'selector':16} {_selector_text(profile)}")
    out(f"{'updated':16} {fmt(profile.updated_at)} by {fmt(profile.updated_by)}")
    out(f"{'chargers':16} {len(targets)}: {', '.join(targets[:20]) or 'none'}")
    out()
    table(["setting", "value"], [[d.setting.text(), d.value] for d in profile.settings])
    if applies:
        out()
        _applies_table(applies)
    return 0


@refused_is_usage
async def cmd_profile_remove(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        await services.config.remove_profile(args.profile_id)
    out(f"profile {args.profile_id} removed (values on chargers stay as they are)")
    return 0


def _applies_table(applies: list[ConfigApply]) -> None:
    table(
        ["apply", "profile", "reason", "by", "requested_at", "finished_at", "outcomes"],
        [
            [
                a.id,
                a.profile_id,
                a.reason,
                a.requested_by,
                a.requested_at,
                a.finished_at,
                " ".join(f"{k}={v}" for k, v in sorted(a.outcomes.items())),
            ]
            for a in applies
        ],
    )


@refused_is_usage
async def cmd_apply(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        asked = await services.config.request_apply(
            args.profile_id, by=operator_name(), dry_run=args.dry_run
        )
        applied: ConfigApply | None = asked.apply
        if applied is not None and args.wait:
            applied = await _wait(services, applied.id, args.wait)
        items = None if applied is None else await services.config.apply_items(applied.id)
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "apply": None if applied is None else dataclasses.asdict(applied),
                "plan": [dataclasses.asdict(p) for p in asked.plan],
                "items": None if items is None else [dataclasses.asdict(i) for i in items],
            }
        )
        return 0
    if applied is None or items is None:  # a dry run
        rows = [[p.charge_point_id, *item] for p in asked.plan for item in p.items]
        table(["charger", "setting", "value", "would be", "detail"], rows)
        out(f"dry run: {len(asked.plan)} chargers, nothing sent")
        return 0
    table(
        ["charger", "setting", "value", "outcome", "detail"],
        [[i.charge_point_id, i.setting, i.value, i.outcome, i.detail] for i in items],
    )
    summary = " ".join(f"{k}={v}" for k, v in sorted(applied.outcomes.items()))
    state = "done" if applied.finished_at is not None else "queued for csms worker"
    out(f"apply {applied.id} of {args.profile_id} ({state}): {len(asked.plan)} chargers; {summary}")
    return 0


async def _wait(services: Any, apply_id: int, seconds: float) -> ConfigApply:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        applied: ConfigApply = await services.config.apply(apply_id)
        if applied.finished_at is not None or loop.time() >= deadline:
            return applied
        await asyncio.sleep(WAIT_POLL)


async def cmd_applies(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        if args.apply_id is not None:
            applied = await services.config.apply(args.apply_id)
            items = await services.config.apply_items(applied.id)
        else:
            applies = await services.config.applies(profile_id=args.profile, limit=args.limit)
    if args.apply_id is None:
        _applies_table(applies)
        return 0
    _applies_table([applied])
    out()
    table(
        ["charger", "setting", "value", "outcome", "detail", "rebooted_at"],
        [
            [i.charge_point_id, i.setting, i.value, i.outcome, i.detail, i.rebooted_at]
            for i in items
        ],
    )
    return 0


async def cmd_drift(args: argparse.Namespace) -> int:
    from collections import Counter

    from csms.domain.fleet_config import IN_SYNC

    async with services_session(common_settings()) as services:
        items = await services.config.drift(
            site=args.site, charge_point_id=args.charger, profile_id=args.profile
        )
    if args.json:
        print_json([dataclasses.asdict(i) for i in items])
        return 0
    shown = items if args.all else [i for i in items if i.state != IN_SYNC]
    table(
        ["charger", "setting", "desired", "reported", "state", "profile", "last apply"],
        [
            [
                i.charge_point_id,
                i.setting,
                i.desired,
                i.reported,
                i.state,
                i.profile_id,
                i.last_outcome,
            ]
            for i in shown
        ],  # fmt: skip
    )
    counts = Counter(i.state for i in items)
    chargers = len({i.charge_point_id for i in items})
    drifted = len({i.charge_point_id for i in items if i.state != IN_SYNC})
    states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no desired settings"
    out(f"{chargers} chargers, {drifted} not in sync: {states}")
    return 0


async def cmd_refresh(args: argparse.Namespace) -> int:
    from csms.cluster.bus import CommandClient
    from csms.errors import CommandError

    settings = common_settings()
    async with (
        services_session(settings) as services,
        redis_session(settings) as (redis, keys),
    ):
        client = CommandClient(redis, keys)
        try:
            result = await services.config.refresh(client, args.charge_point_id, by=operator_name())
        except CommandError as exc:
            err(f"{exc.code}: {exc.detail}")
            return 1
        finally:
            await client.close()
    if result.request_id is None:
        out(f"{result.charge_point_id}: {result.settings} configuration keys read")
    else:
        out(
            f"{result.charge_point_id}: report {result.request_id} {result.status.lower()}; "
            f"{result.settings} values known (csms charger config {result.charge_point_id})"
        )
    return 0


async def cmd_history(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        await services.chargers.get(args.charge_point_id)
        entries = await services.config.history(
            args.charge_point_id, setting=args.setting, limit=args.limit
        )
    if args.json:
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    table(
        ["changed_at", "setting", "from", "to", "source", "by"],
        [
            [e.changed_at, e.setting, e.old_value, e.new_value, e.source, e.changed_by]
            for e in entries
        ],
    )
    return 0


def _profile_flags(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    parser.add_argument("--file", help="the profile as JSON or YAML (.yaml/.yml); - for stdin")
    if adding:
        parser.add_argument("--id", dest="profile_id_flag", help="1-64 of letters, digits, . _ -")
    parser.add_argument("--ocpp-version", choices=["1.6", "2.0.1"])
    parser.add_argument("--priority", type=int, help="the highest wins a setting (default 0)")
    parser.add_argument("--description")
    reapply = parser.add_mutually_exclusive_group()
    reapply.add_argument(
        "--reapply-on-boot", action="store_true", default=None, help="apply again at each boot"
    )
    reapply.add_argument("--no-reapply-on-boot", dest="reapply_on_boot", action="store_false")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting: 1.6 key, or 2.0.1 Component[/i][@evse].Variable[/i] (repeatable)",
    )
    for flag, dest in (
        ("--site", "site"),
        ("--vendor", "vendor"),
        ("--model", "model"),
        ("--firmware", "firmware_version"),
        ("--charger", "chargers"),
    ):
        parser.add_argument(flag, dest=dest, action="append", help="select by (repeatable)")


def add_parsers(sub: Subparsers) -> None:
    config = sub.add_parser(
        "config", help="configuration baselines: profiles, apply, drift, history"
    ).add_subparsers(dest="config_command", required=True)
    profile = config.add_parser("profile", help="configuration profiles").add_subparsers(
        dest="profile_command", required=True
    )
    add = profile.add_parser("add", help="add a profile from a file and/or flags")
    _profile_flags(add, adding=True)
    add.set_defaults(func=cmd_profile_add)
    ls = profile.add_parser("list", help="profiles with how many chargers each selects")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_profile_list)
    show = profile.add_parser("show", help="a profile, its settings, chargers and last applies")
    show.add_argument("profile_id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_profile_show)
    update = profile.add_parser("update", help="change a profile (file fields, flags, --set)")
    update.add_argument("profile_id")
    _profile_flags(update, adding=False)
    update.add_argument("--unset", action="append", default=[], metavar="KEY")
    update.add_argument("--clear-selector", action="store_true", help="select every charger")
    update.set_defaults(func=cmd_profile_update)
    remove = profile.add_parser("remove", help="delete a profile and its applies")
    remove.add_argument("profile_id")
    remove.set_defaults(func=cmd_profile_remove)

    apply = config.add_parser("apply", help="apply a profile to the chargers it selects")
    apply.add_argument("profile_id")
    apply.add_argument("--dry-run", action="store_true", help="say what would be sent")
    apply.add_argument(
        "--wait", type=float, metavar="SECONDS", help="wait up to this long for csms worker"
    )
    apply.add_argument("--json", action="store_true", help="print JSON")
    apply.set_defaults(func=cmd_apply)
    applies = config.add_parser("applies", help="recent applies, or one apply's outcomes")
    applies.add_argument("apply_id", nargs="?", type=int)
    applies.add_argument("--profile")
    applies.add_argument("--limit", type=int, default=20)
    applies.set_defaults(func=cmd_applies)
    drift = config.add_parser("drift", help="reported vs desired, per charger and setting")
    drift.add_argument("--site")
    drift.add_argument("--charger")
    drift.add_argument("--profile")
    drift.add_argument("--all", action="store_true", help="settings in sync too")
    drift.add_argument("--json", action="store_true", help="print JSON (every setting)")
    drift.set_defaults(func=cmd_drift)
    refresh = config.add_parser("refresh", help="read a charger's whole configuration now")
    refresh.add_argument("charge_point_id")
    refresh.set_defaults(func=cmd_refresh)
    history = config.add_parser("history", help="a charger's configuration changes, newest first")
    history.add_argument("charge_point_id")
    history.add_argument("--setting")
    history.add_argument("--limit", type=int, default=100)
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=cmd_history)
