"""``csms site``: sites (a named group of chargers at one place, shaped after the OCPI
Location) and which chargers are at each. A site's time zone is the one its tariffs'
time-of-day rules are read in."""

from __future__ import annotations

import argparse
import dataclasses
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from csms.cli.support import (
    Subparsers,
    common_settings,
    err,
    fmt,
    out,
    print_json,
    refused_is_usage,
    services_session,
    table,
)

if TYPE_CHECKING:
    from csms.services import Services

# option -> Site field, beside --name and --time-zone
ADDRESS_FIELDS = ("address", "city", "postal_code", "country")
POSITION_FIELDS = ("latitude", "longitude")


@refused_is_usage
async def cmd_site_add(args: argparse.Namespace) -> int:
    from csms.domain.sites import Site

    site = Site(
        args.site_id,
        args.name,
        args.time_zone,
        address=args.address or "",
        city=args.city or "",
        postal_code=args.postal_code or "",
        country=args.country or "",
        latitude=args.latitude,
        longitude=args.longitude,
    )
    async with services_session(common_settings()) as services:
        await services.tariffs.add_site(site)
    out(f"site {args.site_id} added ({args.time_zone})")
    return 0


async def cmd_site_list(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        sites = await services.tariffs.sites()
        placed = await services.stores.tariffs.charger_sites()
        tariffs = await _site_tariffs(services)
    counts: dict[str, int] = {}
    for site_id in placed.values():
        if site_id is not None:
            counts[site_id] = counts.get(site_id, 0) + 1
    if args.json:
        print_json(
            [
                dataclasses.asdict(s)
                | {"chargers": counts.get(s.id, 0), "tariff_id": tariffs.get(s.id)}
                for s in sites
            ]
        )
        return 0
    table(
        ["id", "name", "time_zone", "city", "country", "chargers", "tariff"],
        [
            [
                s.id,
                s.name,
                s.time_zone,
                s.city or None,
                s.country or None,
                counts.get(s.id, 0),
                tariffs.get(s.id),
            ]
            for s in sites
        ],
    )
    return 0


async def cmd_site_show(args: argparse.Namespace) -> int:
    async with services_session(common_settings()) as services:
        site = await services.tariffs.site(args.site_id)
        placed = await services.stores.tariffs.charger_sites()
        tariff_id = (await _site_tariffs(services)).get(site.id)
    chargers = sorted(cp for cp, site_id in placed.items() if site_id == site.id)
    if args.json:
        print_json(dataclasses.asdict(site) | {"tariff_id": tariff_id, "chargers": chargers})
        return 0
    for key, value in dataclasses.asdict(site).items():
        shown = fmt(None if value == "" else value)
        out(f"{key:21} {shown}")
    out(f"{'tariff':21} {fmt(tariff_id)}")
    out(f"{'chargers':21} {', '.join(chargers) or 'none'}")
    return 0


@refused_is_usage
async def cmd_site_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {
        field: getattr(args, field)
        for field in ("name", "time_zone", *ADDRESS_FIELDS, *POSITION_FIELDS)
        if getattr(args, field) is not None
    }
    if not changes:
        err("nothing to change")
        return 2
    async with services_session(common_settings()) as services:
        await services.tariffs.update_site(args.site_id, **changes)
    out(f"site {args.site_id} updated")
    return 0


@refused_is_usage
async def cmd_site_remove(args: argparse.Namespace) -> int:

    async with services_session(common_settings()) as services:
        await services.tariffs.site(args.site_id)  # NotFound: exit 1, nothing changed
        tariff_id = (await _site_tariffs(services)).get(args.site_id)
        await services.tariffs.remove_site(args.site_id)  # with its assignment
    out(f"site {args.site_id} removed; its chargers are at no site now")
    if tariff_id is not None:
        out(f"tariff {tariff_id} is no longer assigned to site {args.site_id}")
    return 0


@refused_is_usage
async def cmd_site_assign(args: argparse.Namespace) -> int:
    chargers = list(dict.fromkeys(args.charge_point_ids))
    async with services_session(common_settings()) as services:
        await services.tariffs.place_chargers(chargers, args.site_id)  # all or none
    out(f"at site {args.site_id} now: {', '.join(chargers)}")
    return 0


@refused_is_usage
async def cmd_site_unassign(args: argparse.Namespace) -> int:
    chargers = list(dict.fromkeys(args.charge_point_ids))
    async with services_session(common_settings()) as services:
        await services.tariffs.place_chargers(chargers, None)  # all or none
    out(f"at no site now: {', '.join(chargers)}")
    return 0


async def _site_tariffs(services: Services) -> dict[str, str]:
    """Site id -> the tariff assigned to the site."""
    from csms.domain.sites import Scope

    return {
        a.target: a.tariff_id for a in await services.tariffs.assignments() if a.scope is Scope.SITE
    }


def _coordinate(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a number: {text}")
    return value


def _site_options(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    parser.add_argument("--name", required=adding, help="1-255 characters")
    parser.add_argument(
        "--time-zone",
        required=adding,
        help="IANA time zone of the site's tariffs' time-of-day rules, e.g. Europe/Amsterdam",
    )
    parser.add_argument("--address", help="street and number")
    parser.add_argument("--city")
    parser.add_argument("--postal-code")
    parser.add_argument("--country", help="e.g. NLD (ISO 3166-1 alpha-3, as OCPI)")
    parser.add_argument("--latitude", type=_coordinate, help="decimal degrees, -90..90")
    parser.add_argument("--longitude", type=_coordinate, help="decimal degrees, -180..180")


def add_parsers(sub: Subparsers) -> None:
    site = sub.add_parser("site", help="sites and the chargers at each").add_subparsers(
        dest="site_command", required=True
    )
    add = site.add_parser("add", help="add a site")
    add.add_argument("site_id", help="1-36 of letters, digits and . _ -")
    _site_options(add, adding=True)
    add.set_defaults(func=cmd_site_add)
    ls = site.add_parser("list", help="sites with their number of chargers and tariff")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_site_list)
    show = site.add_parser("show", help="a site, its tariff and its chargers")
    show.add_argument("site_id")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_site_show)
    update = site.add_parser("update", help="change a site's fields ('' clears a text)")
    update.add_argument("site_id")
    _site_options(update, adding=False)
    update.set_defaults(func=cmd_site_update)
    remove = site.add_parser(
        "remove", help="delete a site: its chargers are at no site, its tariff unassigned"
    )
    remove.add_argument("site_id")
    remove.set_defaults(func=cmd_site_remove)
    assign = site.add_parser("assign", help="place chargers at a site (moves them from theirs)")
    assign.add_argument("site_id")
    assign.add_argument("charge_point_ids", nargs="+", metavar="CP")
    assign.set_defaults(func=cmd_site_assign)
    unassign = site.add_parser("unassign", help="take chargers off their site")
    unassign.add_argument("charge_point_ids", nargs="+", metavar="CP")
    unassign.set_defaults(func=cmd_site_unassign)
