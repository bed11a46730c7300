"""``csms tariff assign/unassign/assignments/which/pushes``: where tariffs apply, which one
applies to a charger (and a driver) and why, and what became of each charger's price
display."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    common_settings,
    fmt,
    operator_name,
    out,
    print_json,
    refused_is_usage,
    services_and_pool,
    services_session,
    table,
)

if TYPE_CHECKING:
    import asyncpg

    from csms.domain.sites import Assignment, Scope
    from csms.domain.tariff_catalog import TariffPush

SCOPE_OPTIONS = ("group", "charger", "site", "default")  # most specific first


@refused_is_usage
async def cmd_tariff_assign(args: argparse.Namespace) -> int:
    scope, target = assignment_scope(args)
    async with services_session(common_settings()) as services:
        assignment = await services.tariffs.assign(
            scope, target, args.tariff_id, created_by=operator_name()
        )
    out(f"tariff {args.tariff_id} assigned to {where(assignment)}")
    return 0


@refused_is_usage
async def cmd_tariff_unassign(args: argparse.Namespace) -> int:
    from csms.domain.sites import Scope
    from csms.errors import InvalidInput, NotFound

    scope, target = assignment_scope(args)
    async with services_session(common_settings()) as services:
        if args.tariff_id is not None:
            normal = target.lower() if scope is Scope.GROUP else target
            there = {(a.scope, a.target): a for a in await services.tariffs.assignments()}
            found = there.get((scope, "" if scope is Scope.DEFAULT else normal))
            if found is None:
                raise NotFound(f"no tariff is assigned to {_place(scope, normal)}")
            if found.tariff_id != args.tariff_id:
                raise InvalidInput(
                    f"{_place(scope, normal)} has tariff {found.tariff_id} assigned, "
                    f"not {args.tariff_id}: nothing unassigned"
                )
        await services.tariffs.unassign(scope, target)
    out(f"{_place(scope, target)}: tariff unassigned")
    return 0


async def cmd_tariff_assignments(args: argparse.Namespace) -> int:
    from csms.domain.sites import PRECEDENCE

    async with services_session(common_settings()) as services:
        assignments = await services.tariffs.assignments()
        current = {t.id: t.published_version for t in await services.tariffs.tariffs()}
    assignments.sort(key=lambda a: (PRECEDENCE.index(a.scope), a.target))
    if args.json:
        print_json(
            [
                {
                    "scope": a.scope,
                    "target": a.target or None,
                    "tariff_id": a.tariff_id,
                    "current_version": current.get(a.tariff_id),
                    "created_by": a.created_by,
                    "created_at": a.created_at,
                }
                for a in assignments
            ]
        )
        return 0
    table(
        ["scope", "target", "tariff", "current", "created_by", "created_at"],
        [
            [
                a.scope.value,
                a.target or None,
                a.tariff_id,
                current.get(a.tariff_id),
                a.created_by,
                a.created_at,
            ]
            for a in assignments
        ],
    )
    return 0


async def cmd_tariff_which(args: argparse.Namespace) -> int:
    from csms.domain.sites import Scope, group_targets
    from csms.domain.tariffs import display_text

    async with services_session(common_settings()) as services:
        parent = None
        registered = None
        if args.id_token is not None:
            registered = await services.stores.tokens.get(args.id_token)
            parent = None if registered is None else registered.parent_id_token
        answer = await services.tariffs.applicable(
            args.charge_point_id, id_token=args.id_token, parent_id_token=parent
        )
        assigned = {(a.scope, a.target): a.tariff_id for a in await services.tariffs.assignments()}
    chosen = answer.applicable
    candidates: list[tuple[Scope, str]] = [
        (Scope.GROUP, g) for g in group_targets(args.id_token, parent)
    ]
    candidates.append((Scope.CHARGER, args.charge_point_id))
    if answer.site is not None:
        candidates.append((Scope.SITE, answer.site.id))
    candidates.append((Scope.DEFAULT, ""))
    considered = [
        (
            scope,
            target,
            assigned.get((scope, target)),
            chosen is not None and (chosen.scope, chosen.target) == (scope, target),
        )
        for scope, target in candidates
    ]
    version = answer.version
    text = None if answer.tariff is None else display_text(answer.tariff)
    if args.json:
        print_json(
            {
                "charge_point_id": args.charge_point_id,
                "site": answer.site,
                "id_token": args.id_token,
                "id_token_registered": None if args.id_token is None else registered is not None,
                "parent_id_token": parent,
                "tariff_id": None if chosen is None else chosen.tariff_id,
                "tariff_version": None if version is None else version.version,
                "scope": None if chosen is None else chosen.scope,
                "target": None if chosen is None else chosen.target or None,
                "reason": None if chosen is None else chosen.reason,
                "display_text": text,
                "considered": [
                    {"scope": scope, "target": target or None, "tariff_id": tariff, "applies": yes}
                    for scope, target, tariff, yes in considered
                ],
            }
        )
        return 0
    site = answer.site
    _field("charger", args.charge_point_id)
    _field("site", "none" if site is None else f"{site.id} ({site.time_zone})")
    if args.id_token is not None:
        token = args.id_token + ("" if parent is None else f", group {parent}")
        _field("id token", token if registered is not None else f"{token} (not registered)")
    if chosen is None:
        _field("tariff", "none applies: sessions here are not priced")
    elif version is None:
        _field("tariff", f"{chosen.tariff_id}: no published version: sessions are not priced")
        _field("why", chosen.reason)
    else:
        _field("tariff", f"{chosen.tariff_id} version {version.version}")
        _field("why", chosen.reason)
        _field("display", fmt(text))
    out()
    table(
        ["scope", "target", "tariff", ""],
        [
            [scope.value, target or None, tariff, "<- applies" if yes else ""]
            for scope, target, tariff, yes in considered
        ],
    )
    return 0


async def cmd_tariff_pushes(args: argparse.Namespace) -> int:
    async with services_and_pool(common_settings()) as (services, pool):
        if args.tariff_id is not None:
            await services.tariffs.info(args.tariff_id)  # NotFound: exit 1
        if args.charger is not None:
            await services.chargers.get(args.charger)
        pushes = await services.tariffs.pushes(
            tariff_id=args.tariff_id, charge_point_id=args.charger
        )
        connected = await connected_chargers(pool, [p.charge_point_id for p in pushes])
    if args.json:
        print_json([push_json(p, connected) for p in pushes])
        return 0
    print_pushes(pushes, connected)
    return 0


async def connected_chargers(pool: asyncpg.Pool, charge_point_ids: Sequence[str]) -> set[str]:
    """Those of the chargers that are connected now, as the database records it."""
    from csms.store import chargers

    found = await chargers.get_chargers(pool, charge_point_ids)
    return {cp for cp, charger in found.items() if charger.connected_protocol is not None}


def push_json(push: TariffPush, connected: set[str]) -> dict[str, Any]:
    return {
        "charge_point_id": push.charge_point_id,
        "tariff_id": push.tariff_id,
        "tariff_version": push.tariff_version,
        "status": shown_status(push, connected),
        "stored_status": push.status,
        "detail": push.detail,
        "attempts": push.attempts,
        "requested_at": push.requested_at,
        "updated_at": push.updated_at,
    }


def shown_status(push: TariffPush, connected: set[str]) -> str:
    """The push's status; ``offline`` for a pending or failed one while the charger is
    offline (it is applied when the charger next connects)."""
    from csms.domain.tariff_catalog import PUSH_FAILED, PUSH_OFFLINE, PUSH_PENDING

    if push.status in (PUSH_PENDING, PUSH_FAILED) and push.charge_point_id not in connected:
        return PUSH_OFFLINE
    return push.status


def print_pushes(pushes: Sequence[TariffPush], connected: set[str], *, rows: bool = True) -> None:
    """One row per charger (unless not ``rows``), then ``3 chargers: 2 accepted, 1 offline``."""
    statuses = [shown_status(p, connected) for p in pushes]
    if rows:
        _push_table(pushes, statuses)
    summary = f"{len(pushes)} charger{'' if len(pushes) == 1 else 's'}"
    if pushes:
        counts = sorted(Counter(statuses).items())
        summary += ": " + ", ".join(f"{n} {status}" for status, n in counts)
    out(summary)


def _push_table(pushes: Sequence[TariffPush], statuses: Sequence[str]) -> None:
    table(
        ["charger", "tariff", "version", "status", "detail", "attempts", "requested_at", "at"],
        [
            [
                p.charge_point_id,
                p.tariff_id,
                p.tariff_version,
                status,
                p.detail or None,
                p.attempts,
                p.requested_at,
                p.updated_at,
            ]
            for p, status in zip(pushes, statuses, strict=True)
        ],
    )


def where(assignment: Assignment) -> str:
    """``charger CP-1``, ``site AMS``, ``group fleet-1``, ``the default``."""
    return _place(assignment.scope, assignment.target)


def _place(scope: Scope, target: str) -> str:
    return "the default" if scope.value == "default" else f"{scope.value} {target}"


def assignment_scope(args: argparse.Namespace) -> tuple[Scope, str]:
    """The scope and target of ``--default | --site | --charger | --group``."""
    from csms.domain.sites import Scope

    if args.default:
        return Scope.DEFAULT, ""
    for name in SCOPE_OPTIONS:
        value = getattr(args, name)
        if isinstance(value, str):
            return Scope(name), value
    raise AssertionError("argparse requires one of the scope options")  # pragma: no cover


def _field(key: str, value: str) -> None:
    out(f"{key:21} {value}")


def _scope_options(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--default", action="store_true", help="the default tariff")
    scope.add_argument("--site", metavar="SITE", help="the chargers of this site")
    scope.add_argument("--charger", metavar="CP", help="this charger")
    scope.add_argument(
        "--group",
        metavar="TOKEN",
        help="a driver group: this id token, or the group (parent) id token of tokens",
    )


def add_parsers(tariff: Subparsers) -> None:
    """The subcommands of ``csms tariff`` about where tariffs apply (``tariffs.py`` adds the
    rest): ``tariff`` is its ``add_subparsers()``."""
    assign = tariff.add_parser(
        "assign",
        help="assign a published tariff (most specific wins: group > charger > site > default)",
    )
    assign.add_argument("tariff_id")
    _scope_options(assign)
    assign.set_defaults(func=cmd_tariff_assign)
    unassign = tariff.add_parser("unassign", help="remove the tariff assigned to a place")
    unassign.add_argument(
        "tariff_id", nargs="?", help="only if this tariff is the one assigned there"
    )
    _scope_options(unassign)
    unassign.set_defaults(func=cmd_tariff_unassign)
    assignments = tariff.add_parser("assignments", help="every assignment, most specific first")
    assignments.add_argument("--json", action="store_true", help="print JSON")
    assignments.set_defaults(func=cmd_tariff_assignments)
    which = tariff.add_parser("which", help="which tariff applies at a charger, and why")
    which.add_argument("charge_point_id")
    which.add_argument("--id-token", help="for this driver (its group assignments first)")
    which.add_argument("--json", action="store_true", help="print JSON")
    which.set_defaults(func=cmd_tariff_which)
    pushes = tariff.add_parser(
        "pushes", help="each charger's price display: which tariff, and what became of it"
    )
    pushes.add_argument("tariff_id", nargs="?", help="only the pushes of this tariff")
    pushes.add_argument("--charger", metavar="CP", help="only this charger")
    pushes.add_argument("--json", action="store_true", help="print JSON")
    pushes.set_defaults(func=cmd_tariff_pushes)
