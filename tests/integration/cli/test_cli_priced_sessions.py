"""`csms transaction show` with the cost of a session priced end to end: a tariff added,
published and assigned through the CLI, a simulated station charging over real WebSockets
on a node of the CLI's cluster, the running cost while it charges and the final cost with
its breakdown once it ended (docs/reference/cli.md, "Sessions and journal")."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.integration.cli.tariff_helpers import fields, published, rows
from tests.integration.ocpp_client import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_tariff_assignments")]


async def ok(cli: Cli, *args: str) -> str:
    status, out, err = await cli(*args)
    assert status == 0, err
    return out


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_transaction_show_prints_the_cost_and_its_breakdown(
    cli: Cli, online: Online, register_charger: RegisterCharger, tmp_path: Path, version: str
) -> None:
    cp = await register_charger()
    tariff_id = await published(cli, tmp_path)  # 1.00 EUR start + 0.25 EUR/kWh, + 20 % VAT
    await ok(cli, "tariff", "assign", tariff_id, "--charger", cp)
    tag = f"TAG-{secrets.token_hex(4)}"
    await ok(cli, "token", "add", tag)

    async with online(cp, version) as station:
        await station.status_notification(1, "Preparing")
        tx = await station.start_transaction(1, tag, 1000)
        await station.status_notification(1, "Charging")
        await station.send_meter_values(tx, 4000)

        async def started() -> str | None:
            found = rows(await ok(cli, "transactions", "--charger", cp))
            return found[0][0] if found else None

        pk = await eventually(started, interval=0.1)

        async def cost(state: str) -> Any:
            shown = orjson.loads(await ok(cli, "transaction", "show", pk, "--json"))
            return shown if shown["cost"] and shown["cost"]["state"] == state else None

        running = await eventually(lambda: cost("running"), interval=0.1)
        # 3 kWh so far: 1.00 + 0.75 = 1.75 excl. VAT
        assert running["cost"]["excl_vat"] == "1.75"
        out = await ok(cli, "transaction", "show", pk)
        assert fields(out)["cost"].startswith("running (the session goes on), computed ")

        await station.send_meter_values(tx, 8000)
        await station.stop_transaction(tx, "Local", meter_stop_wh=11_000)
        await station.status_notification(1, "Available")

    shown = await eventually(lambda: cost("final"), interval=0.1)
    assert shown["transaction"]["id"] == int(pk)
    final = shown["cost"]
    assert (final["tariff_id"], final["tariff_version"], final["currency"]) == (tariff_id, 1, "EUR")
    assert (final["excl_vat"], final["vat"], final["incl_vat"]) == ("3.50", "0.70", "4.20")
    lines = {line["dimension"]: line for line in final["breakdown"]["lines"]}
    assert (lines["ENERGY"]["volume"], lines["ENERGY"]["incl_vat"]) == ("10", "3.00")
    assert shown["meter_values"]

    out = await ok(cli, "transaction", "show", pk)
    header = fields(out)
    assert (header["tariff"], header["cost"].split(",")[0]) == (f"{tariff_id} version 1", "final")
    sections = out.split("\n\n")
    assert [row[:14] for row in rows(sections[1])] == [
        ["FLAT", "0", "1", "1", "session", "1.00", "EUR", "20%"]
        + ["1.00", "EUR", "0.20", "EUR", "1.20", "EUR"],
        ["ENERGY", "0", "10", "10", "kWh", "0.25", "EUR", "20%"]
        + ["2.50", "EUR", "0.50", "EUR", "3.00", "EUR"],
    ]
    assert sections[1].split()[:12] == [
        "dimension",
        "element",
        "volume",
        "billed",
        "unit",
        "unit_price",
        "vat_rate",
        "excl_vat",
        "vat",
        "incl_vat",
        "from",
        "to",
    ]
    assert sections[2].splitlines() == [
        "total excl. VAT       3.50 EUR",
        "VAT                   0.70 EUR",
        "total incl. VAT       4.20 EUR",
    ]
    assert "Energy.Active.Import.Register" in sections[3]


async def test_an_unpriced_session_says_so(
    cli: Cli, online: Online, register_charger: RegisterCharger
) -> None:
    cp = await register_charger()
    tag = f"TAG-{secrets.token_hex(4)}"
    await ok(cli, "token", "add", tag)
    async with online(cp, "2.0.1") as station:
        await station.start_transaction(1, tag, 0)

        async def started() -> str | None:
            found = rows(await ok(cli, "transactions", "--charger", cp))
            return found[0][0] if found else None

        pk = await eventually(started, interval=0.1)
    out = await ok(cli, "transaction", "show", pk)
    assert fields(out)["cost"] == "not priced (no tariff applied when the session started)"
    assert orjson.loads(await ok(cli, "transaction", "show", pk, "--json"))["cost"] is None
    status, _, err = await cli("transaction", "show", "999999999")
    assert (status, err) == (1, "csms: transaction 999999999 not found\n")
