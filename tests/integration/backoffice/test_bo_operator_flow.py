"""The operator's day through REST alone: register a charger, see it connect, start a
session remotely, watch it live over SSE, stop it, read the bill of materials (transaction
and meter values). A driver watches the same session and sees only their own."""

from __future__ import annotations

import secrets

import httpx
import pytest
from redis.asyncio import Redis

from csms.cluster.keys import Keys
from csms.node.server import Node
from tests.integration.backoffice.conftest import Account, NewAccount, register_charger, station
from tests.integration.backoffice.sse import SseEvent, open_stream


async def last_event_id(redis_url: str, redis_prefix: str) -> str:
    redis = Redis.from_url(redis_url)
    try:
        entries = await redis.xrevrange(Keys(redis_prefix).events(), count=1)
    finally:
        await redis.aclose()
    return entries[0][0].decode() if entries else "0"


def of(charge_point_id: str, event_type: str) -> object:
    def match(event: SseEvent) -> bool:
        return event.type == event_type and event.data["charge_point_id"] == charge_point_id

    return match


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_operator_flow(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    new_account: NewAccount,
    cluster_node: Node,
    redis_url: str,
    redis_prefix: str,
    version: str,
) -> None:
    operator = accounts["operator"].headers
    driver = await new_account("driver")

    # register a charger (password shown once) and a token bound to the driver
    charge_point_id, password = await register_charger(client, accounts["operator"])
    assert 16 <= len(password) <= 40
    shown = await client.get(f"/api/v1/chargers/{charge_point_id}", headers=operator)
    assert "password" not in shown.json() and password not in shown.text
    tag = f"TAG-{secrets.token_hex(4)}"
    token = await client.post(
        "/api/v1/id-tokens", json={"id_token": tag, "user_id": driver.user_id}, headers=operator
    )
    assert token.status_code == 201, token.text

    since = await last_event_id(redis_url, redis_prefix)
    async with (
        open_stream(
            client, operator, params={"charge_point_id": charge_point_id}, last_event_id=since
        ) as live,
        open_stream(client, driver.headers, last_event_id=since) as mine,
    ):
        assert live.status == mine.status == 200
        sim = station(cluster_node, charge_point_id, password, version)
        await sim.connect()
        try:
            assert (await sim.boot())["status"] == "Accepted"
            await live.wait_for(of(charge_point_id, "charger.connected"))

            status = (
                await client.get(f"/api/v1/chargers/{charge_point_id}/status", headers=operator)
            ).json()
            assert status["connected"] is True and status["node_alive"] is True
            assert status["owner_node"] == cluster_node.settings.node_id
            assert status["registration_status"] == "Accepted"

            where = {"connector_id": 1} if version == "1.6" else {"evse_id": 1}
            started = await client.post(
                f"/api/v1/chargers/{charge_point_id}/commands/remote_start",
                json={"id_token": tag, **where},
                headers=operator,
            )
            assert started.status_code == 200, started.text
            assert started.json()["response"]["status"] == "Accepted"
            assert started.json()["protocol"] == f"ocpp{version}"

            begun = await live.wait_for(of(charge_point_id, "transaction.started"))
            transaction_id = begun.data["data"]["transaction_id"]
            for _ in range(2):  # meter values arrive live
                count = sum(e.type == "transaction.updated" for e in live.events)
                await live.wait_for(
                    lambda e, c=count: sum(x.type == "transaction.updated" for x in live.events) > c
                )
            stopped = await client.post(
                f"/api/v1/chargers/{charge_point_id}/commands/remote_stop",
                json={"transaction_id": transaction_id},
                headers=operator,
            )
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["response"]["status"] == "Accepted"
            await live.wait_for(of(charge_point_id, "transaction.ended"))
            await mine.wait_for(of(charge_point_id, "transaction.ended"))
        finally:
            await sim.disconnect()

    # the driver saw their session's events and nothing else
    assert {e.type for e in mine.events} >= {"transaction.started", "transaction.ended"}
    assert all(e.type.startswith("transaction.") for e in mine.events)
    assert {str(e.data["data"]["transaction_id"]) for e in mine.events} == {str(transaction_id)}
    assert all("node_id" not in e.data for e in mine.events)

    # the session, with its meter values
    listed = await client.get(
        "/api/v1/transactions", params={"charge_point_id": charge_point_id}, headers=operator
    )
    (session,) = listed.json()["items"]
    assert session["transaction_id"] == str(transaction_id)
    assert session["active"] is False and session["stop_reason"] == "Remote"
    assert session["id_token"] == tag and session["energy_wh"] is not None
    detail = (await client.get(f"/api/v1/transactions/{session['id']}", headers=operator)).json()
    measurands = {m["measurand"] for m in detail["meter_values"]}
    assert "Energy.Active.Import.Register" in measurands
    assert len(detail["meter_values"]) >= 6
    own = await client.get(f"/api/v1/transactions/{session['id']}", headers=driver.headers)
    assert own.status_code == 200
    connectors = await client.get(
        f"/api/v1/chargers/{charge_point_id}/connectors", headers=operator
    )
    # after a remote stop the cable may still be plugged in: 1.6 Finishing, 2.0.1 Occupied;
    # the simulator disconnects right after the stop, maybe before it sent its status
    # (then the connector still reads Charging, as it last said)
    assert {c["status"] for c in connectors.json()["items"]} <= {
        "Charging",
        "Available",
        "Finishing",
        "Preparing",
        "Occupied",
    }

    # the cluster view and the metrics saw it too
    nodes = (await client.get("/api/v1/nodes", headers=operator)).json()["items"]
    node = next(n for n in nodes if n["node_id"] == cluster_node.settings.node_id)
    assert node["breaker"] == "closed"
    metrics = (await client.get("/metrics")).text
    assert 'csms_backoffice_commands_total{command="remote_start",outcome="ok"}' in metrics
    assert f'csms_cluster_node_chargers{{node="{cluster_node.settings.node_id}"}}' in metrics
