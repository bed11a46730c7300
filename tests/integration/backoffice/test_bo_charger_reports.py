"""What chargers reported, read back over REST: configuration (1.6 keys and the 2.0.1
device model, with when each value was reported), availability answers, and the events a
charger sent. A simulated charger over a real WebSocket, commands through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from csms.node.server import Node
from simulators.station import Station
from tests.integration.backoffice.conftest import Account, register_charger, station
from tests.integration.backoffice.test_bo_auth import assert_problem
from tests.integration.ocpp_client import eventually

T = "2026-01-01T10:00:00Z"


@pytest.fixture(params=["1.6", "2.0.1"])
async def connected(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
) -> AsyncIterator[tuple[str, Station]]:
    charge_point_id, password = await register_charger(client, accounts["operator"])
    sim = station(cluster_node, charge_point_id, password, version=request.param)
    await sim.connect()
    await sim.boot()
    yield charge_point_id, sim
    await sim.disconnect()


async def command(
    client: httpx.AsyncClient, account: Account, charge_point_id: str, name: str, **params: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/chargers/{charge_point_id}/commands/{name}", json=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def items(client: httpx.AsyncClient, account: Account, path: str) -> list[dict[str, Any]]:
    response = await client.get(path, headers=account.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def test_configuration_read_and_changed_is_listed_with_when(
    client: httpx.AsyncClient, accounts: dict[str, Account], connected: tuple[str, Station]
) -> None:
    charge_point_id, sim = connected
    operator, monitor = accounts["operator"], accounts["monitor"]
    path = f"/api/v1/chargers/{charge_point_id}/configuration?limit=50"
    assert await items(client, monitor, path) == []
    if sim.subprotocol == "ocpp1.6":
        await command(client, operator, charge_point_id, "get_configuration")
        key = "HeartbeatInterval"
    else:
        # B07: the report comes later, in NotifyReport messages
        await command(
            client, operator, charge_point_id, "get_base_report", report_base="FullInventory"
        )
        key = "OCPPCommCtrlr.HeartbeatInterval"

    async def reported() -> dict[str, Any] | None:
        return next((v for v in await items(client, monitor, path) if v["key"] == key), None)

    first = await eventually(reported)
    assert first["value"] == "300" and first["reported_at"]
    if sim.subprotocol == "ocpp2.0.1":
        assert (first["component"], first["variable"]) == ("OCPPCommCtrlr", "HeartbeatInterval")
        assert first["attribute_type"] == "Actual" and first["readonly"] is False
    else:
        assert first["readonly"] is False and first["component"] is None
    answer = await command(
        client, operator, charge_point_id, "set_configuration", key=key, value=600
    )
    response = answer["response"]
    if sim.subprotocol == "ocpp1.6":
        assert response == {"status": "Accepted"}
    else:
        assert [r["attributeStatus"] for r in response["setVariableResult"]] == ["Accepted"]
    changed = await reported()
    assert changed is not None and changed["value"] == "600"
    assert changed["reported_at"] >= first["reported_at"]


async def test_configuration_pages(
    client: httpx.AsyncClient, accounts: dict[str, Account], connected: tuple[str, Station]
) -> None:
    charge_point_id, sim = connected
    operator = accounts["operator"]
    if sim.subprotocol == "ocpp1.6":
        await command(client, operator, charge_point_id, "get_configuration")
    else:
        await command(
            client, operator, charge_point_id, "get_base_report", report_base="FullInventory"
        )
    base = f"/api/v1/chargers/{charge_point_id}/configuration"

    async def complete() -> list[dict[str, Any]] | None:
        # B07.FR.10: a 2.0.1 report may come in several parts; wait for all of them
        found = await items(client, operator, f"{base}?limit=50")
        return found if len(found) == len(sim.state.configuration) else None

    everything = await eventually(complete)
    assert len(everything) > 3
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(base + query, headers=operator.headers)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


async def test_availability_answers(
    client: httpx.AsyncClient, accounts: dict[str, Account], connected: tuple[str, Station]
) -> None:
    charge_point_id, _ = connected
    operator = accounts["operator"]
    await command(
        client, operator, charge_point_id, "change_availability", operative=False, connector_id=2
    )
    [answer] = await items(
        client, accounts["monitor"], f"/api/v1/chargers/{charge_point_id}/availability"
    )
    assert (answer["operative"], answer["answer"]) == (False, "Accepted")
    assert answer["updated_at"]


async def test_events_newest_first_filtered_and_paged(
    client: httpx.AsyncClient, accounts: dict[str, Account], connected: tuple[str, Station]
) -> None:
    """A04.FR.03 / 1.6 security whitepaper: security events are kept for the operator."""
    charge_point_id, sim = connected
    for kind in ("FirmwareUpdated", "ReconfigurationOfSecurityParameters"):
        await sim.call("SecurityEventNotification", {"type": kind, "timestamp": T})
    await sim.call("DataTransfer", {"vendorId": "com.example"})
    base = f"/api/v1/chargers/{charge_point_id}/events"
    monitor = accounts["monitor"]
    every = await items(client, monitor, base)
    assert [e["action"] for e in every][:3] == [
        "DataTransfer",
        "SecurityEventNotification",
        "SecurityEventNotification",
    ]
    security = await items(client, monitor, f"{base}?action=SecurityEventNotification")
    assert [e["kind"] for e in security] == [
        "ReconfigurationOfSecurityParameters",
        "FirmwareUpdated",
    ]
    assert security[0]["occurred_at"].startswith("2026-01-01T10:00:00")
    assert security[0]["payload"]["type"] == "ReconfigurationOfSecurityParameters"
    first = (
        await client.get(
            f"{base}?action=SecurityEventNotification&limit=1", headers=monitor.headers
        )
    ).json()
    second = (
        await client.get(
            f"{base}?action=SecurityEventNotification&limit=1&cursor={first['next_cursor']}",
            headers=monitor.headers,
        )
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in security]


@pytest.mark.parametrize("resource", ["configuration", "availability", "events"])
async def test_unknown_charger_and_who_may_read(
    client: httpx.AsyncClient, accounts: dict[str, Account], resource: str
) -> None:
    assert_problem(
        await client.get(f"/api/v1/chargers/NOPE/{resource}", headers=accounts["monitor"].headers),
        404,
    )
    charge_point_id, _ = await register_charger(client, accounts["operator"])
    path = f"/api/v1/chargers/{charge_point_id}/{resource}"
    assert_problem(await client.get(path, headers=accounts["driver"].headers), 403)
    assert_problem(await client.get(path), 401)
    assert_problem(await client.get(f"{path}?cursor=%%%", headers=accounts["monitor"].headers), 422)
