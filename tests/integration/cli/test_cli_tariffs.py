"""`csms tariff` as an operator runs it against real PostgreSQL (docs/reference/cli.md,
"Tariffs and sites"): add, list, show, publish, edit; assign at each scope and which tariff
applies (group > charger > site > default); each charger's price display push; bad input
refused with the field named, exit status 2, nothing stored."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.integration.cli.tariff_helpers import (
    TARIFF,
    fields,
    new_id,
    published,
    rows,
    tariff,
    write,
)
from tests.integration.ocpp_client import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_tariff_assignments")]


async def ok(cli: Cli, *args: str, stdin: bytes | None = None) -> str:
    status, out, err = await cli(*args, stdin=stdin)
    assert status == 0, err
    return out


async def as_json(cli: Cli, *args: str) -> Any:
    return orjson.loads(await ok(cli, *args, "--json"))


async def test_add_list_show_publish_and_edit(cli: Cli, tmp_path: Path) -> None:
    tariff_id = new_id()
    out = await ok(
        cli, "tariff", "add", "--file", write(tmp_path, tariff(id=tariff_id, description="std"))
    )
    assert out.splitlines() == [
        f"tariff {tariff_id} added: version 1 is a draft",
        f"publish it to price sessions with it: csms tariff publish {tariff_id}",
    ]
    # --file - reads standard input; --id and --description when the file has none
    piped = new_id()
    args = ("tariff", "add", "--file", "-", "--id", piped, "--description", "piped")
    await ok(cli, *args, stdin=json.dumps(TARIFF).encode())

    listed = {row[0]: row for row in rows(await ok(cli, "tariff", "list"))}
    assert listed[tariff_id][:4] == [tariff_id, "-", "1", "std"]
    by_id = {t["id"]: t for t in await as_json(cli, "tariff", "list")}
    assert by_id[piped] | {"created_at": None} == {
        "id": piped,
        "description": "piped",
        "created_at": None,
        "current_version": None,
        "draft_version": 1,
    }

    out = await ok(cli, "tariff", "show", tariff_id)
    assert fields(out) | {"created_at": ""} == {
        "id": tariff_id,
        "description": "std",
        "created_at": "",
        "current version": "-",
        "draft": "1",
    }
    assert "version 1 (draft):" in out
    assert "display               1.20 EUR start + 0.30 EUR/kWh" in out.splitlines()
    assert "display (en)          1.20 EUR start + 0.30 EUR/kWh" in out.splitlines()
    assert f"assigned to: nothing (csms tariff assign {tariff_id} --default | --site ...)" in out
    shown = await as_json(cli, "tariff", "show", tariff_id)
    assert shown["definition"] == TARIFF  # stored as the file gave it (normalised)
    assert json.loads(out[out.index("{") : out.index("\ndisplay")]) == TARIFF

    out = await ok(cli, "tariff", "publish", tariff_id)
    assert out.strip() == f"tariff {tariff_id} version 1 published"
    out = await ok(cli, "tariff", "edit", tariff_id, "--file", write(tmp_path, tariff("0.30")))
    assert out.splitlines()[0] == f"tariff {tariff_id} version 2 saved as a draft"
    # editing a draft changes it (the file may name the tariff and a new description)
    peak = write(tmp_path, tariff("0.35", id=tariff_id, description="peak"))
    out = await ok(cli, "tariff", "edit", tariff_id, "--file", peak)
    assert out.splitlines()[0] == f"tariff {tariff_id} version 2 saved as a draft"

    shown = await as_json(cli, "tariff", "show", tariff_id)
    assert (shown["current_version"], shown["draft_version"], shown["description"]) == (
        1,
        2,
        "peak",
    )
    assert [(v["version"], v["published"]) for v in shown["versions"]] == [(1, True), (2, False)]
    # the description alone: no version
    out = await ok(cli, "tariff", "edit", tariff_id, "--description", "peak hours")
    assert out.strip() == f"tariff {tariff_id}: description changed (no new version)"
    described = await as_json(cli, "tariff", "show", tariff_id)
    assert (described["description"], len(described["versions"])) == ("peak hours", 2)
    assert shown["version"]["version"] == 1  # the current one unless --version
    assert shown["versions"][0]["published_by"].startswith("cli")
    draft = await as_json(cli, "tariff", "show", tariff_id, "--version", "2")
    assert draft["definition"] == tariff("0.35")
    assert draft["display_text"] == "1.20 EUR start + 0.42 EUR/kWh"

    await ok(cli, "tariff", "publish", tariff_id)
    out = await ok(cli, "tariff", "show", tariff_id)
    assert fields(out)["current version"] == "2" and fields(out)["draft"] == "-"
    versions = {row[0]: row[1] for row in rows(out.split("\n\n")[1])}
    assert versions == {"1": "superseded", "2": "current"}
    assert "version 2 (current):" in out


async def test_assign_at_each_scope_and_which_applies(
    cli: Cli, tmp_path: Path, register_charger: RegisterCharger
) -> None:
    cp = await register_charger()
    tag, fleet = f"TAG-{secrets.token_hex(3)}", f"FLEET-{secrets.token_hex(3)}"
    await ok(cli, "token", "add", tag, "--parent", fleet)
    site = new_id("S")
    await ok(cli, "site", "add", site, "--name", "Depot", "--time-zone", "Europe/Amsterdam")
    await ok(cli, "site", "assign", site, cp)
    by_default, at_site, at_charger, for_fleet, for_tag = [
        await published(cli, tmp_path, prefix) for prefix in ("DEF", "SITE", "CP", "GRP", "TAG")
    ]

    async def which(*driver: str) -> tuple[str | None, str | None]:
        answer = await as_json(cli, "tariff", "which", cp, *driver)
        return answer["tariff_id"], answer["reason"]

    assert await which() == (None, None)
    out = await ok(cli, "tariff", "which", cp)
    assert fields(out)["tariff"] == "none applies: sessions here are not priced"

    out = await ok(cli, "tariff", "assign", by_default, "--default")
    assert out.strip() == f"tariff {by_default} assigned to the default"
    assert await which() == (by_default, "the default tariff")
    await ok(cli, "tariff", "assign", at_site, "--site", site)
    assert await which() == (at_site, f"assigned to site {site}")
    out = await ok(cli, "tariff", "assign", at_charger, "--charger", cp)
    assert out.strip() == f"tariff {at_charger} assigned to charger {cp}"
    assert await which() == (at_charger, f"assigned to charger {cp}")
    await ok(cli, "tariff", "assign", for_fleet, "--group", fleet)
    assert await which() == (at_charger, f"assigned to charger {cp}")  # no driver: no group
    assert await which("--id-token", tag) == (for_fleet, f"assigned to group {fleet.lower()}")
    await ok(cli, "tariff", "assign", for_tag, "--group", tag)
    assert await which("--id-token", tag) == (for_tag, f"assigned to group {tag.lower()}")

    answer = await as_json(cli, "tariff", "which", cp, "--id-token", tag)
    assert (answer["parent_id_token"], answer["tariff_version"]) == (fleet, 1)
    assert answer["site"]["id"] == site and answer["site"]["time_zone"] == "Europe/Amsterdam"
    considered = [
        (c["scope"], c["target"], c["tariff_id"], c["applies"]) for c in answer["considered"]
    ]
    assert considered == [
        ("group", tag.lower(), for_tag, True),
        ("group", fleet.lower(), for_fleet, False),
        ("charger", cp, at_charger, False),
        ("site", site, at_site, False),
        ("default", None, by_default, False),
    ]
    out = await ok(cli, "tariff", "which", cp, "--id-token", tag)
    assert fields(out) == {
        "charger": cp,
        "site": f"{site} (Europe/Amsterdam)",
        "id token": f"{tag}, group {fleet}",
        "tariff": f"{for_tag} version 1",
        "why": f"assigned to group {tag.lower()}",
        "display": "1.20 EUR start + 0.30 EUR/kWh",
    }
    assert rows(out.split("\n\n")[1])[0] == ["group", tag.lower(), for_tag, "<-", "applies"]

    out = await ok(cli, "tariff", "assignments")
    assert [row[:4] for row in rows(out)] == [
        ["group", fleet.lower(), for_fleet, "1"],
        ["group", tag.lower(), for_tag, "1"],
        ["charger", cp, at_charger, "1"],
        ["site", site, at_site, "1"],
        ["default", "-", by_default, "1"],
    ]
    assert {a["scope"] for a in await as_json(cli, "tariff", "assignments")} == {
        "group",
        "charger",
        "site",
        "default",
    }
    assert f"assigned to: site {site}" in await ok(cli, "tariff", "show", at_site)

    # unassign, most specific first: the next one applies
    status, _, err = await cli("tariff", "unassign", by_default, "--charger", cp)
    assert status == 2
    assert err == (
        f"csms: charger {cp} has tariff {at_charger} assigned, not {by_default}: "
        "nothing unassigned\n"
    )
    out = await ok(cli, "tariff", "unassign", at_charger, "--charger", cp)
    assert out.strip() == f"charger {cp}: tariff unassigned"
    assert await which() == (at_site, f"assigned to site {site}")
    await ok(cli, "tariff", "unassign", "--group", tag)
    assert await which("--id-token", tag) == (for_fleet, f"assigned to group {fleet.lower()}")
    await ok(cli, "site", "unassign", cp)  # off its site: the site's tariff no longer applies
    assert await which() == (by_default, "the default tariff")
    await ok(cli, "tariff", "unassign", "--default")
    assert await which() == (None, None)
    status, _, err = await cli("tariff", "unassign", "--default")
    assert (status, err) == (1, "csms: no tariff is assigned to default (default)\n")


async def test_pushes_say_what_became_of_each_chargers_display(
    cli: Cli, online: Online, tmp_path: Path, register_charger: RegisterCharger
) -> None:
    with_display, without_display, offline = [await register_charger() for _ in range(3)]
    tariff_id = await published(cli, tmp_path)
    await ok(cli, "tariff", "assign", tariff_id, "--default")

    out = await ok(cli, "tariff", "pushes", tariff_id)
    assert {row[0]: row[1:4] for row in rows(out)[:-1]} == {
        cp: [tariff_id, "1", "offline"] for cp in (with_display, without_display, offline)
    }
    assert out.splitlines()[-1] == "3 chargers: 3 offline"

    async with (
        online(with_display, "2.0.1", display_cost_and_price=True),  # type: ignore[arg-type]
        online(without_display, "1.6"),
    ):

        async def answered() -> dict[str, str] | None:
            pushes = await as_json(cli, "tariff", "pushes", tariff_id)
            statuses = {p["charge_point_id"]: p["status"] for p in pushes}
            connected = (statuses[with_display], statuses[without_display])
            return None if {"offline", "pending"} & set(connected) else statuses

        statuses = await eventually(answered, interval=0.1)
    assert statuses == {
        with_display: "accepted",
        without_display: "not_supported",
        offline: "offline",
    }
    out = await ok(cli, "tariff", "pushes", tariff_id)
    assert out.splitlines()[-1] == "3 chargers: 1 accepted, 1 not_supported, 1 offline"
    out = await ok(cli, "tariff", "pushes", "--charger", offline)
    assert [row[:4] for row in rows(out)[:-1]] == [[offline, tariff_id, "1", "offline"]]
    [push] = await as_json(cli, "tariff", "pushes", "--charger", offline)
    assert (push["status"], push["stored_status"]) == ("offline", "pending")
    out = await ok(cli, "tariff", "show", tariff_id)
    assert "3 chargers: 1 accepted, 1 not_supported, 1 offline" in out
    status, _, err = await cli("tariff", "pushes", "NOPE")
    assert (status, err) == (1, "csms: tariff NOPE not found\n")
    status, _, err = await cli("tariff", "pushes", "--charger", "NOPE")
    assert (status, err) == (1, "csms: charger NOPE not found\n")


BAD_FILES = [
    ("{", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ("[]", "must hold a JSON object (the tariff)"),
    ('{"currency": "EUR", "elements": [], "x": NaN}', "not JSON: NaN is not a JSON number"),
    (
        json.dumps(tariff("-0.25")),
        "elements[0].price_components[1].price: must not be negative",
    ),
    (json.dumps(TARIFF | {"currency": "XXX"}), "currency: must be an ISO 4217 currency code"),
    (json.dumps(TARIFF | {"party_id": "ABC"}), "party_id: unknown field"),
    (json.dumps(TARIFF | {"id": 7}), "id: must be a text"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
async def test_a_bad_file_is_refused_naming_the_field(
    cli: Cli, tmp_path: Path, content: str, message: str
) -> None:
    tariff_id = new_id()
    path = write(tmp_path, content)
    status, out, err = await cli("tariff", "add", "--file", path, "--id", tariff_id)
    assert (status, out) == (2, "")
    assert err.startswith(f"csms: {path}: {message}"), err
    status, out, err = await cli(
        "tariff", "add", "--file", "-", "--id", tariff_id, stdin=content.encode()
    )
    assert (status, out) == (2, "")
    assert err.startswith(f"csms: stdin: {message}"), err
    assert tariff_id not in await ok(cli, "tariff", "list")


async def test_bad_input_is_refused_and_nothing_is_stored(cli: Cli, tmp_path: Path) -> None:
    tariff_id = new_id()
    good = write(tmp_path, TARIFF)

    async def refused(*args: str) -> tuple[int, str]:
        status, out, err = await cli(*args)
        assert out == "" and "Traceback" not in err, err
        return status, err

    missing = str(tmp_path / "missing.json")
    assert await refused("tariff", "add", "--file", missing, "--id", tariff_id) == (
        2,
        f"csms: {missing}: cannot read it: No such file or directory\n",
    )
    assert await refused("tariff", "add", "--file", good) == (
        2,
        'csms: id: give --id ID, or an "id" in the file beside the tariff\n',
    )
    named = write(tmp_path, tariff(id=tariff_id), "named.json")
    assert await refused("tariff", "add", "--file", named, "--id", "OTHER") == (
        2,
        f"csms: id: --id 'OTHER' and the file's id '{tariff_id}' differ\n",
    )
    assert await refused("tariff", "add", "--file", good, "--id", "no spaces") == (
        2,
        "csms: id: 1-36 of letters, digits and . _ -\n",
    )
    assert await refused(
        "tariff", "add", "--file", good, "--id", tariff_id, "--description", "x" * 256
    ) == (2, "csms: description: at most 255 characters\n")
    assert tariff_id not in await ok(cli, "tariff", "list")

    await ok(cli, "tariff", "add", "--file", named)
    assert await refused("tariff", "add", "--file", named) == (
        1,
        f"csms: tariff {tariff_id} exists already\n",
    )
    assert await refused("tariff", "assign", tariff_id, "--default") == (
        2,
        f"csms: tariff {tariff_id} has no published version: publish it first\n",
    )
    assert await refused("tariff", "publish", "NOPE") == (1, "csms: tariff NOPE not found\n")
    await ok(cli, "tariff", "publish", tariff_id)
    assert await refused("tariff", "publish", tariff_id) == (
        2,
        f"csms: tariff {tariff_id}: no draft to publish (edit it first)\n",
    )
    bad = write(tmp_path, tariff("abc"), "bad.json")
    assert await refused("tariff", "edit", tariff_id, "--file", bad) == (
        2,
        f"csms: {bad}: elements[0].price_components[1].price: must be a number\n",
    )
    other = write(tmp_path, tariff(id="X"), "other.json")
    assert await refused("tariff", "edit", tariff_id, "--file", other) == (
        2,
        f"csms: id: --id '{tariff_id}' and the file's id 'X' differ\n",
    )
    assert await refused("tariff", "edit", "NOPE", "--file", good) == (
        1,
        "csms: tariff NOPE not found\n",
    )
    shown = await as_json(cli, "tariff", "show", tariff_id)
    assert [v["version"] for v in shown["versions"]] == [1]  # no draft was started
    assert await refused("tariff", "show", tariff_id, "--version", "2") == (
        1,
        f"csms: tariff {tariff_id} has no version 2\n",
    )
    assert await refused("tariff", "assign", tariff_id, "--charger", "NOPE") == (
        1,
        "csms: charger NOPE not found\n",
    )
    assert await refused("tariff", "assign", tariff_id, "--site", "NOPE") == (
        1,
        "csms: site NOPE not found\n",
    )
    assert await refused("tariff", "assign", tariff_id, "--group", "") == (
        2,
        "csms: target: the group to assign to is required\n",
    )
    status, err = await refused("tariff", "assign", tariff_id, "--default", "--site", "S")
    assert status == 2 and "not allowed with argument" in err  # one scope at a time
    assert await refused("tariff", "which", "NOPE") == (1, "csms: charger NOPE not found\n")
    header = "scope  target  tariff  current  created_by  created_at\n"
    assert await ok(cli, "tariff", "assignments") == header  # nothing was assigned
