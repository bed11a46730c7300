"""Security profile upgrades from the REST API, the way an operator runs them: a real
backoffice, a node with a wss:// listener in the same cluster, ``csms worker`` (PgQueuer)
for the rollback, and simulated stations that reconnect as real ones do (OCPP 2.0.1 A05,
1.6 security whitepaper A05)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from websockets.exceptions import InvalidStatus

from csms.node.runtime import running_node
from csms.node.server import Node
from csms.secretbox import new_key
from csms.settings import NodeSettings, WorkerSettings
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.e2e.cluster import free_port
from tests.integration.backoffice.conftest import Account
from tests.integration.conftest import RegisterCharger, Registered
from tests.pki import Pki
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def tls_cluster_node(
    database_url: str, redis_url: str, redis_prefix: str, pki: Pki
) -> AsyncIterator[Node]:
    server = pki.issue("127.0.0.1", server=True, name=f"server-{secrets.token_hex(3)}")
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        tls_port=0,
        tls_cert_file=server.cert_file,
        tls_key_file=server.key_file,
        tls_client_ca_file=pki.ca_file,
        tls_reload_interval=0,
        node_id=f"bo-tls-{secrets.token_hex(3)}",
        redis_prefix=redis_prefix,
        heartbeat_interval=60,
        presence_sweep_interval=86_400,
    )
    async with running_node(settings, database_url, redis_url) as node:
        yield node


@pytest.fixture
async def worker(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(
        job_poll_interval=0.2, job_retry_delay=0.1, redis_prefix=redis_prefix,
        job_command_timeout=TIMEOUT,
    )  # fmt: skip
    async with running_worker(settings, database_url, redis_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


def url_of(node: Node, tls: bool = False) -> str:
    return f"wss://127.0.0.1:{node.tls_port}/ocpp" if tls else f"ws://127.0.0.1:{node.port}/ocpp"


async def online(charger: Registered, node: Node, version: str, **config: Any) -> Station:
    station = Station(
        StationConfig(
            url=url_of(node),
            charge_point_id=charger.charge_point_id,
            version=version,
            password=charger.password,
            call_timeout=TIMEOUT,
            **config,
        )
    )
    await station.connect()
    assert (await station.boot())["status"] == "Accepted"
    return station


async def until(condition: Callable[[], bool]) -> None:
    """The station side catches up: it notes the endpoint once its socket is open, after
    the node already admitted (and recorded) the connection."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)


def path(charger: Registered) -> str:
    return f"/api/v1/chargers/{charger.charge_point_id}/security-profile"


async def upgrade_ends(
    client: httpx.AsyncClient, operator: Account, charger: Registered
) -> dict[str, Any]:
    """The profile once the last upgrade is no longer pending."""
    async with asyncio.timeout(3 * TIMEOUT):
        while True:
            body: dict[str, Any] = (
                await client.get(path(charger), headers=operator.headers)
            ).json()
            if body["upgrade"]["state"] != "pending":
                return body
            await asyncio.sleep(0.05)


async def test_1_6_upgrade_to_profile_2_and_no_way_back(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    register_charger: RegisterCharger,
    tls_cluster_node: Node,
    pki: Pki,
) -> None:
    """Whitepaper A05: ChangeConfiguration SecurityProfile=2 accepted (A05.FR.05), the
    charger reconnects with it (A05.FR.06/07), after which the CSMS refuses profile 1
    (A05.FR.09)."""
    operator = accounts["operator"]
    charger = await register_charger()
    node = tls_cluster_node
    station = await online(
        charger, node, "1.6", secure_url=url_of(node, tls=True), ca_file=str(pki.ca_file)
    )
    before = (await client.get(path(charger), headers=accounts["monitor"].headers)).json()
    assert (before["minimum_profile"], before["last_profile"], before["upgrade"]) == (1, 1, None)

    response = await client.put(path(charger), json={"profile": 2}, headers=operator.headers)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "upgrading"
    ended = await upgrade_ends(client, operator, charger)
    assert ended["upgrade"]["state"] == "completed", ended
    assert (ended["minimum_profile"], ended["last_profile"]) == (2, 2)
    await until(lambda: station.security.endpoint.security_profile == 2)
    assert station.state.configuration["SecurityProfile"] == "2"
    assert (await station.heartbeat())["currentTime"]

    weak = Station(StationConfig(url=url_of(node), charge_point_id=charger.charge_point_id,
                                 password=charger.password))  # fmt: skip
    with pytest.raises(InvalidStatus) as refusal:
        await weak.connect()
    assert refusal.value.response.status_code == 403
    # the operator cannot ask for it either (A00.FR.005)
    lower = await client.put(path(charger), json={"profile": 1}, headers=operator.headers)
    assert lower.status_code == 422
    assert "A00.FR.005" in lower.json()["detail"]
    await station.disconnect()


async def test_2_0_1_upgrade_to_profile_3_with_a_network_profile_and_a_reset(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    register_charger: RegisterCharger,
    tls_cluster_node: Node,
    pki: Pki,
) -> None:
    """2.0.1 A05: SetNetworkProfile (new slot, profile 3), NetworkConfigurationPriority with
    it first, Reset OnIdle; the charger connects with the new profile (A05.FR.05), raises
    its SecurityProfile and drops the lower slot (A05.FR.06)."""
    operator = accounts["operator"]
    charger = await register_charger()
    node = tls_cluster_node
    issued = pki.issue(charger.charge_point_id)
    station = await online(
        charger, node, "2.0.1", ca_file=str(pki.ca_file),
        client_cert_file=str(issued.cert_file), client_key_file=str(issued.key_file),
    )  # fmt: skip
    body = {"profile": 3, "csms_url": url_of(node, tls=True)}
    response = await client.put(path(charger), json=body, headers=operator.headers)
    assert response.status_code == 200, response.text
    ended = await upgrade_ends(client, operator, charger)
    assert ended["upgrade"]["state"] == "completed", ended
    assert (ended["minimum_profile"], ended["last_profile"]) == (3, 3)
    await until(lambda: station.security.endpoint.security_profile == 3)
    configuration = station.state.configuration
    assert configuration["SecurityCtrlr.SecurityProfile"] == "3"
    assert configuration["OCPPCommCtrlr.NetworkConfigurationPriority"] == "1"
    await station.disconnect()


async def test_2_0_1_upgrade_rolled_back_when_the_charger_does_not_come_back(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    register_charger: RegisterCharger,
    tls_cluster_node: Node,
    pki: Pki,
    worker: Worker,
) -> None:
    """The new profile cannot connect (nothing listens there): the charger falls back to its
    old slot; at the deadline ``csms worker`` rolls the upgrade back, gives the charger its
    old NetworkConfigurationPriority, records the event; the old profile keeps working."""
    operator = accounts["operator"]
    charger = await register_charger()
    node = tls_cluster_node
    issued = pki.issue(charger.charge_point_id)
    station = await online(
        charger, node, "2.0.1", ca_file=str(pki.ca_file),
        client_cert_file=str(issued.cert_file), client_key_file=str(issued.key_file),
    )  # fmt: skip
    nowhere = f"wss://127.0.0.1:{free_port()}/ocpp"
    body = {"profile": 3, "csms_url": nowhere, "timeout": 1.0}
    response = await client.put(path(charger), json=body, headers=operator.headers)
    assert response.status_code == 200, response.text
    ended = await upgrade_ends(client, operator, charger)
    upgrade = ended["upgrade"]
    assert upgrade["state"] == "rolled_back", ended
    assert "NetworkConfigurationPriority set back to 0" in upgrade["detail"]
    assert (ended["minimum_profile"], ended["last_profile"]) == (1, 1)
    priority = "OCPPCommCtrlr.NetworkConfigurationPriority"
    assert station.state.configuration[priority] == "0"
    assert station.security.endpoint.security_profile == 1 and station.connected
    events = await client.get(
        f"/api/v1/chargers/{charger.charge_point_id}/events",
        params={"action": "SecurityProfileUpgrade"},
        headers=operator.headers,
    )
    assert [e["kind"] for e in events.json()["items"]] == ["rolled_back"]
    await station.disconnect()


async def test_a_refused_step_fails_the_upgrade_and_changes_nothing(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    register_charger: RegisterCharger,
    tls_cluster_node: Node,
) -> None:
    """Whitepaper A05.FR.03: a 1.6 charger without a secure endpoint rejects profile 2."""
    operator = accounts["operator"]
    charger = await register_charger()
    station = await online(charger, tls_cluster_node, "1.6")
    response = await client.put(path(charger), json={"profile": 2}, headers=operator.headers)
    assert response.status_code == 502, response.text
    assert "answered Rejected" in response.json()["detail"]
    state = (await client.get(path(charger), headers=operator.headers)).json()
    assert state["upgrade"]["state"] == "failed"
    assert state["minimum_profile"] == 1
    assert station.state.configuration["SecurityProfile"] == "1"
    await station.disconnect()


async def test_recording_and_lowering_without_ocpp(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    register_charger: RegisterCharger,
    tls_cluster_node: Node,
) -> None:
    """A profile the charger already connects with is only recorded; a lower one needs
    ``downgrade`` (the charger was reset by other means: A00.FR.005)."""
    operator = accounts["operator"]
    charger = await register_charger()
    station = await online(charger, tls_cluster_node, "1.6")
    await station.disconnect()
    record = await client.put(path(charger), json={"profile": 1}, headers=operator.headers)
    assert record.json()["outcome"] == "unchanged"
    raised = await client.put(path(charger), json={"profile": 0}, headers=operator.headers)
    assert raised.status_code == 422
    lowered = await client.put(
        path(charger), json={"profile": 0, "downgrade": True}, headers=operator.headers
    )
    assert lowered.status_code == 200
    assert (lowered.json()["outcome"], lowered.json()["minimum_profile"]) == ("lowered", 0)
    offline = await client.put(path(charger), json={"profile": 3}, headers=operator.headers)
    assert offline.status_code == 409  # an upgrade needs the charger online
    unknown = await client.get("/api/v1/chargers/NOPE-1/security-profile", headers=operator.headers)
    assert unknown.status_code == 404
    monitor = await client.put(
        path(charger), json={"profile": 1}, headers=accounts["monitor"].headers
    )
    assert monitor.status_code == 403
    bad = await client.put(path(charger), json={"profile": 4}, headers=operator.headers)
    assert bad.status_code == 422


async def test_backoffice_metrics_need_the_scrape_token(
    backoffice_settings: Any, tmp_path: Path
) -> None:
    from tests.integration.backoffice.conftest import serving

    token = secrets.token_urlsafe(24)
    settings = backoffice_settings.model_copy(update={"metrics_token": SecretStr(token)})
    async with serving(settings) as backoffice:
        async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as http:
            anonymous = await http.get("/metrics")
            assert anonymous.status_code == 401
            assert anonymous.headers["content-type"] == "application/problem+json"
            assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer wrong"})
            assert wrong.status_code == 401
            ok = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200 and "csms_backoffice_requests" in ok.text
    production = backoffice_settings.model_copy(
        update={
            "env": "production",
            "firmware_url_secret": SecretStr("f" * 40),
            "data_key": SecretStr(new_key()),
        }
    )
    async with serving(production) as backoffice:
        async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as http:
            assert (await http.get("/metrics")).status_code == 404
