"""GET /api/v1/chargers/{id}/rollups: hourly rollups per connector, read-only, over HTTP
with real tokens (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx

from csms.domain.meter_values import MeterSample
from csms.store import rollups
from csms.store.postgres import PostgresMeters
from tests.integration.backoffice.conftest import Account, register_charger
from tests.integration.backoffice.test_bo_auth import assert_problem

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


def reading(minutes: int, measurand: str, value: str, unit: str) -> MeterSample:
    return MeterSample(
        T0 + timedelta(minutes=minutes), measurand, "", "Outlet", "Sample.Periodic", unit,
        Decimal(value), None,
    )  # fmt: skip


async def test_rollups_by_connector_and_hour(
    client: httpx.AsyncClient, accounts: dict[str, Account], pool: asyncpg.Pool
) -> None:
    cid, _ = await register_charger(client, accounts["operator"])
    meters = PostgresMeters(pool, max_rows=100, max_delay=0.001)
    energy, power = "Energy.Active.Import.Register", "Power.Active.Import"
    await meters.add_samples(
        cid, 1, 1, None,
        [reading(5, energy, "1000", "Wh"), reading(5, power, "7.4", "kW"),
         reading(50, energy, "1.9", "kWh"), reading(50, power, "3700", "W"),
         reading(65, energy, "2500", "Wh")],
    )  # fmt: skip
    await rollups.update(pool, lag=timedelta(0))

    window = {"from": "2024-03-04", "to": "2024-03-05"}
    response = await client.get(
        f"/api/v1/chargers/{cid}/rollups", params=window, headers=accounts["monitor"].headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["charge_point_id"] == cid
    hours = [
        (i["hour"], i["energy_wh"], i["max_power_w"], i["session_count"]) for i in body["items"]
    ]
    assert hours == [
        ("2024-03-04T10:00:00Z", "900.0", "7400.0", 0),
        ("2024-03-04T11:00:00Z", "0", None, 0),
    ]


async def test_bad_ranges_and_unknown_chargers_are_refused(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    cid, _ = await register_charger(client, accounts["operator"])
    headers = accounts["operator"].headers
    for params in (
        {"from": "2024-03-05", "to": "2024-03-04"},
        {"from": "yesterday", "to": "2024-03-04"},
        {"from": "2020-01-01", "to": "2024-01-01"},
    ):
        response = await client.get(
            f"/api/v1/chargers/{cid}/rollups", params=params, headers=headers
        )
        assert_problem(response, 422)
    day = {"from": "2024-03-04", "to": "2024-03-05"}
    missing = await client.get("/api/v1/chargers/NOPE-404/rollups", params=day, headers=headers)
    assert_problem(missing, 404)
    unauthenticated = await client.get(f"/api/v1/chargers/{cid}/rollups", params=day)
    assert unauthenticated.status_code == 401
