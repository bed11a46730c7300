"""A NUL character ("\\u0000") in a charger's strings: valid JSON, valid against the OCPP
schemas, but PostgreSQL text and jsonb cannot hold it. One such frame must neither be answered
with InternalError nor poison the batch it shares with other chargers' rows.

The nodes here batch with a delay no test lives to see, so which rows share a batch is decided
by ``write_batch_rows`` alone, not by timing.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager

import asyncpg
import pytest
from ocpp_client import CALLRESULT, RegisterCharger, booted, ocpp_connect, own_node, ws_url
from timeouts import TIMEOUT

from csms.node.server import Node
from csms.store import journal

pytestmark = pytest.mark.integration

NUL = "\u0000"
# What a charger may answer instead of a CALLRESULT: a value it sent is refused. Never an
# InternalError, which says the CSMS failed and invites the charger to resend forever.
REFUSALS = {"PropertyConstraintViolation", "FormationViolation"}


def node_batching_by_size(database_url: str, rows: int) -> AbstractAsyncContextManager[Node]:
    return own_node(database_url, write_batch_rows=rows, write_batch_delay_ms=TIMEOUT * 1000 * 100)


def meter_values(value: str, timestamp: str = "2025-06-01T08:00:00Z") -> dict[str, object]:
    sampled = {"value": value, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    return {"connectorId": 1, "meterValue": [{"timestamp": timestamp, "sampledValue": [sampled]}]}


def assert_answered_not_failed(reply: list[object]) -> None:
    assert reply[0] == CALLRESULT or reply[2] in REFUSALS, reply


async def test_nul_in_data_transfer_is_not_an_internal_error(
    url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as client:
        await booted(client)
        reply = await client.call("DataTransfer", {"vendorId": "acme", "data": f"a{NUL}b"})
        assert_answered_not_failed(reply)
        assert (await client.call("Heartbeat", {}))[0] == CALLRESULT


async def test_nul_in_a_sampled_value_is_not_an_internal_error(
    url: str, register_charger: RegisterCharger
) -> None:
    charger = await register_charger()
    async with ocpp_connect(url, charger.charge_point_id, password=charger.password) as client:
        await booted(client)
        assert_answered_not_failed(await client.call("MeterValues", meter_values(f"1{NUL}")))


async def test_nul_from_one_charger_does_not_fail_anothers_meter_values(
    database_url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    """The bad frame is refused before it reaches the batch the good charger's row is in."""
    bad, good = await register_charger(), await register_charger()
    async with node_batching_by_size(database_url, rows=1) as node:
        url = ws_url(node)
        async with (
            ocpp_connect(url, bad.charge_point_id, password=bad.password) as bad_client,
            ocpp_connect(url, good.charge_point_id, password=good.password) as good_client,
        ):
            await booted(bad_client)
            await booted(good_client)
            await bad_client.send_only(
                json.dumps([2, "nul-1", "MeterValues", meter_values(f"7{NUL}")])
            )
            reply = await good_client.call("MeterValues", meter_values("1234"))
            assert reply[0] == CALLRESULT, reply
            assert_answered_not_failed(await bad_client.recv())
    stored = await pool.fetchval(
        "SELECT value FROM meter_values WHERE charge_point_id = $1", good.charge_point_id
    )
    assert stored == 1234


async def test_nul_frame_does_not_lose_the_rest_of_the_journal(
    database_url: str, pool: asyncpg.Pool, register_charger: RegisterCharger
) -> None:
    """Every frame of this test shares one journal batch, flushed when the node stops."""
    charger = await register_charger()
    cid = charger.charge_point_id
    async with node_batching_by_size(database_url, rows=1000) as node:
        url = ws_url(node)
        async with ocpp_connect(url, cid, password=charger.password) as client:
            await booted(client)
            await client.call("Heartbeat", {}, message_id="before")
            await client.call("DataTransfer", {"vendorId": "acme", "data": NUL}, message_id="nul")
            await client.call("Heartbeat", {}, message_id="after")
    rows = await journal.list_messages(pool, cid, limit=100)
    ids = {(r["direction"], r["message_id"]) for r in rows}
    assert {("in", "before"), ("out", "before"), ("in", "after"), ("out", "after")} <= ids
