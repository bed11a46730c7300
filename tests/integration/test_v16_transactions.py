"""OCPP 1.6 charging sessions end to end: Start/MeterValues/Stop persisted, idempotent under
replay, never applied to another charger's session (1.6 sections 4.8, 4.7, 4.10, 5.19; the
transaction-related messages are delivered at least once, section 4.10 / 3.3)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from ocpp_client import CALLRESULT, Fleet, OcppClient, RegisterCharger, RegisterToken

from csms.domain.clock import format_timestamp
from csms.store import transactions as tx_store

pytestmark = pytest.mark.integration

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return format_timestamp(T0 + timedelta(minutes=minutes))


@pytest.fixture
async def fleet(url: str, register_charger: RegisterCharger) -> AsyncIterator[Fleet]:
    async with contextlib.AsyncExitStack() as stack:
        yield Fleet(url, register_charger, stack)


def start_req(id_tag: str, *, meter_start: int = 1000, minute: float = 0) -> dict[str, Any]:
    return {"connectorId": 1, "idTag": id_tag, "meterStart": meter_start, "timestamp": at(minute)}


def stop_req(transaction_id: int, **fields: Any) -> dict[str, Any]:
    return {"transactionId": transaction_id, "meterStop": 9000, "timestamp": at(60), **fields}


def meter_req(transaction_id: int | None, minute: float, wh: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": at(minute),
                "sampledValue": [
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                        "context": "Sample.Periodic",
                        "location": "Outlet",
                    },
                    {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "15.9", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
                ],
            }
        ],
    }
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


async def start(client: OcppClient, id_tag: str, **kwargs: Any) -> tuple[int, str]:
    result = await client.result("StartTransaction", start_req(id_tag, **kwargs))
    transaction_id = result["transactionId"]
    assert type(transaction_id) is int and 0 < transaction_id < 2**31
    return transaction_id, result["idTagInfo"]["status"]


async def transaction(pool: asyncpg.Pool, cid: str, transaction_id: int) -> tx_store.Transaction:
    found = await tx_store.get(pool, cid, str(transaction_id))
    assert found is not None
    return found


async def count(pool: asyncpg.Pool, table: str, cid: str) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table} WHERE charge_point_id = $1", cid))


async def test_full_session_is_persisted(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token()
    cp = await fleet.open()
    transaction_id, status = await start(cp.client, tag)
    assert status == "Accepted"
    started = await transaction(pool, cp.charge_point_id, transaction_id)
    assert (started.protocol, started.connector_id, started.id_token) == ("ocpp1.6", 1, tag)
    assert started.meter_start_wh == 1000 and started.started_at == T0 and started.active
    assert started.authorization_status == "Accepted"

    assert await cp.client.result("MeterValues", meter_req(transaction_id, 15, "2500")) == {}
    samples = await pool.fetch(
        """SELECT measurand, phase, unit, context, location, value, transaction_pk
           FROM meter_values WHERE charge_point_id = $1 ORDER BY measurand, phase""",
        cp.charge_point_id,
    )
    assert [tuple(r) for r in samples] == [
        ("Current.Import", "L1", "A", "Sample.Periodic", "Outlet", Decimal("16.1"), started.id),
        ("Current.Import", "L2", "A", "Sample.Periodic", "Outlet", Decimal("15.9"), started.id),
        ("Energy.Active.Import.Register", "", "Wh", "Sample.Periodic", "Outlet", 2500, started.id),
    ]

    end_data = [
        {
            "timestamp": at(60),
            "sampledValue": [{"value": "9000", "context": "Transaction.End", "unit": "Wh"}],
        }
    ]
    stop = stop_req(transaction_id, idTag=tag, reason="EVDisconnected", transactionData=end_data)
    result = await cp.client.result("StopTransaction", stop)
    assert result["idTagInfo"]["status"] == "Accepted"
    ended = await transaction(pool, cp.charge_point_id, transaction_id)
    assert ended.ended_at == T0 + timedelta(minutes=60)
    assert (ended.meter_stop_wh, ended.energy_wh, ended.flags) == (Decimal(9000), Decimal(8000), [])
    assert (ended.stop_reason, ended.stop_id_token) == ("EVDisconnected", tag)
    end_sample = await pool.fetchrow(
        "SELECT measurand, context, value FROM meter_values WHERE transaction_pk = $1 "
        "AND context = 'Transaction.End'",
        started.id,
    )
    assert end_sample is not None
    assert tuple(end_sample) == ("Energy.Active.Import.Register", "Transaction.End", 9000)


async def test_stop_without_id_tag_has_no_id_tag_info_and_defaults_reason_local(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    cp = await fleet.open()
    transaction_id, _ = await start(cp.client, await register_token())
    assert await cp.client.result("StopTransaction", stop_req(transaction_id)) == {}
    ended = await transaction(pool, cp.charge_point_id, transaction_id)
    assert ended.stop_reason == "Local" and ended.stop_id_token is None


async def test_transaction_ids_differ_between_chargers(
    fleet: Fleet, register_token: RegisterToken
) -> None:
    first, second = await fleet.open(), await fleet.open()
    tag = await register_token(allow_concurrent=True)
    ids = {
        (await start(cp.client, tag, minute=i))[0] for i, cp in enumerate([first, second, first])
    }
    assert len(ids) == 3


@pytest.mark.parametrize("same_message_id", [True, False])
async def test_replayed_start_returns_the_same_transaction(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken, same_message_id: bool
) -> None:
    tag = await register_token()
    cp = await fleet.open()
    payload = start_req(tag)
    first = await cp.client.result("StartTransaction", payload, message_id="start-1")
    replay_id = "start-1" if same_message_id else "start-2"
    again = await cp.client.result("StartTransaction", payload, message_id=replay_id)
    assert again["transactionId"] == first["transactionId"]
    # The replay is not a second session of the tag: no ConcurrentTx.
    assert again["idTagInfo"]["status"] == first["idTagInfo"]["status"] == "Accepted"
    assert await count(pool, "transactions", cp.charge_point_id) == 1


async def test_replayed_meter_values_add_no_rows(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    cp = await fleet.open()
    transaction_id, _ = await start(cp.client, await register_token())
    payload = meter_req(transaction_id, 5, "1200")
    await cp.client.result("MeterValues", payload)
    assert await count(pool, "meter_values", cp.charge_point_id) == 3
    await cp.client.result("MeterValues", payload)
    await cp.client.result("MeterValues", payload, message_id="other-id")
    assert await count(pool, "meter_values", cp.charge_point_id) == 3


async def test_meter_values_without_transaction_are_stored_unattached(
    fleet: Fleet, pool: asyncpg.Pool
) -> None:
    cp = await fleet.open()
    await cp.client.result("MeterValues", meter_req(None, 1, "100"))
    pks = await pool.fetch(
        "SELECT transaction_pk FROM meter_values WHERE charge_point_id = $1", cp.charge_point_id
    )
    assert [r[0] for r in pks] == [None, None, None]


@pytest.mark.parametrize("changed", [{}, {"meterStop": 12345, "timestamp": at(90)}])
async def test_replayed_stop_changes_nothing(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken, changed: dict[str, Any]
) -> None:
    tag = await register_token()
    cp = await fleet.open()
    transaction_id, _ = await start(cp.client, tag)
    await cp.client.result("StopTransaction", stop_req(transaction_id, idTag=tag))
    before = await transaction(pool, cp.charge_point_id, transaction_id)
    reply = await cp.client.call("StopTransaction", stop_req(transaction_id, idTag=tag, **changed))
    assert reply[0] == CALLRESULT and reply[2]["idTagInfo"]["status"] == "Accepted"
    assert await transaction(pool, cp.charge_point_id, transaction_id) == before


async def test_stop_naming_another_chargers_transaction_is_answered_not_applied(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    owner, intruder = await fleet.open(), await fleet.open()
    transaction_id, _ = await start(owner.client, await register_token())
    assert await intruder.client.result("StopTransaction", stop_req(transaction_id)) == {}
    assert (await transaction(pool, owner.charge_point_id, transaction_id)).active
    # Nor are its meter values attached to the other charger's session.
    await intruder.client.result("MeterValues", meter_req(transaction_id, 3, "999"))
    attached = await pool.fetchval(
        "SELECT count(*) FROM meter_values WHERE charge_point_id = $1 AND transaction_pk "
        "IS NOT NULL",
        intruder.charge_point_id,
    )
    assert attached == 0


async def test_stop_of_unknown_transaction_is_answered(fleet: Fleet) -> None:
    cp = await fleet.open()
    assert await cp.client.result("StopTransaction", stop_req(2**31 - 1)) == {}


async def test_meter_stop_below_start_is_flagged_and_counts_zero(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    cp = await fleet.open()
    transaction_id, _ = await start(cp.client, await register_token(), meter_start=5000)
    await cp.client.result("StopTransaction", stop_req(transaction_id, meterStop=4000))
    ended = await transaction(pool, cp.charge_point_id, transaction_id)
    assert ended.energy_wh == 0
    assert ended.meter_stop_wh == 4000
    assert ended.flags == ["meter_stop_below_start"]


@pytest.mark.parametrize(
    ("registration", "expected", "decision"),
    [
        pytest.param({"status": "Blocked"}, "Blocked", "Blocked", id="blocked"),
        pytest.param({"status": "Expired"}, "Expired", "Expired", id="expired-status"),
        pytest.param(
            {"expiry_date": T0 - timedelta(days=1)}, "Expired", "Expired", id="expired-by-date"
        ),
        # 1.6 has no Unknown: the charger is told Invalid, the session keeps the decision
        pytest.param(None, "Invalid", "Unknown", id="unknown"),
    ],
)
async def test_refused_tag_at_start_still_records_the_session(
    fleet: Fleet,
    pool: asyncpg.Pool,
    register_token: RegisterToken,
    registration: dict[str, Any] | None,
    expected: str,
    decision: str,
) -> None:
    """1.6 5.19: the charger may have started offline; it stops the session itself."""
    tag = "TAG-unknown" if registration is None else await register_token(**registration)
    cp = await fleet.open()
    transaction_id, status = await start(cp.client, tag)
    assert status == expected
    recorded = await transaction(pool, cp.charge_point_id, transaction_id)
    assert recorded.authorization_status == decision and recorded.active


async def test_concurrent_tx_when_tag_is_charging_elsewhere(
    fleet: Fleet, register_token: RegisterToken
) -> None:
    tag = await register_token(allow_concurrent=False)
    first, second = await fleet.open(), await fleet.open()
    transaction_id, status = await start(first.client, tag)
    assert status == "Accepted"
    refused_id, status = await start(second.client, tag)
    assert status == "ConcurrentTx"
    # Authorize is not a start: still Accepted (1.6 7.2, ConcurrentTx only at start).
    authorized = await second.client.result("Authorize", {"idTag": tag})
    assert authorized["idTagInfo"]["status"] == "Accepted"
    # Both sessions end (the refused one: the charger stops it, reason DeAuthorized).
    await first.client.result("StopTransaction", stop_req(transaction_id))
    await second.client.result("StopTransaction", stop_req(refused_id, reason="DeAuthorized"))
    third = await fleet.open()
    assert (await start(third.client, tag, minute=70))[1] == "Accepted"


async def test_concurrent_tx_ignores_the_case_of_the_id_tag(
    fleet: Fleet, register_token: RegisterToken
) -> None:
    """1.6 IdToken is a CiString20Type: "tag-1" and "TAG-1" are the same identifier."""
    tag = await register_token()
    first, second = await fleet.open(), await fleet.open()
    assert (await start(first.client, tag))[1] == "Accepted"
    assert (await start(second.client, tag.swapcase()))[1] == "ConcurrentTx"


async def test_allow_concurrent_tag_may_charge_twice(
    fleet: Fleet, register_token: RegisterToken
) -> None:
    tag = await register_token(allow_concurrent=True)
    first, second = await fleet.open(), await fleet.open()
    assert (await start(first.client, tag))[1] == "Accepted"
    assert (await start(second.client, tag))[1] == "Accepted"


async def test_parent_id_tag_is_returned_at_start(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token(parent_id_token="FLEET-1")
    cp = await fleet.open()
    result = await cp.client.result("StartTransaction", start_req(tag))
    assert result["idTagInfo"] == {"status": "Accepted", "parentIdTag": "FLEET-1"}
    replay = await cp.client.result("StartTransaction", start_req(tag))
    assert replay["idTagInfo"] == result["idTagInfo"]
