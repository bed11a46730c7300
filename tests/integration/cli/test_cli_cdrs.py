"""`csms cdr export` as an operator runs it: sessions priced end to end (a simulated station
over real WebSockets on a node of the CLI's cluster, both OCPP versions) exported as OCPI
2.2.1 CDRs (NDJSON on stdout) and CSV (a file), equal to the stored cost and valid against
the CDR object's definitions; 5,000 sessions streamed; bad input refused with exit 2."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.integration.cdr_sessions import insert_sessions
from tests.integration.cli.conftest import Cli, Online, RegisterCharger
from tests.integration.cli.tariff_helpers import TARIFF, published
from tests.integration.ocpp_client import eventually
from tests.ocpi_cdr import validate_cdr

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_tariff_assignments")]


def decimals(text: str) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


async def ok(cli: Cli, *args: str) -> tuple[str, str]:
    status, out, err = await cli(*args)
    assert status == 0, err
    return out, err


async def at_a_site(pool: asyncpg.Pool, charge_point_id: str) -> str:
    site_id = f"S-{secrets.token_hex(4)}"
    await pool.execute(
        """INSERT INTO sites (id, name, time_zone, address, city, postal_code, country,
               latitude, longitude)
           VALUES ($1, 'Depot', 'Europe/Berlin', 'Hafenstr. 1', 'Hamburg', '20457', 'DEU',
               53.541, 9.984)""",
        site_id,
    )
    await pool.execute(
        "UPDATE chargers SET site_id = $1 WHERE charge_point_id = $2", site_id, charge_point_id
    )
    return site_id


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_priced_session_exports_as_ocpi_and_csv(
    cli: Cli,
    cli_pool: asyncpg.Pool,
    online: Online,
    register_charger: RegisterCharger,
    tmp_path: Path,
    version: str,
) -> None:
    cp = await register_charger()
    site_id = await at_a_site(cli_pool, cp)
    tariff_id = await published(cli, tmp_path)  # 1.00 EUR start + 0.25 EUR/kWh, + 20 % VAT
    await ok(cli, "tariff", "assign", tariff_id, "--charger", cp)
    tag = f"TAG-{secrets.token_hex(4)}"
    await ok(cli, "token", "add", tag)
    before = datetime.now(UTC)

    async with online(cp, version) as station:
        await station.status_notification(1, "Preparing")
        tx = await station.start_transaction(1, tag, 1000)
        await station.status_notification(1, "Charging")
        await station.send_meter_values(tx, 4000)
        await station.send_meter_values(tx, 8000)
        await station.stop_transaction(tx, "Local", meter_stop_wh=11_000)
        await station.status_notification(1, "Available")

    async def final() -> asyncpg.Record | None:
        record: asyncpg.Record | None = await cli_pool.fetchrow(
            """SELECT id, ended_at, cost_excl_vat, cost_vat, cost_incl_vat FROM transactions
               WHERE charge_point_id = $1 AND cost_final""",
            cp,
        )
        return record

    stored = await eventually(final, interval=0.1)
    window = (
        "--from",
        before.isoformat(),
        "--to",
        (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    )

    out, err = await ok(cli, "cdr", "export", *window, "--format", "ocpi", "--charger", cp)
    (line,) = out.splitlines()
    validate_cdr(json.loads(line))
    cdr = decimals(line)
    assert cdr["id"] == str(stored["id"]) and cdr["cdr_location"]["id"] == site_id
    assert cdr["total_cost"] == {
        "excl_vat": stored["cost_excl_vat"],
        "incl_vat": stored["cost_incl_vat"],
    }
    assert cdr["total_cost"] == {"excl_vat": Decimal("3.50"), "incl_vat": Decimal("4.20")}
    assert '"total_cost":{"excl_vat":3.50,"incl_vat":4.20}' in line
    assert cdr["total_energy"] == Decimal("10.0000") and cdr["cdr_token"]["uid"] == tag
    assert cdr["cdr_location"]["coordinates"] == {"latitude": "53.541000", "longitude": "9.984000"}
    assert "1 CDRs of sessions ended" in err and "written to stdout" in err

    target = tmp_path / "cdrs.csv"
    out, err = await ok(
        cli, "cdr", "export", *window, "--format", "csv", "-o", str(target), "--site", site_id
    )
    assert out == "" and f"written to {target}" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    (row,) = rows
    assert (row["cdr_id"], row["charge_point_id"], row["site_id"]) == (
        str(stored["id"]),
        cp,
        site_id,
    )
    assert (row["excl_vat"], row["vat"], row["incl_vat"]) == ("3.50", "0.70", "4.20")
    assert (row["time_zone"], row["tariff_id"], row["currency"]) == (
        "Europe/Berlin",
        tariff_id,
        "EUR",
    )
    ended = stored["ended_at"].replace(microsecond=0)
    assert datetime.fromisoformat(row["end_local"]) == ended
    assert datetime.fromisoformat(row["end_local"]).utcoffset() in (
        timedelta(hours=1),
        timedelta(hours=2),
    )
    assert row["charge_id"] == "" and row["invoice_number"] == ""  # no worker settled it here


async def test_five_thousand_sessions_stream_to_a_file_and_stdout(
    cli: Cli, cli_pool: asyncpg.Pool, register_charger: RegisterCharger, tmp_path: Path
) -> None:
    cp = await register_charger()
    await at_a_site(cli_pool, cp)
    tariff_id = await published(cli, tmp_path)
    _, incl = await insert_sessions(
        cli_pool, cp, tariff_id, TARIFF, count=5000, first_start=datetime(2031, 3, 1, tzinfo=UTC)
    )
    target = tmp_path / "march.csv"
    out, err = await ok(
        cli, "cdr", "export", "--from", "2031-03-01", "--to", "2031-03-05", "--format", "csv",
        "-o", str(target), "--charger", cp,
    )  # fmt: skip
    assert "5000/5000" in err and "5000 CDRs of sessions ended 2031-03-01T00:00:00+00:00" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 5000 and len({r["cdr_id"] for r in rows}) == 5000
    assert sum(Decimal(r["incl_vat"]) for r in rows) == incl * 5000

    out, _ = await ok(
        cli, "cdr", "export", "--from", "2031-03-01", "--to", "2031-03-05", "--charger", cp, "-q"
    )
    lines = out.splitlines()
    assert len(lines) == 5000
    validate_cdr(json.loads(lines[0]))
    validate_cdr(json.loads(lines[-1]))

    # --from inclusive, --to exclusive; an offset is honoured (01:30+01:00 is 00:30Z)
    out, _ = await ok(
        cli, "cdr", "export", "--from", "2031-03-01T01:30:00+01:00", "--to",
        "2031-03-01T00:32:00", "--charger", cp, "-q",
    )  # fmt: skip
    ends = [decimals(line)["end_date_time"] for line in out.splitlines()]
    assert ends == ["2031-03-01T00:30:00Z", "2031-03-01T00:31:00Z"]


async def test_bad_input_is_refused_with_exit_2_and_nothing_written(
    cli: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "never.csv"
    cases: list[tuple[list[str], str]] = [
        (["--from", "yesterday", "--to", "2026-12-01"], "--from: 'yesterday' is not a date"),
        (["--from", "2026-12-01", "--to", "2026-11-01"], "to: must be after from"),
        (["--from", "2026-11-01", "--to", "2026-11-31"], "--to: '2026-11-31' is not a date"),
        (["--from", "2026-11-01", "--to", "2026-12-01", "--format", "xml"], "invalid choice"),
        (["--to", "2026-12-01"], "the following arguments are required: --from"),
    ]
    for args, message in cases:
        status, out, err = await cli("cdr", "export", *args, "-o", str(target))
        assert status == 2, (args, err)
        assert message in err, (args, err)
        assert out == "" and not target.exists()
