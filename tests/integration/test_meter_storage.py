"""Meter data at fleet scale (issue 16, ADR 0005): one row per sampled set, replays insert
nothing twice at that granularity (1.6 MeterValues and StopTransaction transactionData, 2.0.1
TransactionEvent, over a real WebSocket), partitions made on demand and ahead, retention
drops only old partitions, rollups equal a recomputation from the raw samples.

Transaction-related messages are delivered at least once (1.6 section 4.10 / 3.3; 2.0.1
E02.FR.01..03: a charger resends them until answered), so a replay must add nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from ocpp_client import OCPP16, OCPP201, Fleet, OcppClient, RegisterCharger, RegisterToken

from csms.domain.clock import format_timestamp
from csms.domain.meter_values import MeterSample
from csms.settings import WorkerSettings
from csms.store import journal, partitions, rollups
from csms.store.postgres import PostgresMeters
from csms.worker.meters import sweep_partitions

pytestmark = pytest.mark.integration

# a week long gone: a charger replaying old data needs partitions made on demand
T0 = datetime(2024, 2, 5, 9, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return format_timestamp(T0 + timedelta(minutes=minutes))


@pytest.fixture
async def fleet(url: str, register_charger: RegisterCharger) -> AsyncIterator[Fleet]:
    async with contextlib.AsyncExitStack() as stack:
        yield Fleet(url, register_charger, stack)


async def stored(pool: asyncpg.Pool, cid: str) -> tuple[int, list[tuple[Any, ...]]]:
    """The charger's sampled sets (rows) and its values as the readers see them."""
    sets = await pool.fetchval("SELECT count(*) FROM meter_samples WHERE charge_point_id = $1", cid)
    values = await pool.fetch(
        """SELECT sampled_at, context, measurand, phase, location, unit, value, transaction_pk
           FROM meter_values WHERE charge_point_id = $1
           ORDER BY sampled_at, context, measurand, phase""",
        cid,
    )
    return int(sets), [tuple(v) for v in values]


def sampled_16(wh: int, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
         "context": context},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W", "context": context},
        {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A",
         "context": context},
    ]  # fmt: skip


async def test_1_6_replays_of_meter_values_and_stop_data_insert_nothing_twice(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    cp = await fleet.open(OCPP16)
    client: OcppClient = cp.client
    start = {"connectorId": 1, "idTag": await register_token(), "meterStart": 1000,
             "timestamp": at(0)}  # fmt: skip
    transaction_id = (await client.result("StartTransaction", start))["transactionId"]
    meter = {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {"timestamp": at(1), "sampledValue": sampled_16(1100)},
            {"timestamp": at(2), "sampledValue": sampled_16(1200)},
        ],
    }
    await client.result("MeterValues", meter, message_id="mv-1")
    first = await stored(pool, cp.charge_point_id)
    assert first[0] == 2 and len(first[1]) == 6  # two sets of three values
    await client.result("MeterValues", meter, message_id="mv-1")  # same message id
    await client.result("MeterValues", meter, message_id="mv-1-again")  # a new one
    assert await stored(pool, cp.charge_point_id) == first

    # the stop carries the periodic sets again (already stored) and its end set
    data = meter["meterValue"] + [
        {"timestamp": at(3), "sampledValue": sampled_16(1300, "Transaction.End")}
    ]
    stop = {"transactionId": transaction_id, "meterStop": 1300, "timestamp": at(3),
            "transactionData": data}  # fmt: skip
    await client.result("StopTransaction", stop, message_id="stop-1")
    after_stop = await stored(pool, cp.charge_point_id)
    assert after_stop[0] == 3 and len(after_stop[1]) == 9
    await client.result("StopTransaction", stop, message_id="stop-2")
    assert await stored(pool, cp.charge_point_id) == after_stop
    energy = [v[6] for v in after_stop[1] if v[2] == "Energy.Active.Import.Register"]
    assert energy == [1100, 1200, 1300]


def sampled_201(wh: int, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    return [
        {"value": wh, "context": context, "unitOfMeasure": {"unit": "Wh"}},
        {"value": 11000, "measurand": "Power.Active.Import", "context": context},
        {"value": 230.5, "measurand": "Voltage", "phase": "L1-N", "context": context},
    ]


def event_201(kind: str, seq: int, minute: float, **fields: Any) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": at(minute),
        "triggerReason": "MeterValuePeriodic" if kind == "Updated" else "CablePluggedIn",
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-meters"},
        "evse": {"id": 1, "connectorId": 1},
        **fields,
    }


async def test_2_0_1_replayed_transaction_events_insert_nothing_twice(
    fleet: Fleet, pool: asyncpg.Pool
) -> None:
    cp = await fleet.open(OCPP201)
    client: OcppClient = cp.client
    started = event_201(
        "Started", 0, 0, meterValue=[{"timestamp": at(0), "sampledValue": sampled_201(1000,
        "Transaction.Begin")}]
    )  # fmt: skip
    updated = event_201(
        "Updated",
        1,
        2,
        meterValue=[
            {"timestamp": at(1), "sampledValue": sampled_201(1100)},
            {"timestamp": at(2), "sampledValue": sampled_201(1200)},
        ],
    )
    ended = event_201(
        "Ended", 2, 3, meterValue=[{"timestamp": at(3), "sampledValue": sampled_201(1300,
        "Transaction.End")}]
    )  # fmt: skip
    for event in (started, updated, ended):
        await client.result("TransactionEvent", event)
    once = await stored(pool, cp.charge_point_id)
    assert once[0] == 4 and len(once[1]) == 12
    for event in (started, updated, ended, updated):  # E02.FR.01: resent until answered
        await client.result("TransactionEvent", event)
    assert await stored(pool, cp.charge_point_id) == once
    energy = [v[6] for v in once[1] if v[2] == "Energy.Active.Import.Register"]
    assert energy == [1000, 1100, 1200, 1300]
    assert {v[7] for v in once[1]} == {once[1][0][7]} and once[1][0][7] is not None


def sample(at: datetime, measurand: str, value: str, unit: str = "Wh") -> MeterSample:
    return MeterSample(at, measurand, "", "Outlet", "Sample.Periodic", unit, Decimal(value), None)


async def partition_names(pool: asyncpg.Pool, table: str) -> set[str]:
    return {name for name, _ in await partitions.bounds(pool, table)}


async def test_retention_drops_only_partitions_wholly_before_the_cutoff(
    pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    cid = (await register_charger()).charge_point_id
    meters = PostgresMeters(pool, max_rows=500, max_delay=0.001)
    old, recent = datetime(2001, 1, 3, tzinfo=UTC), datetime(2001, 1, 9, tzinfo=UTC)
    await meters.add_samples(cid, 0, 1, None, [sample(old, "Energy.Active.Import.Register", "1")])
    await meters.add_samples(
        cid, 0, 1, None, [sample(recent, "Energy.Active.Import.Register", "2")]
    )
    frames = [
        (cid, day, "in", 2, f"m-{day:%d}", "Heartbeat", f'[2,"m-{day:%d}","Heartbeat",{{}}]')
        for day in (old, recent)
    ]
    await journal.insert_rows(pool, frames)  # the days' partitions made on demand
    assert {"meter_samples_p20010101", "meter_samples_p20010108"} <= await partition_names(
        pool, "meter_samples"
    )

    now = datetime(2001, 1, 10, 12, tzinfo=UTC)
    keep_all = WorkerSettings(meter_retention_days=0, journal_retention_days=0)
    assert await sweep_partitions(pool, keep_all, lambda: now) == {}
    assert "meter_samples_p20010101" in await partition_names(pool, "meter_samples")

    # 4 days back is Jan 6, 12:00: the week of Jan 1-7 is not wholly before it, the days
    # up to Jan 5 are
    settings = WorkerSettings(
        meter_retention_days=4, journal_retention_days=4, partition_days_ahead=10
    )
    dropped = await sweep_partitions(pool, settings, lambda: now)
    assert "meter_samples_p20010101" not in dropped["meter_samples"]
    assert "charger_messages_p20010103" in dropped["charger_messages"]
    assert "charger_messages_p20010109" not in dropped["charger_messages"]
    journal_left = await journal.list_messages(pool, cid)
    assert [m["message_id"] for m in journal_left] == ["m-09"]

    later = datetime(2001, 1, 13, 0, 1, tzinfo=UTC)  # 4 days back: Jan 9, 00:01
    dropped = await sweep_partitions(pool, settings, lambda: later)
    assert dropped["meter_samples"] == ["meter_samples_p20010101"]
    names = await partition_names(pool, "meter_samples")
    assert "meter_samples_p20010101" not in names
    # made ahead: the weeks up to 10 days after "later"
    assert {"meter_samples_p20010108", "meter_samples_p20010115", "meter_samples_p20010122"} <= (
        names
    )
    values = await pool.fetch(
        "SELECT sampled_at, value FROM meter_values WHERE charge_point_id = $1", cid
    )
    assert [tuple(v) for v in values] == [(recent, 2)]


async def recomputed(pool: asyncpg.Pool, cid: str) -> list[tuple[Any, ...]]:
    """The charger's hourly rollups computed from scratch from the per-value readings."""
    records = await pool.fetch(
        """WITH r AS (
             SELECT evse_id, connector_id, date_trunc('hour', sampled_at, 'UTC') AS hour,
                    sampled_at, transaction_pk,
                    CASE WHEN measurand = 'Energy.Active.Import.Register'
                         THEN value * CASE WHEN unit = 'kWh' THEN 1000 ELSE 1 END END AS wh,
                    CASE WHEN measurand = 'Power.Active.Import'
                         THEN value * CASE WHEN unit = 'kW' THEN 1000 ELSE 1 END END AS w
             FROM meter_values
             WHERE charge_point_id = $1 AND phase = '' AND value IS NOT NULL)
           SELECT evse_id, connector_id, hour,
                  (SELECT wh FROM r r2 WHERE r2.evse_id = r.evse_id
                     AND r2.connector_id = r.connector_id AND r2.hour = r.hour
                     AND wh IS NOT NULL ORDER BY sampled_at DESC, wh DESC LIMIT 1)
                  - (SELECT wh FROM r r2 WHERE r2.evse_id = r.evse_id
                     AND r2.connector_id = r.connector_id AND r2.hour = r.hour
                     AND wh IS NOT NULL ORDER BY sampled_at, wh LIMIT 1) AS energy_wh,
                  max(w) AS max_power_w,
                  count(DISTINCT transaction_pk) AS session_count
           FROM r GROUP BY evse_id, connector_id, hour ORDER BY evse_id, connector_id, hour""",
        cid,
    )
    return [tuple(r) for r in records]


async def rolled(pool: asyncpg.Pool, cid: str) -> list[tuple[Any, ...]]:
    rows = await rollups.list_rollups(
        pool, cid, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    return [
        (r["evse_id"], r["connector_id"], r["hour"], r["energy_wh"], r["max_power_w"],
         r["session_count"])
        for r in rows
    ]  # fmt: skip


async def test_rollups_equal_a_recomputation_from_the_raw_samples(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    """Sessions over real sockets, sets arriving late and out of order across hours and
    across rollup runs: the incremental rollups equal the recomputation each time."""
    cp = await fleet.open(OCPP16)
    tag = await register_token(allow_concurrent=True)
    pks = []
    for connector in (1, 2):
        start = {"connectorId": connector, "idTag": tag, "meterStart": 0, "timestamp": at(0)}
        pks.append((await cp.client.result("StartTransaction", start))["transactionId"])

    async def send(connector: int, minute: float, wh: int, kw: str) -> None:
        sampled = [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": kw, "measurand": "Power.Active.Import", "unit": "kW"},
        ]
        payload = {
            "connectorId": connector,
            "transactionId": pks[connector - 1],
            "meterValue": [{"timestamp": at(minute), "sampledValue": sampled}],
        }
        await cp.client.result("MeterValues", payload)

    plan = [(1, 1, 100, "7.2"), (1, 30, 900, "11"), (2, 5, 50, "3.6"), (1, 70, 2000, "6"),
            (2, 65, 400, "22")]  # fmt: skip
    for connector, minute, wh, kw in plan:
        await send(connector, minute, wh, kw)
    await rollups.update(pool, lag=timedelta(0))
    expected = await recomputed(pool, cp.charge_point_id)
    assert len(expected) == 4  # 2 connectors x 2 hours
    assert await rolled(pool, cp.charge_point_id) == expected

    # late and out of order: an earlier reading of the first hour, a new highest power, the
    # same set again, and a reading of an hour with nothing yet
    late = [(1, 0.5, 40, "1"), (2, 10, 60, "50"), (1, 30, 900, "11"), (2, 185, 900, "7")]
    for connector, minute, wh, kw in late:
        await send(connector, minute, wh, kw)
    await rollups.update(pool, lag=timedelta(0))
    await rollups.update(pool, lag=timedelta(0))  # nothing new: nothing changes
    expected = await recomputed(pool, cp.charge_point_id)
    assert len(expected) == 5
    assert await rolled(pool, cp.charge_point_id) == expected
    assert expected[0][3:] == (860, 11000, 1)  # connector 1, first hour: 940 - 40 Wh


async def test_a_set_reads_back_value_by_value_exactly(
    pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    """Free text (a 2.0.1 unit, a raw value) with quotes, backslashes, commas and braces,
    values kept as text, signed data, and a value twice in one set (the first counts)."""
    cid = (await register_charger()).charge_point_id
    meters = PostgresMeters(pool, max_rows=500, max_delay=0.001)
    when = datetime(2024, 2, 6, tzinfo=UTC)
    odd = 'k"W\\h,{x} NULL'
    given = [
        MeterSample(when, "Energy.Active.Import.Register", "", "Outlet", "Sample.Clock", odd,
                    Decimal("1E+3"), None),
        MeterSample(when, "Voltage", "L1-N", "Outlet", "Sample.Clock", "V", None, 'n/a "x", {}'),
        MeterSample(when, "Power.Active.Import", "", "EV", "Sample.Clock", "W", None, None,
                    {"signedMeterData": "abc", "encodingMethod": "OCMF"}),
        MeterSample(when, "Voltage", "L1-N", "Outlet", "Sample.Clock", "V", Decimal(5), None),
    ]  # fmt: skip
    await meters.add_samples(cid, 2, 3, None, given)
    rows = await pool.fetch(
        """SELECT evse_id, connector_id, measurand, phase, location, context, unit, value,
                  raw_value, signed
           FROM meter_values WHERE charge_point_id = $1 ORDER BY measurand""",
        cid,
    )
    assert [tuple(r) for r in rows] == [
        (2, 3, "Energy.Active.Import.Register", "", "Outlet", "Sample.Clock", odd, 1000, None,
         None),
        (2, 3, "Power.Active.Import", "", "EV", "Sample.Clock", "W", None, None,
         {"signedMeterData": "abc", "encodingMethod": "OCMF"}),
        (2, 3, "Voltage", "L1-N", "Outlet", "Sample.Clock", "V", None, 'n/a "x", {}', None),
    ]  # fmt: skip
    assert (
        await pool.fetchval("SELECT count(*) FROM meter_samples WHERE charge_point_id = $1", cid)
        == 1
    )
