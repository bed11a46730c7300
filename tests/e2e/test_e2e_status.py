"""The service status of a real cluster: two ``csms node`` processes, a backoffice, a
charger (issue 15, "Service status").

- ``GET /api/v1/status`` (a monitor's token) lists both nodes alive, the charger held by
  one and its message rate from the registry heartbeat;
- every metric the Grafana dashboard and the Prometheus alert rules in docker/ read is on
  the nodes' or the backoffice's ``/metrics`` (scraped here);
- a node SIGKILLed under its charger: a command to the charger times out, the backoffice's
  breaker of that node opens and the status shows it (with this replica's failure count);
  once the node's registration lapses it is listed not alive while its breaker is open.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from csms.cluster.registry import DEFAULT_TTL
from csms.settings import BackofficeSettings
from csms.store import users
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import eventually, new_station, register_chargers
from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    login,
    serving,
)
from tests.monitoring import SYNTHETIC, exposed_names, referenced_metrics
from tests.timeouts import TIMEOUT

COMMAND_TIMEOUT = 1.0


@dataclass
class Api:
    client: httpx.AsyncClient
    monitor: dict[str, str]
    operator: dict[str, str]

    async def status(self) -> dict[str, Any]:
        response = await self.client.get("/api/v1/status", headers=self.monitor)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def api(
    database_url: str, redis_url: str, prefix: str, pool: asyncpg.Pool
) -> AsyncIterator[Api]:
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        jwt_secret="e2e-status-jwt-secret-" + "k" * 40,
        db_pool_min=1,
        db_pool_max=2,
        command_timeout=COMMAND_TIMEOUT,
        breaker_fail_max=1,
        breaker_reset_timeout=3600,
    )
    headers = {}
    async with serving(settings) as backoffice:
        async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
            for role in ("monitor", "operator"):
                name = f"{role}-{secrets.token_hex(4)}"
                await users.add_user(pool, name, password_hash=USER_PASSWORD_HASH, role=role)
                token = (await login(client, name, USER_PASSWORD)).json()["access_token"]
                headers[role] = {"Authorization": f"Bearer {token}"}
            yield Api(client, headers["monitor"], headers["operator"])


def node_of(body: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    return next((n for n in body["nodes"] if n["node_id"] == node_id), None)


async def test_status_of_a_real_cluster_and_a_node_killed_under_its_charger(
    cluster: Cluster, api: Api, pool: asyncpg.Pool
) -> None:
    n1, n2 = await cluster.start("st1", "st2")
    (charge_point_id,) = await register_chargers(pool, 1)
    sim = new_station(n1.url, charge_point_id, "1.6")
    await sim.connect()
    await sim.boot()

    async def held_and_busy() -> dict[str, Any] | None:
        await sim.heartbeat()
        body = await api.status()
        node = node_of(body, "st1")
        if node and node["chargers"] == 1 and node["messages_per_second"] > 0:
            return body
        return None

    # the rate comes with the node's next registry heartbeat (every TTL/3 seconds)
    body = await eventually(
        held_and_busy, "st1 holds the charger and reports messages/s", timeout=2 * TIMEOUT
    )
    st1, st2 = node_of(body, "st1"), node_of(body, "st2")
    assert st1 is not None and st2 is not None
    assert st1["alive"] and st1["address"] == n1.address and st1["chargers_recorded"] == 1
    assert st2["alive"] and st2["chargers"] == 0 and st2["address"] == n2.address
    assert body["dependencies"]["postgres"]["up"] and body["dependencies"]["redis"]["up"]
    assert body["unavailable"] == []
    # the run's other tests share the database: nodes they killed may still be listed
    assert not [n for n in body["nodes"] if n["node_id"] in ("st1", "st2") and not n["alive"]]

    # every metric the dashboard and the alert rules read is exposed by the processes
    exposed = set(SYNTHETIC)
    async with httpx.AsyncClient(timeout=TIMEOUT) as scraper:
        for node in (n1, n2):
            page = await scraper.get(f"http://127.0.0.1:{node.port}/metrics")
            assert page.status_code == 200, page.text
            exposed |= exposed_names(page.text)
    backoffice_page = await api.client.get("/metrics")
    assert backoffice_page.status_code == 200
    exposed |= exposed_names(backoffice_page.text)
    missing = {n: sorted(w) for n, w in referenced_metrics().items() if n not in exposed}
    assert not missing, missing
    assert "csms_nodes_alive 2.0" in backoffice_page.text
    assert 'csms_cluster_node_chargers{node="st1"} 1.0' in backoffice_page.text

    # st1 dies with the charger's owner entry still pointing at it
    await cluster.kill(n1)
    command = await api.client.post(
        f"/api/v1/chargers/{charge_point_id}/commands/clear_cache",
        json={},
        headers=api.operator,
    )
    assert command.status_code in (503, 504), command.text

    async def breaker_open() -> dict[str, Any] | None:
        body = await api.status()
        node = node_of(body, "st1")
        if node and any(b["state"] == "open" for b in node["breakers"]):
            return node
        return None

    st1 = await eventually(breaker_open, "the status shows st1's breaker open")
    (breaker,) = st1["breakers"]
    assert breaker["failures"] >= 1
    body = await api.status()
    assert breaker["replica_id"] == body["replica_id"]
    assert body["status"] == "degraded"

    async def gone() -> dict[str, Any] | None:
        body = await api.status()
        node = node_of(body, "st1")
        return node if node is not None and not node["alive"] else None

    st1 = await eventually(gone, "st1's registration lapses", timeout=DEFAULT_TTL + TIMEOUT)
    assert st1["chargers"] is None and st1["heartbeat_at"] is None
    assert st1["breakers"][0]["state"] == "open"
    body = await api.status()
    assert node_of(body, "st2") is not None
    page = (await api.client.get("/metrics")).text
    assert "csms_nodes_alive 1.0" in page
    assert 'csms_cluster_breakers{node="st1",state="open"} 1.0' in page
