"""``csms tariff``: tariffs and their versions (add, edit, publish, show), where they apply
(``tariff_assignments.py``: assign, which, pushes).

A tariff file is the tariff as docs/topics/tariffs-and-cost.md shows it, with an optional
``id`` and ``description`` beside it (``tariff_files.py``). Input the CSMS refuses (a bad
file or field, publishing without a draft) exits with status 2 and stores nothing; a tariff,
version, site or charger that does not exist exits with status 1.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from csms.cli import tariff_assignments
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
from csms.errors import InvalidInput

if TYPE_CHECKING:
    from csms.domain.tariff_catalog import TariffInfo, TariffVersion

SHOWN_PUSHES = 20  # `tariff show` lists the pushes of this many chargers, else sums them up


@refused_is_usage
async def cmd_tariff_add(args: argparse.Namespace) -> int:
    from csms.cli.tariff_files import given, read_tariff_file
    from csms.errors import InvalidInput

    tariff = read_tariff_file(args.file)
    tariff_id = given(args.id, tariff.id, "id")
    if tariff_id is None:
        raise InvalidInput('id: give --id ID, or an "id" in the file beside the tariff')
    description = given(args.description, tariff.description, "description") or ""
    async with services_session(common_settings()) as services:
        version = await services.tariffs.add(
            tariff_id, tariff.definition, description=description, created_by=operator_name()
        )
    out(f"tariff {tariff_id} added: version {version.version} is a draft")
    out(f"publish it to price sessions with it: csms tariff publish {tariff_id}")
    return 0


@refused_is_usage
async def cmd_tariff_edit(args: argparse.Namespace) -> int:
    from csms.cli.tariff_files import given, read_tariff_file

    if args.file is None:  # the description only: no new version
        if args.description is None:
            raise InvalidInput("give --file (a new draft) or --description (the description)")
        async with services_session(common_settings()) as services:
            await services.tariffs.describe(args.tariff_id, args.description)
        out(f"tariff {args.tariff_id}: description changed (no new version)")
        return 0
    tariff = read_tariff_file(args.file)
    given(args.tariff_id, tariff.id, "id")
    description = given(args.description, tariff.description, "description")
    async with services_session(common_settings()) as services:
        version = await services.tariffs.edit(
            args.tariff_id,
            tariff.definition,
            description=description,
            created_by=operator_name(),
        )
    out(f"tariff {args.tariff_id} version {version.version} saved as a draft")
    out(f"publish it to price sessions with it: csms tariff publish {args.tariff_id}")
    return 0


@refused_is_usage
async def cmd_tariff_publish(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        version = await services.tariffs.publish(args.tariff_id, published_by=operator_name())
        pending = await services.tariffs.pushes(tariff_id=args.tariff_id)
    out(f"tariff {args.tariff_id} version {version.version} published")
    pushed = [p for p in pending if p.tariff_version == version.version]
    if pushed:
        out(
            f"price display push requested for {len(pushed)} charger(s): "
            f"csms tariff pushes {args.tariff_id}"
        )
    return 0


@refused_is_usage
async def cmd_tariff_remove(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        assignments = [
            a for a in await services.tariffs.assignments() if a.tariff_id == args.tariff_id
        ]
        await services.tariffs.remove(args.tariff_id)
    out(f"tariff {args.tariff_id} removed")
    if assignments:
        places = ", ".join(tariff_assignments.where(a) for a in assignments)
        out(f"no longer assigned to {places}")
    return 0


async def cmd_tariff_list(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        tariffs = await services.tariffs.tariffs()
    if args.json:
        print_json([_info_json(t) for t in tariffs])
        return 0
    table(
        ["id", "current", "draft", "description", "created_at"],
        [[t.id, t.published_version, _draft(t), t.description, t.created_at] for t in tariffs],
    )
    return 0


async def cmd_tariff_show(args: argparse.Namespace) -> int:
    from csms.domain.tariffs import display_text, parse_tariff, tariff_to_json

    async with services_and_pool(common_settings()) as (services, pool):
        info = await services.tariffs.info(args.tariff_id)
        versions = await services.tariffs.versions(args.tariff_id)
        number = args.version or info.published_version or info.latest_version
        version = await services.tariffs.version(args.tariff_id, number)
        assignments = [
            a for a in await services.tariffs.assignments() if a.tariff_id == args.tariff_id
        ]
        pushes = await services.tariffs.pushes(tariff_id=args.tariff_id)
        connected = await tariff_assignments.connected_chargers(
            pool, [p.charge_point_id for p in pushes]
        )
    tariff = parse_tariff(version.definition)
    definition = tariff_to_json(tariff)  # the stored one, its keys in the documented order
    texts = {"": display_text(tariff)} | {t.language: t.text for t in tariff.texts}
    if args.json:
        print_json(
            _info_json(info)
            | {
                "versions": [_version_json(v) for v in versions],
                "version": _version_json(version),
                "definition": definition,
                "display_text": texts[""],
                "alt_texts": {k: v for k, v in texts.items() if k},
                "assignments": assignments,
                "pushes": [tariff_assignments.push_json(p, connected) for p in pushes],
            }
        )
        return 0
    for key, value in (
        ("id", info.id),
        ("description", info.description),
        ("created_at", info.created_at),
        ("current version", info.published_version),
        ("draft", _draft(info)),
    ):
        out(f"{key:21} {fmt(value)}")
    out()
    table(
        ["version", "state", "currency", "created_at", "created_by", "published_at", "by"],
        [
            [
                v.version,
                _state(v, info),
                v.currency,
                v.created_at,
                v.created_by,
                v.published_at,
                v.published_by,
            ]
            for v in versions
        ],
    )
    out()
    out(f"version {version.version} ({_state(version, info)}):")
    out(_definition_text(definition))
    out(f"{'display':21} {texts['']}")
    for language, text in texts.items():
        if language:
            out(f"{'display (' + language + ')':21} {text}")
    out()
    if assignments:
        out("assigned to: " + ", ".join(tariff_assignments.where(a) for a in assignments))
    else:
        out(f"assigned to: nothing (csms tariff assign {info.id} --default | --site ...)")
    if pushes:
        out()
        tariff_assignments.print_pushes(pushes, connected, rows=len(pushes) <= SHOWN_PUSHES)
        if len(pushes) > SHOWN_PUSHES:
            out(f"each charger's: csms tariff pushes {info.id}")
    return 0


def _draft(info: TariffInfo) -> int | None:
    return info.latest_version if info.latest_version != info.published_version else None


def _state(version: TariffVersion, info: TariffInfo) -> str:
    if not version.published:
        return "draft"
    return "current" if version.version == info.published_version else "superseded"


def _info_json(info: TariffInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "description": info.description,
        "created_at": info.created_at,
        "current_version": info.published_version,
        "draft_version": _draft(info),
    }


def _version_json(version: TariffVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "published": version.published,
        "currency": version.currency,
        "created_at": version.created_at,
        "created_by": version.created_by,
        "published_at": version.published_at,
        "published_by": version.published_by,
    }


def _definition_text(definition: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(definition, option=orjson.OPT_INDENT_2, default=str).decode()


def add_parsers(sub: Subparsers) -> None:
    tariff = sub.add_parser(
        "tariff", help="tariffs, their versions and where they apply"
    ).add_subparsers(dest="tariff_command", required=True)
    add = tariff.add_parser("add", help="add a tariff from a JSON file; its version 1 is a draft")
    add.add_argument(
        "--file",
        required=True,
        help='the tariff as JSON (docs/topics/tariffs-and-cost.md), optionally with "id" '
        'and "description" beside it; - reads standard input',
    )
    add.add_argument("--id", help="the tariff's id (default: the file's \"id\")")
    add.add_argument("--description", help='default: the file\'s "description"')
    add.set_defaults(func=cmd_tariff_add)
    ls = tariff.add_parser("list", help="tariffs with their current and draft versions")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_tariff_list)
    show = tariff.add_parser(
        "show", help="a tariff: versions, a definition, its display text, assignments, pushes"
    )
    show.add_argument("tariff_id")
    show.add_argument(
        "--version", type=int, help="this version (default: the current one, else the draft)"
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_tariff_show)
    publish = tariff.add_parser(
        "publish", help="the draft becomes the current version (new sessions, displays)"
    )
    publish.add_argument("tariff_id")
    publish.set_defaults(func=cmd_tariff_publish)
    edit = tariff.add_parser(
        "edit", help="replace the draft, or start the next version as a draft, from a file"
    )
    edit.add_argument("tariff_id")
    edit.add_argument("--file", help="as for add; - reads standard input")
    edit.add_argument(
        "--description",
        help="a new description (default: the file's, if any); alone, without --file, it "
        "changes only the description and makes no version",
    )
    edit.set_defaults(func=cmd_tariff_edit)
    remove = tariff.add_parser("remove", help="delete a tariff no session was priced with")
    remove.add_argument("tariff_id")
    remove.set_defaults(func=cmd_tariff_remove)
    tariff_assignments.add_parsers(tariff)
