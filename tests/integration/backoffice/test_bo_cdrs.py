"""Charge detail records through REST (issue 13): sessions priced by a node (a simulator over
a real WebSocket, both OCPP versions) and settled by a real worker, read back as OCPI 2.2.1
CDRs (a page, one, the NDJSON export) and as accounting CSV, with a real JWT; every CDR
valid against the module's object definitions and equal to the stored cost; who may read
them; bad input; and 5,000 sessions streamed in one export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from csms.node.server import Node
from csms.settings import WorkerSettings
from csms.store import billing
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, NewAccount, register_charger
from tests.integration.backoffice.pricing import TARIFF, assign, create_tariff, create_token
from tests.integration.cdr_sessions import insert_sessions
from tests.ocpi_cdr import validate_cdr
from tests.timeouts import TIMEOUT


def decimals(text: str) -> Any:
    """JSON with its numbers as Decimals (exactly as written)."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1)
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


async def site_at(client: httpx.AsyncClient, operator: Account, charge_point_id: str) -> str:
    site_id = f"S-{secrets.token_hex(4)}"
    created = await client.post(
        "/api/v1/sites",
        json={
            "id": site_id,
            "name": "Harbour",
            "time_zone": "Europe/Amsterdam",
            "address": "Kade 1",
            "city": "Amsterdam",
            "postal_code": "1011AA",
            "country": "NLD",
            "latitude": "52.370216",
            "longitude": "4.895168",
        },
        headers=operator.headers,
    )
    assert created.status_code == 201, created.text
    placed = await client.put(
        f"/api/v1/chargers/{charge_point_id}/site",
        json={"site_id": site_id},
        headers=operator.headers,
    )
    assert placed.status_code == 200, placed.text
    return site_id


async def charge_10_kwh(
    node: Node, charge_point_id: str, password: str, tag: str, version: str
) -> None:
    sim = Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=password,
            call_timeout=TIMEOUT,
        )
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        await sim.status_notification(1, "Preparing")
        tx = await sim.start_transaction(1, tag, 1000)
        await sim.status_notification(1, "Charging")
        await sim.send_meter_values(tx, 4000)
        await sim.send_meter_values(tx, 8000)
        await sim.stop_transaction(tx, "Local", meter_stop_wh=11_000)
        await sim.status_notification(1, "Available")
    finally:
        await sim.disconnect()


async def eventually(check: Any) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_settled_session_exports_as_an_ocpi_cdr_and_a_csv_row(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    new_account: NewAccount,
    cluster_node: Node,
    worker: Worker,
    pool: asyncpg.Pool,
    version: str,
) -> None:
    operator, monitor = accounts["operator"], accounts["monitor"]
    charge_point_id, password = await register_charger(client, operator)
    site_id = await site_at(client, operator, charge_point_id)
    tariff = await create_tariff(client, operator)  # 1.00 start + 0.25/kWh, +20 % VAT
    await assign(client, operator, "charger", charge_point_id, tariff)
    tag = await create_token(client, operator)
    account = await billing.add_account(pool, kind="postpaid", currency="EUR", name="Fleet")
    await billing.link_token(pool, tag, account.id)
    before = datetime.now(UTC)

    await charge_10_kwh(cluster_node, charge_point_id, password, tag, version)
    pk = await pool.fetchval(
        "SELECT id FROM transactions WHERE charge_point_id = $1", charge_point_id
    )
    charge = await eventually(lambda: billing.charge_of(pool, pk))
    stored = await pool.fetchrow(
        "SELECT ended_at, cost_excl_vat, cost_vat, cost_incl_vat FROM transactions WHERE id = $1",
        pk,
    )
    after = datetime.now(UTC)
    window = {"from": before.isoformat(), "to": after.isoformat()}

    # a page of CDRs, filtered to this charger
    listed = await client.get(
        "/api/v1/cdrs",
        params={**window, "charge_point_id": charge_point_id},
        headers=operator.headers,
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"] == "application/json"
    page = decimals(listed.text)
    (cdr,) = page["items"]
    assert page["next_cursor"] is None
    validate_cdr(listed.json()["items"][0])
    # the stored cost, to the cent, as JSON numbers written exactly
    assert cdr["total_cost"] == {
        "excl_vat": stored["cost_excl_vat"],
        "incl_vat": stored["cost_incl_vat"],
    }
    assert (stored["cost_excl_vat"], stored["cost_incl_vat"]) == (Decimal("3.50"), Decimal("4.20"))
    assert '"total_cost":{"excl_vat":3.50,"incl_vat":4.20}' in listed.text
    assert cdr["total_energy"] == Decimal("10.0000")
    assert cdr["total_fixed_cost"] == {"excl_vat": Decimal("1.00"), "incl_vat": Decimal("1.20")}
    assert cdr["total_energy_cost"] == {"excl_vat": Decimal("2.50"), "incl_vat": Decimal("3.00")}
    assert cdr["id"] == str(pk) and cdr["session_id"] == str(pk)
    assert cdr["cdr_token"]["uid"] == tag and cdr["cdr_token"]["type"] == "RFID"
    assert cdr["auth_method"] == "WHITELIST" and cdr["currency"] == "EUR"
    location = cdr["cdr_location"]
    assert (location["id"], location["city"], location["country"]) == (site_id, "Amsterdam", "NLD")
    assert location["coordinates"] == {"latitude": "52.370216", "longitude": "4.895168"}
    assert location["evse_uid"] == f"{charge_point_id}*1" and location["connector_id"] == "1"
    assert [t["id"] for t in cdr["tariffs"]] == [tariff]
    assert cdr["tariffs"][0]["elements"][0]["price_components"][1]["price"] == Decimal("0.25")
    energy = sum(
        d["volume"]
        for p in cdr["charging_periods"]
        for d in p["dimensions"]
        if d["type"] == "ENERGY"
    )
    assert energy == Decimal("10.0000")
    assert cdr["end_date_time"] == stored["ended_at"].astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S"
    ) + (
        f".{stored['ended_at'].microsecond // 1000:03d}Z" if stored["ended_at"].microsecond else "Z"
    )

    # one CDR; the same
    one = await client.get(f"/api/v1/cdrs/{pk}", headers=monitor.headers)
    assert one.status_code == 200, one.text
    assert decimals(one.text) == cdr

    # filters: the site and the account select it, another account does not
    for params in ({"site": site_id}, {"account": account.id}):
        found = await client.get(
            "/api/v1/cdrs", params={**window, **params}, headers=monitor.headers
        )
        assert [c["id"] for c in found.json()["items"]] == [str(pk)], params
    other = await client.get(
        "/api/v1/cdrs", params={**window, "account": account.id + 10_000}, headers=monitor.headers
    )
    assert other.json()["items"] == []

    # the NDJSON export: one CDR per line, the same object
    exported = await client.get(
        "/api/v1/cdrs/export",
        params={**window, "format": "ocpi", "charge_point_id": charge_point_id},
        headers=operator.headers,
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/x-ndjson"
    assert exported.headers["content-disposition"].startswith('attachment; filename="cdrs-')
    lines = exported.text.splitlines()
    assert len(lines) == 1 and decimals(lines[0]) == cdr

    # the CSV for accounting
    as_csv = await client.get(
        "/api/v1/cdrs/export",
        params={**window, "format": "csv", "charge_point_id": charge_point_id},
        headers=accounts["admin"].headers,
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
    (row,) = rows
    assert (row["cdr_id"], row["charge_point_id"], row["site_id"]) == (
        str(pk),
        charge_point_id,
        site_id,
    )
    assert (row["id_token"], row["account_id"], row["time_zone"]) == (
        tag,
        str(account.id),
        "Europe/Amsterdam",
    )
    assert (row["excl_vat"], row["vat"], row["incl_vat"], row["vat_rates"]) == (
        "3.50",
        "0.70",
        "4.20",
        "20",
    )
    assert (row["charge_id"], row["charged_incl_vat"]) == (str(charge.id), f"{charge.incl_vat:f}")
    assert (row["tariff_id"], row["tariff_version"], row["energy_kwh"]) == (tariff, "1", "10.0000")
    assert row["invoice_number"] == "" and row["stop_reason"] == "Local"
    assert datetime.fromisoformat(row["end_utc"]) == stored["ended_at"].replace(microsecond=0)
    assert datetime.fromisoformat(row["end_local"]) == stored["ended_at"].replace(microsecond=0)

    # drivers have their sessions' costs at /transactions; CDRs are staff's
    driver = await new_account("driver")
    for url in ("/api/v1/cdrs", f"/api/v1/cdrs/{pk}", "/api/v1/cdrs/export"):
        refused = await client.get(url, params=window, headers=driver.headers)
        assert refused.status_code == 403, (url, refused.text)
        assert (await client.get(url, params=window)).status_code == 401


async def test_bad_ranges_and_formats_are_refused_with_the_field_named(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    headers = accounts["operator"].headers
    cases: list[tuple[str, dict[str, str], str]] = [
        ("/api/v1/cdrs", {"from": "yesterday"}, "from"),
        ("/api/v1/cdrs", {"from": "2026-11-02", "to": "2026-11-01"}, "to"),
        ("/api/v1/cdrs/export", {"from": "2026-11-01", "to": "2026-11-01"}, "to"),
        ("/api/v1/cdrs/export", {"from": "2026-11-01", "to": "2026-13-01"}, "to"),
        (
            "/api/v1/cdrs/export",
            {"from": "2026-11-01", "to": "2026-12-01", "format": "xml"},
            "format",
        ),
        ("/api/v1/cdrs/export", {"to": "2026-12-01"}, "from"),
        ("/api/v1/cdrs", {"cursor": "not-a-cursor"}, "cursor"),
    ]
    for url, params, field in cases:
        response = await client.get(url, params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in response.text, (params, response.text)
    missing = await client.get("/api/v1/cdrs/999999999", headers=headers)
    assert missing.status_code == 404 and "cdr 999999999" in missing.json()["detail"]
    assert (await client.get("/api/v1/cdrs/0", headers=headers)).status_code == 422


async def test_five_thousand_sessions_stream_in_one_export_and_page_by_cursor(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    operator = accounts["operator"]
    charge_point_id, _ = await register_charger(client, operator)
    await site_at(client, operator, charge_point_id)
    tariff = await create_tariff(client, operator)
    first = datetime(2031, 3, 1, tzinfo=UTC)  # a range no other test uses
    excl, incl = await insert_sessions(
        pool, charge_point_id, tariff, TARIFF, count=5000, first_start=first
    )
    params = {"from": "2031-03-01", "to": "2031-03-05", "charge_point_id": charge_point_id}

    seen, total_incl = 0, Decimal(0)
    async with client.stream(
        "GET", "/api/v1/cdrs/export", params=params, headers=operator.headers
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if not line:
                continue
            cdr = decimals(line)
            seen += 1
            total_incl += cdr["total_cost"]["incl_vat"]
            if seen % 1000 == 1:
                validate_cdr(json.loads(line))
    assert seen == 5000 and total_incl == incl * 5000
    # 1.00 + 7.5 kWh x 0.25 = 2.875 -> 1.00 + 1.88; +20 % per line: 1.20 + 2.26
    assert (excl, incl) == (Decimal("2.88"), Decimal("3.46"))

    # CSV: a header and a row per session
    async with client.stream(
        "GET", "/api/v1/cdrs/export", params={**params, "format": "csv"}, headers=operator.headers
    ) as response:
        text = "".join([chunk async for chunk in response.aiter_text()])
    assert text.count("\r\n") == 5001

    # the list pages through the same sessions by cursor, in order
    ids: list[int] = []
    cursor: str | None = None
    while True:
        page = (
            await client.get(
                "/api/v1/cdrs",
                params={**params, **({"cursor": cursor} if cursor else {}), "limit": "50"},
                headers=operator.headers,
            )
        ).json()
        ids.extend(int(c["id"]) for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None or len(ids) >= 200:
            break
    assert len(ids) == 200 and ids == sorted(ids)
    # the range's bounds: from inclusive, to exclusive (sessions end 00:30 + n minutes)
    edge = {
        "from": "2031-03-01T00:30:00Z",
        "to": "2031-03-01T00:32:00Z",
        "charge_point_id": charge_point_id,
    }
    edged = (await client.get("/api/v1/cdrs", params=edge, headers=operator.headers)).json()
    assert len(edged["items"]) == 2
    offset = {**edge, "from": "2031-03-01T01:30:00+01:00"}  # the same instant as 00:30Z
    assert (
        len(
            (await client.get("/api/v1/cdrs", params=offset, headers=operator.headers)).json()[
                "items"
            ]
        )
        == 2
    )
