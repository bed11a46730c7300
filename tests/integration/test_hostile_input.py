"""One charger can never hurt another (issue 11's defects, each as a regression, on both
versions over a real socket): out-of-range integers, dates nobody can hold, implausible
numbers, frames nested too deep, NULs deep inside; each answered with the OCPP-J error code
naming the field (or accepted and stored where it has a meaning), never InternalError, never
a traceback, and the connection goes on.

OCPP-J 1.6 section 4.2.3, 2.0.1 part 4 section 4.3 (error codes); 2.0.1 part 2 section 2.1.4
(integer is a 32-bit signed integer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from ocpp_client import (
    CALLERROR,
    CALLRESULT,
    OCPP16,
    OCPP201,
    OcppClient,
    RegisterCharger,
    booted,
    eventually,
    ocpp_connect,
)

from csms.node.rpc import MAX_DEPTH

pytestmark = pytest.mark.integration

T = "2026-01-01T10:00:00Z"
HUGE = [2**31, -(2**31) - 1, 9223372036854775807, 18446744073709551615, 1e300]


@pytest.fixture(autouse=True)
def no_traceback(caplog: pytest.LogCaptureFixture) -> Any:
    """Charger input never makes the node log an error or a traceback."""
    with caplog.at_level(logging.WARNING):
        yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage() for r in bad]


async def connect(url: str, register_charger: RegisterCharger, subprotocol: str) -> Any:
    charger = await register_charger()
    return ocpp_connect(
        url, charger.charge_point_id, password=charger.password, subprotocols=[subprotocol]
    )


@pytest.fixture
async def v16(url: str, register_charger: RegisterCharger) -> AsyncIterator[OcppClient]:
    async with await connect(url, register_charger, OCPP16) as client:
        yield await booted(client)


@pytest.fixture
async def v201(url: str, register_charger: RegisterCharger) -> AsyncIterator[OcppClient]:
    async with await connect(url, register_charger, OCPP201) as client:
        yield await booted(client)


def refused(reply: list[Any], code: str, field: str | None = None) -> None:
    assert reply[0] == CALLERROR and reply[2] == code, reply
    if field is not None:
        assert reply[4]["field"] == field, reply


async def still_serving(client: OcppClient) -> None:
    assert (await client.call("Heartbeat", {}))[0] == CALLRESULT


def raw(action: str, payload_text: str) -> str:
    return f'[2,"m-raw","{action}",{payload_text}]'


# -- 1. integers out of range -----------------------------------------------------------------


@pytest.mark.parametrize("value", HUGE)
async def test_1_6_connector_id_out_of_range_is_a_property_violation(
    v16: OcppClient, value: float
) -> None:
    # 1.6 schemas are JSON Schema draft 4: a float is no integer there (type); 2**31 is out
    # of range (property)
    code = "TypeConstraintViolation" if isinstance(value, float) else "PropertyConstraintViolation"
    meter = {
        "connectorId": value,
        "meterValue": [{"timestamp": T, "sampledValue": [{"value": "1"}]}],
    }
    refused(await v16.call("MeterValues", meter), code, "data.connectorId")
    status = {"connectorId": value, "errorCode": "NoError", "status": "Available"}
    refused(await v16.call("StatusNotification", status), code)
    await still_serving(v16)


async def test_1_6_negative_connector_id_is_a_property_violation(v16: OcppClient) -> None:
    status = {"connectorId": -1, "errorCode": "NoError", "status": "Available"}
    refused(await v16.call("StatusNotification", status), "PropertyConstraintViolation")


@pytest.mark.parametrize("value", [*HUGE, -1])
async def test_2_0_1_ids_out_of_range_are_a_property_violation(
    v201: OcppClient, value: float
) -> None:
    status = {"timestamp": T, "connectorStatus": "Available", "evseId": value, "connectorId": 1}
    refused(
        await v201.call("StatusNotification", status), "PropertyConstraintViolation", "data.evseId"
    )
    event = {
        "eventType": "Started", "timestamp": T, "triggerReason": "CablePluggedIn", "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-h"}, "evse": {"id": value},
    }  # fmt: skip
    refused(
        await v201.call("TransactionEvent", event), "PropertyConstraintViolation", "data.evse.id"
    )
    event = {**event, "evse": {"id": 1}, "seqNo": value}
    refused(await v201.call("TransactionEvent", event), "PropertyConstraintViolation", "data.seqNo")
    await still_serving(v201)


@pytest.mark.parametrize("value", [2**31, 1e300, -(2**31) - 1])
async def test_2_0_1_unit_multiplier_out_of_range(v201: OcppClient, value: float) -> None:
    sampled = {"value": 1, "unitOfMeasure": {"unit": "Wh", "multiplier": value}}
    meter = {"evseId": 1, "meterValue": [{"timestamp": T, "sampledValue": [sampled]}]}
    reply = await v201.call("MeterValues", meter)
    refused(
        reply,
        "PropertyConstraintViolation",
        "data.meterValue[0].sampledValue[0].unitOfMeasure.multiplier",
    )


async def test_2_0_1_integers_written_as_decimals_are_stored_as_integers(
    v201: OcppClient, pool: asyncpg.Pool
) -> None:
    """JSON Schema draft 6 (2.0.1) counts 1.0 as an integer: accepted, stored as 1."""
    status = '{"timestamp":"' + T + '","connectorStatus":"Faulted","evseId":2.0,"connectorId":-0.0}'
    reply = await v201.send_raw(raw("StatusNotification", status))
    assert reply[0] == CALLRESULT, reply
    event = (
        '{"eventType":"Started","timestamp":"' + T + '","triggerReason":"CablePluggedIn",'
        '"seqNo":3.0,"transactionInfo":{"transactionId":"tx-float"},'
        '"evse":{"id":1.0,"connectorId":1.0}}'
    )
    assert (await v201.send_raw(raw("TransactionEvent", event)))[0] == CALLRESULT
    row = await pool.fetchrow(
        "SELECT evse_id, connector_id, last_seq_no FROM transactions WHERE transaction_id = $1",
        "tx-float",
    )
    assert row is not None and tuple(row) == (1, 1, 3)


# -- 2. dates and numbers nobody can hold -------------------------------------------------------

DATES = ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"]


@pytest.mark.parametrize("when", DATES)
async def test_dates_outside_what_can_be_held_are_a_property_violation(
    v16: OcppClient, v201: OcppClient, when: str
) -> None:
    status16 = {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": when}
    refused(
        await v16.call("StatusNotification", status16),
        "PropertyConstraintViolation",
        "data.timestamp",
    )
    status = {"timestamp": when, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    refused(
        await v201.call("StatusNotification", status),
        "PropertyConstraintViolation",
        "data.timestamp",
    )
    await still_serving(v16)
    await still_serving(v201)


async def test_an_implausible_sampled_value_is_kept_as_text(
    v16: OcppClient, pool: asyncpg.Pool
) -> None:
    sampled = [{"value": "-1e999999", "measurand": "Voltage", "unit": "V"}]
    meter = {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": sampled}]}
    assert (await v16.call("MeterValues", meter))[0] == CALLRESULT
    row = await pool.fetchrow(
        "SELECT value, raw_value FROM meter_values WHERE raw_value = '-1e999999'"
    )
    assert row is not None and row["value"] is None


async def test_a_huge_multiplier_keeps_the_value_as_text(
    v201: OcppClient, pool: asyncpg.Pool
) -> None:
    sampled = {
        "value": 7,
        "measurand": "Voltage",
        "unitOfMeasure": {"unit": "V", "multiplier": 2**31 - 1},
    }
    meter = {"evseId": 3, "meterValue": [{"timestamp": T, "sampledValue": [sampled]}]}
    assert (await v201.call("MeterValues", meter))[0] == CALLRESULT
    values = await pool.fetch(
        "SELECT value, raw_value FROM meter_values WHERE evse_id = 3 AND measurand = 'Voltage'"
    )
    assert [tuple(v) for v in values][-1] == (None, "7")


# -- 3./4. nesting and NULs ----------------------------------------------------------------------


def nested(depth: int, leaf: str = '"x"') -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH, 254, 400, 1000])
async def test_frames_nested_too_deep_are_refused_before_anything_stores_them(
    v16: OcppClient, v201: OcppClient, depth: int
) -> None:
    for client, code in ((v16, "FormationViolation"), (v201, "FormatViolation")):
        data = nested(depth, '"a\\u0000b"')
        reply = await client.send_raw(raw("DataTransfer", '{"vendorId":"x","data":' + data + "}"))
        refused(reply, code)
        customdata = '{"customData":{"vendorId":"v","deep":' + nested(depth) + "}}"
        if client is v201:
            refused(await client.send_raw(raw("Heartbeat", customdata)), code)
        await still_serving(client)


async def test_nesting_within_the_limit_is_stored(v201: OcppClient, pool: asyncpg.Pool) -> None:
    depth = MAX_DEPTH - 5  # the frame and the payload add their own levels
    payload = '{"vendorId":"deep-ok","data":' + nested(depth) + "}"
    reply = await v201.send_raw(raw("DataTransfer", payload))
    assert reply[0] == CALLRESULT, reply
    stored = await pool.fetchval(
        "SELECT payload FROM charger_events WHERE action = 'DataTransfer' AND kind = 'deep-ok'"
    )
    assert stored is not None


# -- 5./6. cross-talk: the well-behaved charger loses nothing ----------------------------------


async def test_a_hostile_charger_never_fails_a_well_behaved_one(
    url: str, register_charger: RegisterCharger, pool: asyncpg.Pool
) -> None:
    """Charger G's MeterValues at the same moment as charger P's hostile frames (deep,
    NULs, huge numbers, impossible dates): G is answered CALLRESULT every time, and every
    frame of G's is in the journal."""
    hostile = [
        raw("DataTransfer", '{"vendorId":"x","data":' + nested(300) + "}"),
        raw("DataTransfer", '{"vendorId":"x","data":' + nested(60, '"\\u0000"') + "}"),
        raw("MeterValues", '{"connectorId":18446744073709551615,"meterValue":[]}'),
        raw(
            "StatusNotification",
            '{"connectorId":1,"errorCode":"NoError","status":"Available",'
            '"timestamp":"0000-01-01T00:00:00Z"}',
        ),
        raw(
            "MeterValues",
            '{"connectorId":1,"meterValue":[{"timestamp":"' + T + '",'
            '"sampledValue":[{"value":"-1e999999"}]}]}',
        ),
    ]  # fmt: skip
    p, g = await register_charger(), await register_charger()
    async with (
        ocpp_connect(url, p.charge_point_id, password=p.password, subprotocols=[OCPP16]) as p_conn,
        ocpp_connect(url, g.charge_point_id, password=g.password, subprotocols=[OCPP16]) as g_conn,
    ):
        bad, good = await booted(p_conn), await booted(g_conn)

        async def attack() -> None:
            for _ in range(10):
                for frame in hostile:
                    reply = await bad.send_raw(frame)
                    assert reply[0] in (CALLRESULT, CALLERROR) and reply[2] != "InternalError"

        async def behave() -> list[Any]:
            replies = []
            for i in range(50):
                sampled = [{"value": str(1000 + i), "unit": "Wh"}]
                at = f"2026-01-01T10:{i:02d}:00Z"
                meter = {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": at, "sampledValue": sampled}],
                }
                replies.append(await good.call("MeterValues", meter))
            return replies

        _, replies = await asyncio.gather(attack(), behave())
        assert [r[0] for r in replies] == [CALLRESULT] * 50

        async def journaled() -> int | None:
            count = await pool.fetchval(
                "SELECT count(*) FROM charger_messages WHERE charge_point_id = $1",
                g.charge_point_id,
            )
            # boot (2 frames) + 50 MeterValues (2 frames each): every frame of G's is kept
            return count if count >= 102 else None

        assert await eventually(journaled) == 102
        values = await pool.fetchval(
            "SELECT count(*) FROM meter_values WHERE charge_point_id = $1", g.charge_point_id
        )
        assert values == 50
