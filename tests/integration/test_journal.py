"""The OCPP message journal: every frame in and out lands in charger_messages.

The node writes the journal in the background (batched, nobody awaits it), so the tests poll
the table with a bound derived from TIMEOUT.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from ocpp_client import OCPP16, OCPP201, RegisterCharger, boot_payload, eventually, ocpp_connect
from timeouts import TIMEOUT

from csms.node.server import Node
from csms.store import journal

pytestmark = pytest.mark.integration

BOTH = pytest.mark.parametrize("subprotocol", [OCPP16, OCPP201])


async def journal_of(pool: asyncpg.Pool, charge_point_id: str, count: int) -> list[dict[str, Any]]:
    """The charger's journal once it holds at least ``count`` frames."""

    async def enough() -> list[dict[str, Any]] | None:
        rows = await journal.list_messages(pool, charge_point_id, limit=1000)
        return rows if len(rows) >= count else None

    rows: list[dict[str, Any]] = await eventually(enough)
    return rows


def frames(rows: list[dict[str, Any]]) -> list[tuple[str, int, str, str | None]]:
    return [(r["direction"], r["message_type"], r["message_id"], r["action"]) for r in rows]


@BOTH
async def test_call_and_result_are_journaled(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    charger = await register_charger()
    cid = charger.charge_point_id
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        boot = boot_payload(subprotocol)
        booted = await client.result("BootNotification", boot, message_id="b-1")
        beat = await client.result("Heartbeat", {}, message_id="h-1")
    rows = await journal_of(pool, cid, 4)
    assert frames(rows) == [
        ("in", 2, "b-1", "BootNotification"),
        ("out", 3, "b-1", "BootNotification"),
        ("in", 2, "h-1", "Heartbeat"),
        ("out", 3, "h-1", "Heartbeat"),
    ]
    assert [r["payload"] for r in rows] == [boot, booted, {}, beat]
    assert all(r["at"] is not None for r in rows)
    assert rows[0]["at"] <= rows[1]["at"] <= rows[2]["at"] <= rows[3]["at"]


@BOTH
async def test_frames_are_journaled_exactly_as_sent_and_received(
    url: str, node: Node, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    """Every frame, either way, is in the journal as the text that crossed the socket: the
    charger's own spacing, key order and escapes (a NUL included), and the CSMS's answers
    and calls as sent."""
    charger = await register_charger()
    cid = charger.charge_point_id
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        ws = client.websocket
        exchanged: list[tuple[str, str]] = []

        async def send(text: str, answered: bool = True) -> None:
            await asyncio.wait_for(ws.send(text), TIMEOUT)
            exchanged.append(("in", text))
            if answered:
                reply = await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert isinstance(reply, str)
                exchanged.append(("out", reply))

        boot = json.dumps(boot_payload(subprotocol), indent=1, sort_keys=True)
        await send(f'[ 2,\n "b-1" , "BootNotification",{boot} ]')
        await send('[2,"h-1","Heartbeat",{}]')
        await send('[2, "d-1", "DataTransfer", {"vendorId": "acm\\u00e9", "data": "é \\"q\\" ☃"}]')
        await send('[2, "d-2", "DataTransfer", {"vendorId": "acme", "data": "a\\u0000b"}]')
        calling = asyncio.ensure_future(
            node.connections[cid].call("TriggerMessage", {"requestedMessage": "Heartbeat"}, TIMEOUT)
        )
        call = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert isinstance(call, str)
        exchanged.append(("out", call))
        await send(f'[3, {json.dumps(json.loads(call)[1])}, {{ "status" : "Accepted" }}]', False)
        assert await asyncio.wait_for(calling, TIMEOUT) == {"status": "Accepted"}
        await send('[4,"nothing","NotSupported","",{}]', answered=False)
        await send('[2, "g-1", "Heartbeat", {', answered=True)  # not JSON: raw
    rows = await journal_of(pool, cid, len(exchanged))
    assert [(r["direction"], r["frame"]) for r in rows] == exchanged
    assert rows[4]["payload"] == {"vendorId": "acmé", "data": 'é "q" ☃'}
    assert rows[7]["message_type"] == 4  # the NUL refused: PropertyConstraintViolation
    stored = await pool.fetch(
        "SELECT frame, payload FROM charger_messages WHERE charge_point_id = $1", cid
    )
    assert all(r["payload"] is None for r in stored)  # the text only, no jsonb besides


@BOTH
async def test_call_errors_are_journaled_with_their_code(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    charger = await register_charger()
    cid = charger.charge_point_id
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        reply = await client.call("Heartbeat", {}, message_id="early")  # before boot
    assert reply[2] == "SecurityError"
    rows = await journal_of(pool, cid, 2)
    assert frames(rows) == [("in", 2, "early", "Heartbeat"), ("out", 4, "early", "Heartbeat")]
    assert rows[1]["payload"] == {
        "errorCode": "SecurityError",
        "errorDescription": reply[3],
        "errorDetails": reply[4],
    }


@BOTH
async def test_unparseable_frame_is_journaled_raw(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    charger = await register_charger()
    cid = charger.charge_point_id
    garbage = '[2, "g-1", "Heartbeat", {'
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        reply = await client.send_raw(garbage)
    rows = await journal_of(pool, cid, 2)
    assert frames(rows) == [("in", 0, "-1", None), ("out", 4, "-1", None)]
    assert rows[0]["payload"] == {"raw": garbage}
    assert rows[1]["payload"]["errorCode"] == reply[2]


@BOTH
async def test_replies_to_nothing_are_journaled_in(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger, subprotocol: str
) -> None:
    charger = await register_charger()
    cid = charger.charge_point_id
    async with ocpp_connect(
        url, cid, password=charger.password, subprotocols=[subprotocol]
    ) as client:
        await client.send_only('[3, "r-1", {"status": "Accepted"}]')
        await client.send_only('[4, "r-2", "NotSupported", "no", {"a": 1}]')
        await client.call("Heartbeat", {}, message_id="h-1")
    rows = await journal_of(pool, cid, 4)
    assert frames(rows)[:2] == [("in", 3, "r-1", None), ("in", 4, "r-2", None)]
    assert rows[0]["payload"] == {"status": "Accepted"}
    assert rows[1]["payload"] == {
        "errorCode": "NotSupported",
        "errorDescription": "no",
        "errorDetails": {"a": 1},
    }


async def test_long_raw_frame_is_truncated_in_the_journal(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    cid = charger.charge_point_id
    garbage = "x" * 10_000
    async with ocpp_connect(url, cid, password=charger.password) as client:
        await client.send_raw(garbage)
    rows = await journal_of(pool, cid, 2)
    raw = rows[0]["payload"]["raw"]
    assert garbage.startswith(raw) and 0 < len(raw) < len(garbage)


async def test_journals_are_kept_per_charger(
    url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    first, second = await register_charger(), await register_charger()
    async with (
        ocpp_connect(url, first.charge_point_id, password=first.password) as a,
        ocpp_connect(url, second.charge_point_id, password=second.password) as b,
    ):
        await a.call("Heartbeat", {}, message_id="from-a")
        await b.call("Heartbeat", {}, message_id="from-b")
    rows_a = await journal_of(pool, first.charge_point_id, 2)
    rows_b = await journal_of(pool, second.charge_point_id, 2)
    assert {r["message_id"] for r in rows_a} == {"from-a"}
    assert {r["message_id"] for r in rows_b} == {"from-b"}
