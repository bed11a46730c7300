"""`csms site` against real PostgreSQL (docs/reference/cli.md, "Tariffs and sites"): add,
list, show, update, remove, and which chargers are at a site; bad input names the field,
exits with status 2 and changes nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.cli.conftest import Cli, RegisterCharger
from tests.integration.cli.tariff_helpers import fields, new_id, published, rows

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_tariff_assignments")]


async def ok(cli: Cli, *args: str) -> str:
    status, out, err = await cli(*args)
    assert status == 0, err
    return out


async def test_sites_and_their_chargers(
    cli: Cli, tmp_path: Path, register_charger: RegisterCharger
) -> None:
    site = new_id("AMS")
    out = await ok(
        cli,
        *("site", "add", site, "--name", "Amsterdam depot", "--time-zone", "Europe/Amsterdam"),
        *("--address", "Kade 1", "--city", "Amsterdam", "--postal-code", "1011 AB"),
        *("--country", "NLD", "--latitude", "52.37", "--longitude", "4.89"),
    )
    assert out.strip() == f"site {site} added (Europe/Amsterdam)"
    other = new_id("UTR")
    await ok(cli, "site", "add", other, "--name", "Utrecht", "--time-zone", "Europe/Amsterdam")

    first, second, third = [await register_charger() for _ in range(3)]
    out = await ok(cli, "site", "assign", site, first, second, first)
    assert out.strip() == f"at site {site} now: {first}, {second}"
    await ok(cli, "site", "assign", other, third)

    out = await ok(cli, "site", "list")
    assert rows(out) == [
        [site, "Amsterdam", "depot", "Europe/Amsterdam", "Amsterdam", "NLD", "2", "-"],
        [other, "Utrecht", "Europe/Amsterdam", "-", "-", "1", "-"],
    ]
    listed = orjson.loads(await ok(cli, "site", "list", "--json"))
    assert (listed[0]["id"], listed[0]["latitude"], listed[0]["chargers"]) == (site, "52.370000", 2)

    tariff_id = await published(cli, tmp_path)
    await ok(cli, "tariff", "assign", tariff_id, "--site", site)
    shown = fields(await ok(cli, "site", "show", site))
    assert shown | {"created_at": ""} == {
        "id": site,
        "name": "Amsterdam depot",
        "time_zone": "Europe/Amsterdam",
        "address": "Kade 1",
        "city": "Amsterdam",
        "postal_code": "1011 AB",
        "country": "NLD",
        "latitude": "52.370000",
        "longitude": "4.890000",
        "created_at": "",
        "tariff": tariff_id,
        "chargers": ", ".join(sorted([first, second])),
    }

    # a charger moves from its site to another; or to none
    await ok(cli, "site", "assign", other, second)
    assert orjson.loads(await ok(cli, "site", "show", other, "--json"))["chargers"] == sorted(
        [second, third]
    )
    out = await ok(cli, "site", "unassign", third)
    assert out.strip() == f"at no site now: {third}"
    assert fields(await ok(cli, "site", "show", other))["chargers"] == second

    out = await ok(cli, "site", "update", other, "--city", "Utrecht", "--time-zone", "UTC")
    assert out.strip() == f"site {other} updated"
    updated = orjson.loads(await ok(cli, "site", "show", other, "--json"))
    assert (updated["city"], updated["time_zone"], updated["name"]) == ("Utrecht", "UTC", "Utrecht")
    await ok(cli, "site", "update", site, "--address", "")  # '' clears a text
    assert fields(await ok(cli, "site", "show", site))["address"] == "-"

    # removing a site: its chargers are at no site, its tariff assigned nowhere
    out = await ok(cli, "site", "remove", site)
    assert out.splitlines() == [
        f"site {site} removed; its chargers are at no site now",
        f"tariff {tariff_id} is no longer assigned to site {site}",
    ]
    assert site not in await ok(cli, "tariff", "assignments")
    assert (await cli("site", "show", site))[0] == 1
    answer = orjson.loads(await ok(cli, "tariff", "which", first, "--json"))
    assert (answer["site"], answer["tariff_id"]) == (None, None)


async def test_bad_site_input_is_refused(cli: Cli, register_charger: RegisterCharger) -> None:
    site = new_id("S")
    add = ("site", "add", site, "--name", "Depot")

    async def refused(*args: str) -> tuple[int, str]:
        status, out, err = await cli(*args)
        assert out == "" and "Traceback" not in err, err
        return status, err

    assert await refused(*add, "--time-zone", "Mars/Olympus") == (
        2,
        "csms: time_zone: 'Mars/Olympus' is not an IANA time zone\n",
    )
    assert await refused(*add, "--time-zone", "UTC", "--latitude", "95") == (
        2,
        "csms: latitude: between -90 and 90\n",
    )
    status, err = await refused(*add, "--time-zone", "UTC", "--longitude", "east")
    assert status == 2 and "argument --longitude: not a number: east" in err
    assert await refused("site", "add", "no spaces", "--name", "x", "--time-zone", "UTC") == (
        2,
        "csms: id: 1-36 of letters, digits and . _ -\n",
    )
    status, err = await refused("site", "add", site, "--time-zone", "UTC")
    assert status == 2 and "the following arguments are required: --name" in err
    assert site not in await ok(cli, "site", "list")

    await ok(cli, *add, "--time-zone", "UTC")
    assert await refused(*add, "--time-zone", "UTC") == (1, f"csms: site {site} exists already\n")
    assert await refused("site", "update", site) == (2, "csms: nothing to change\n")
    assert await refused("site", "update", site, "--name", "") == (
        2,
        "csms: name: 1-255 characters\n",
    )
    assert await refused("site", "update", "NOPE", "--city", "x") == (
        1,
        "csms: site NOPE not found\n",
    )
    # every charger must exist before any is placed
    cp = await register_charger()
    assert await refused("site", "assign", site, cp, "NOPE") == (
        1,
        "csms: charger NOPE not found\n",
    )
    assert fields(await ok(cli, "site", "show", site))["chargers"] == "none"
    assert await refused("site", "assign", "NOPE", cp) == (1, "csms: site NOPE not found\n")
    assert await refused("site", "unassign", "NOPE") == (1, "csms: charger NOPE not found\n")
    assert await refused("site", "remove", "NOPE") == (1, "csms: site NOPE not found\n")
