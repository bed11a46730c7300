"""Sessions stay true when chargers misbehave (docs/topics/sessions.md), over real sockets
on both versions: a refused session does not lock its token; abandoned sessions are closed
by the documented rules with the reason recorded and the energy from the last reading; a
late stop still wins, once.

1.6: sections 5.19 (a refused start is still recorded), 4.8 (StopTransaction); 2.0.1: E04
(offline start), E05 (ConcurrentTx), E06 (Ended), E14 (GetTransactionStatus).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from ocpp_client import (
    CALL,
    CALLRESULT,
    OCPP16,
    OCPP201,
    Connected,
    Fleet,
    OcppClient,
    RegisterCharger,
    RegisterToken,
    eventually,
    ocpp_connect,
    own_node,
    ws_url,
)

from csms.domain.clock import format_timestamp, parse_timestamp
from csms.node.server import Node
from csms.store import transactions as tx_store

pytestmark = pytest.mark.integration

T0 = parse_timestamp("2026-03-01T10:00:00Z")


def at(minutes: float) -> str:
    return format_timestamp(T0 + timedelta(minutes=minutes))


@pytest.fixture
async def fleet(url: str, register_charger: RegisterCharger) -> AsyncIterator[Fleet]:
    async with contextlib.AsyncExitStack() as stack:
        yield Fleet(url, register_charger, stack)


# -- 1.6 frames -------------------------------------------------------------------------------


async def start_16(
    client: OcppClient, tag: str, connector: int, minute: float, wh: int
) -> tuple[str, str]:
    payload = {"connectorId": connector, "idTag": tag, "meterStart": wh, "timestamp": at(minute)}
    result = await client.result("StartTransaction", payload)
    return str(result["transactionId"]), result["idTagInfo"]["status"]


async def meter_16(client: OcppClient, tx: str, connector: int, minute: float, wh: int) -> None:
    sampled = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    await client.result(
        "MeterValues",
        {
            "connectorId": connector,
            "transactionId": int(tx),
            "meterValue": [{"timestamp": at(minute), "sampledValue": sampled}],
        },
    )


async def stop_16(client: OcppClient, tx: str, minute: float, wh: int) -> Any:
    payload = {"transactionId": int(tx), "meterStop": wh, "timestamp": at(minute)}
    return await client.result("StopTransaction", payload)


async def status_16(client: OcppClient, connector: int, status: str, minute: float) -> None:
    payload = {
        "connectorId": connector,
        "errorCode": "NoError",
        "status": status,
        "timestamp": at(minute),
    }
    await client.result("StatusNotification", payload)


# -- 2.0.1 frames -----------------------------------------------------------------------------


def event_201(
    kind: str, seq: int, tx: str, minute: float, *, trigger: str = "CablePluggedIn", **fields: Any
) -> dict[str, Any]:
    info = {"transactionId": tx, **fields.pop("info", {})}
    return {
        "eventType": kind,
        "timestamp": at(minute),
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": info,
        **fields,
    }


def energy_201(wh: int, minute: float, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
    sampled = {"value": wh, "context": context, "unitOfMeasure": {"unit": "Wh"}}
    return [{"timestamp": at(minute), "sampledValue": [sampled]}]


def token_201(tag: str) -> dict[str, str]:
    return {"idToken": tag, "type": "ISO14443"}


EVSE1 = {"id": 1, "connectorId": 1}


async def session(pool: asyncpg.Pool, cp: Connected, transaction_id: str) -> tx_store.Transaction:
    found = await tx_store.get(pool, cp.charge_point_id, transaction_id)
    assert found is not None
    return found


# -- a refused session does not lock the token ---------------------------------------------


async def test_1_6_a_refused_session_does_not_lock_the_token(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token(allow_concurrent=False)
    first, second, third = [await fleet.open(OCPP16) for _ in range(3)]
    accepted, status = await start_16(first.client, tag, 1, 0, 0)
    assert status == "Accepted"
    refused, status = await start_16(second.client, tag, 1, 1, 0)
    assert status == "ConcurrentTx"  # 1.6 4.8: refused, still recorded (5.19)
    assert (await session(pool, second, refused)).active
    await stop_16(first.client, accepted, 10, 500)
    # the only accepted session ended: the refused one (never stopped) does not count
    _, status = await start_16(third.client, tag, 1, 11, 0)
    assert status == "Accepted"
    await stop_16(second.client, refused, 12, 100)
    assert "unauthorized" in (await session(pool, second, refused)).flags


async def test_2_0_1_a_refused_session_does_not_lock_the_token(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token(allow_concurrent=False)
    first, second, third = [await fleet.open(OCPP201) for _ in range(3)]
    started = event_201("Started", 0, "tx-1", 0, trigger="Authorized", idToken=token_201(tag))
    assert (await first.client.result("TransactionEvent", started))["idTokenInfo"]["status"] == (
        "Accepted"
    )
    again = event_201("Started", 0, "tx-2", 1, trigger="Authorized", idToken=token_201(tag))
    answer = await second.client.result("TransactionEvent", again)
    assert answer["idTokenInfo"]["status"] == "ConcurrentTx"  # E05: recorded all the same
    await first.client.result("TransactionEvent", event_201("Ended", 1, "tx-1", 10))
    third_start = event_201("Started", 0, "tx-3", 11, trigger="Authorized", idToken=token_201(tag))
    answer = await third.client.result("TransactionEvent", third_start)
    assert answer["idTokenInfo"]["status"] == "Accepted"
    await second.client.result("TransactionEvent", event_201("Ended", 1, "tx-2", 12))
    assert "unauthorized" in (await session(pool, second, "tx-2")).flags


# -- superseded, and the late stop that wins once ---------------------------------------------


async def test_1_6_a_new_start_on_the_connector_closes_the_abandoned_one(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token(allow_concurrent=True)
    cp = await fleet.open(OCPP16)
    old, _ = await start_16(cp.client, tag, 1, 0, 1000)
    await meter_16(cp.client, old, 1, 5, 1500)
    other, _ = await start_16(cp.client, tag, 2, 6, 0)  # another connector: untouched
    new, _ = await start_16(cp.client, tag, 1, 30, 2000)
    closed = await session(pool, cp, old)
    assert (closed.closed_by, closed.close_reason) == ("csms", "superseded")
    assert closed.ended_at == T0 + timedelta(minutes=5)  # its last known activity
    assert (closed.meter_stop_wh, closed.energy_wh) == (Decimal(1500), Decimal(500))
    assert "meter_stop_estimated" in closed.flags
    assert (await session(pool, cp, other)).active and (await session(pool, cp, new)).active

    # the charger's own stop arrives late: it has the true reading and wins, once
    await stop_16(cp.client, old, 8, 1800)
    stopped = await session(pool, cp, old)
    assert (stopped.closed_by, stopped.close_reason) == ("charger", "superseded")
    assert (stopped.ended_at, stopped.energy_wh) == (T0 + timedelta(minutes=8), Decimal(800))
    assert "meter_stop_estimated" not in stopped.flags and stopped.stop_reason == "Local"
    await stop_16(cp.client, old, 9, 9999)  # a replay of a stop changes nothing
    assert await session(pool, cp, old) == stopped


async def test_2_0_1_a_new_start_on_the_evse_closes_the_abandoned_one(
    fleet: Fleet, pool: asyncpg.Pool
) -> None:
    cp = await fleet.open(OCPP201)
    begin = energy_201(1000, 0, "Transaction.Begin")
    await cp.client.result(
        "TransactionEvent", event_201("Started", 0, "tx-a", 0, evse=EVSE1, meterValue=begin)
    )
    await cp.client.result(
        "TransactionEvent",
        event_201(
            "Updated", 1, "tx-a", 5, trigger="MeterValuePeriodic", meterValue=energy_201(1400, 5)
        ),
    )
    await cp.client.result("TransactionEvent", event_201("Started", 0, "tx-b", 20, evse=EVSE1))
    closed = await session(pool, cp, "tx-a")
    assert (closed.closed_by, closed.close_reason, closed.energy_wh) == (
        "csms",
        "superseded",
        Decimal(400),
    )
    # E06: the Ended it had queued arrives, later: the true end replaces the estimate
    end = energy_201(1700, 7, "Transaction.End")
    await cp.client.result("TransactionEvent", event_201("Ended", 2, "tx-a", 7, meterValue=end))
    ended = await session(pool, cp, "tx-a")
    assert (ended.closed_by, ended.energy_wh) == ("charger", Decimal(700))
    assert (await session(pool, cp, "tx-b")).active


# -- the connector reports Available --------------------------------------------------------


async def test_1_6_available_with_no_activity_since_closes_the_session(
    fleet: Fleet, pool: asyncpg.Pool, register_token: RegisterToken
) -> None:
    tag = await register_token()
    cp = await fleet.open(OCPP16)
    tx, _ = await start_16(cp.client, tag, 2, 0, 100)
    await meter_16(cp.client, tx, 2, 10, 900)
    await status_16(cp.client, 2, "Available", 9)  # before its last activity: keep it
    assert (await session(pool, cp, tx)).active
    await status_16(cp.client, 1, "Available", 15)  # another connector: keep it
    assert (await session(pool, cp, tx)).active
    await status_16(cp.client, 2, "Available", 15)
    closed = await session(pool, cp, tx)
    assert (closed.close_reason, closed.ended_at, closed.energy_wh) == (
        "connector_available",
        T0 + timedelta(minutes=10),
        Decimal(800),
    )


async def test_2_0_1_available_closes_a_session_but_not_one_waiting_for_its_ev(
    fleet: Fleet, pool: asyncpg.Pool
) -> None:
    cp = await fleet.open(OCPP201)
    waiting = event_201(
        "Started", 0, "tx-wait", 0, trigger="Authorized", evse={"id": 2, "connectorId": 1},
        info={"chargingState": "Idle"},
    )  # fmt: skip
    await cp.client.result("TransactionEvent", waiting)
    charging = event_201(
        "Started", 0, "tx-charge", 0, evse=EVSE1, info={"chargingState": "Charging"}
    )
    await cp.client.result("TransactionEvent", charging)
    for evse in (1, 2):
        status = {
            "timestamp": at(5),
            "connectorStatus": "Available",
            "evseId": evse,
            "connectorId": 1,
        }
        await cp.client.result("StatusNotification", status)
    assert (await session(pool, cp, "tx-wait")).active  # authorized, EV not yet connected
    assert (await session(pool, cp, "tx-charge")).close_reason == "connector_available"


# -- after a reboot ------------------------------------------------------------------------------


@pytest.mark.parametrize("subprotocol", [OCPP16, OCPP201])
async def test_a_session_its_charger_never_ended_after_a_reboot_is_closed(
    database_url: str,
    pool: asyncpg.Pool,
    register_charger: RegisterCharger,
    register_token: RegisterToken,
    subprotocol: str,
) -> None:
    """The node's sweep closes it once the grace after the boot has passed with nothing
    heard about it; a session the charger ended after the boot (its queued stop) stays as
    the charger said."""
    tag = await register_token(allow_concurrent=True)
    charger = await register_charger()
    async with (
        own_node(database_url, presence_sweep_interval=0.1, session_reboot_grace=0.3) as node,
        ocpp_connect(
            ws_url(node),
            charger.charge_point_id,
            password=charger.password,
            subprotocols=[subprotocol],
        ) as client,
    ):
        cp = Connected(charger.charge_point_id, client)
        boot = {"chargePointVendor": "A", "chargePointModel": "M"} if subprotocol == OCPP16 else {
            "reason": "PowerUp", "chargingStation": {"vendorName": "A", "model": "M"}
        }  # fmt: skip
        await client.result("BootNotification", boot)
        if subprotocol == OCPP16:
            lost, _ = await start_16(client, tag, 1, 0, 0)
            queued, _ = await start_16(client, tag, 2, 0, 0)
        else:
            lost, queued = "tx-lost", "tx-queued"
            for tx, evse in ((lost, 1), (queued, 2)):
                started = event_201("Started", 0, tx, 0, evse={"id": evse, "connectorId": 1})
                await client.result("TransactionEvent", started)
        await client.result("BootNotification", boot)  # rebooted
        if subprotocol == OCPP16:  # it delivers the stop it had queued
            await stop_16(client, queued, 1, 300)
        else:  # asked about both (E14): it has messages queued, and delivers them
            queued_answer = {"ongoingIndicator": False, "messagesInQueue": True}
            for _ in range(2):
                await answer_next_call(client, "GetTransactionStatus", queued_answer)
            await client.result("TransactionEvent", event_201("Ended", 1, queued, 1))

        async def closed() -> tx_store.Transaction | None:
            found = await session(pool, cp, lost)
            return None if found.active else found

        ended = await eventually(closed)
        assert (ended.closed_by, ended.close_reason) == ("csms", "rebooted")
        assert (await session(pool, cp, queued)).closed_by == "charger"


# -- 2.0.1: asked on reconnect -------------------------------------------------------------------


async def answer_next_call(client: OcppClient, action: str, payload: dict[str, Any]) -> Any:
    """Read the node's next CALL, check its action, answer it; return its payload."""
    frame = await client.recv()
    assert (frame[0], frame[2]) == (CALL, action), frame
    await client.send_only(json.dumps([CALLRESULT, frame[1], payload]))
    return frame[3]


async def test_2_0_1_on_reconnect_the_charger_is_asked_about_open_sessions(
    node: Node, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    """E14: not ongoing and nothing queued -> closed (not_ongoing); messages queued -> left
    for the charger to deliver; ongoing -> TriggerMessage(TransactionEvent) for its EVSE."""
    charger = await register_charger()
    url, cp_id, password = ws_url(node), charger.charge_point_id, charger.password
    async with ocpp_connect(url, cp_id, password=password, subprotocols=[OCPP201]) as client:
        await client.result(
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"vendorName": "A", "model": "M"}},
        )
        for tx, evse in (("tx-gone", 1), ("tx-queued", 2), ("tx-on", 3)):
            started = event_201("Started", 0, tx, 0, evse={"id": evse, "connectorId": 1})
            await client.result("TransactionEvent", started)
    cp = Connected(cp_id, client)
    async with ocpp_connect(url, cp_id, password=password, subprotocols=[OCPP201]) as client:
        asked = await answer_next_call(
            client, "GetTransactionStatus", {"ongoingIndicator": False, "messagesInQueue": False}
        )
        assert asked == {"transactionId": "tx-gone"}
        asked = await answer_next_call(
            client, "GetTransactionStatus", {"ongoingIndicator": False, "messagesInQueue": True}
        )
        assert asked == {"transactionId": "tx-queued"}
        asked = await answer_next_call(
            client, "GetTransactionStatus", {"ongoingIndicator": True, "messagesInQueue": False}
        )
        assert asked == {"transactionId": "tx-on"}
        trigger = await answer_next_call(client, "TriggerMessage", {"status": "Accepted"})
        assert trigger == {"requestedMessage": "TransactionEvent", "evse": {"id": 3}}
        assert (await session(pool, cp, "tx-gone")).close_reason == "not_ongoing"
        assert (await session(pool, cp, "tx-queued")).active
        assert (await session(pool, cp, "tx-on")).active
