"""Remote commands: the charger's answer, or the right problem for every way it fails."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from csms.cluster.keys import Keys
from csms.cluster.registry import Registry
from csms.node.server import Node
from simulators.station import Station
from tests.integration.backoffice.conftest import Account, register_charger, station
from tests.integration.backoffice.test_bo_auth import assert_problem


def command_url(charge_point_id: str, command: str) -> str:
    return f"/api/v1/chargers/{charge_point_id}/commands/{command}"


@pytest.fixture
async def connected(
    client: httpx.AsyncClient, accounts: dict[str, Account], cluster_node: Node
) -> AsyncIterator[tuple[str, Station]]:
    charge_point_id, password = await register_charger(client, accounts["operator"])
    sim = station(cluster_node, charge_point_id, password)
    await sim.connect()
    await sim.boot()
    yield charge_point_id, sim
    await sim.disconnect()


async def test_unknown_charger_and_command(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    headers = accounts["operator"].headers
    assert_problem(await client.post(command_url("NOPE", "reset"), headers=headers), 404)
    charge_point_id, _ = await register_charger(client, accounts["operator"])
    body = assert_problem(
        await client.post(command_url(charge_point_id, "explode"), headers=headers), 404
    )
    assert "unknown command" in str(body["detail"])


async def test_not_connected_is_409(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    charge_point_id, _ = await register_charger(client, accounts["operator"])
    response = await client.post(
        command_url(charge_point_id, "reset"),
        json={"type": "soft"},
        headers=accounts["operator"].headers,
    )
    body = assert_problem(response, 409)
    assert body["code"] == "not_connected"
    assert body["type"] == "urn:csms:problem:charger-not-connected"


async def test_answers_and_invalid_params(
    client: httpx.AsyncClient, accounts: dict[str, Account], connected: tuple[str, Station]
) -> None:
    charge_point_id, _ = connected
    headers = accounts["operator"].headers
    availability = await client.post(
        command_url(charge_point_id, "change_availability"),
        json={"operative": True, "connector_id": 1},
        headers=headers,
    )
    assert availability.status_code == 200, availability.text
    assert availability.json()["action"] == "ChangeAvailability"
    assert availability.json()["request"] == {"connectorId": 1, "type": "Operative"}
    assert availability.json()["response"] == {"status": "Accepted"}
    raw = await client.post(
        command_url(charge_point_id, "raw"),
        json={"action": "ClearCache", "payload": {}},
        headers=headers,
    )
    assert raw.status_code == 200, raw.text
    assert raw.json()["action"] == "ClearCache"
    missing = assert_problem(
        await client.post(command_url(charge_point_id, "remote_start"), headers=headers), 422
    )
    assert "id_token" in str(missing["detail"])
    typo = assert_problem(
        await client.post(
            command_url(charge_point_id, "reset"), json={"tipe": "soft"}, headers=headers
        ),
        422,
    )
    assert "tipe" in str(typo["detail"])
    not_object = await client.post(
        command_url(charge_point_id, "reset"), json=[1, 2], headers=headers
    )
    assert_problem(not_object, 422)
    # last: an accepted reset reboots the simulated station
    reset = await client.post(
        command_url(charge_point_id, "reset"), json={"type": "soft"}, headers=headers
    )
    assert reset.status_code == 200, reset.text
    assert reset.json()["request"] == {"type": "Soft"}
    assert reset.json()["response"] == {"status": "Accepted"}


async def test_command_catalogue(client: httpx.AsyncClient, accounts: dict[str, Account]) -> None:
    names: list[str] = []
    cursor = None
    while True:
        params = {"limit": "20", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/api/v1/commands", params=params, headers=accounts["monitor"].headers)
        ).json()
        names += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert {"remote_start", "remote_stop", "reset", "raw"} <= set(names)
    assert names == sorted(names) and len(names) == len(set(names))


async def test_silent_node_times_out_then_its_breaker_opens(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    redis_url: str,
    redis_prefix: str,
) -> None:
    """A node that is registered but never answers: 504, and after CSMS_BREAKER_FAIL_MAX
    failures 503 at once (the breaker is open), visible in /nodes."""
    charge_point_id, _ = await register_charger(client, accounts["operator"])
    headers = accounts["operator"].headers
    keys = Keys(redis_prefix)
    redis = Redis.from_url(redis_url)
    ghost = f"ghost-{charge_point_id}"
    try:
        await Registry(redis, keys).heartbeat(ghost, "nowhere:0", time.time(), 1)
        await redis.set(keys.owner(charge_point_id), f"{ghost}|1")
        url = command_url(charge_point_id, "reset") + "?timeout=0.3"
        first = await client.post(url, json={"type": "soft"}, headers=headers)
        assert_problem(first, 504)
        statuses = [
            (await client.post(url, json={"type": "soft"}, headers=headers)).status_code
            for _ in range(2)
        ]
        assert statuses[-1] == 503
        started = time.monotonic()
        open_breaker = assert_problem(
            await client.post(url, json={"type": "soft"}, headers=headers), 503
        )
        assert time.monotonic() - started < 0.3  # fails fast
        assert open_breaker["code"] == "node_unavailable"
        nodes = (await client.get("/api/v1/nodes", headers=headers)).json()["items"]
        assert {n["node_id"]: n["breaker"] for n in nodes}[ghost] == "open"
        metrics = (await client.get("/metrics")).text
        assert f'csms_backoffice_breaker_state{{node="{ghost}",state="open"}} 1.0' in metrics
    finally:
        await redis.delete(keys.owner(charge_point_id), keys.node(ghost))
        await redis.aclose()
