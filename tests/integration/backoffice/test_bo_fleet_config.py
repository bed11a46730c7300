"""Configuration baselines end to end, as an operator runs them: profiles through REST with
real JWTs, a mixed fleet of 1.6 and 2.0.1 simulated chargers over real WebSockets, a node of
the cluster and a ``csms worker`` (PgQueuer) sending through the command bus.

Drift before an apply and none after; an offline charger gets its values when it connects;
RebootRequired is confirmed by the reboot; a profile with reapply_on_boot puts a value the
charger lost back at its boot; every change says who asked for it. OCPP: 1.6
ChangeConfiguration / GetConfiguration (5.3, 5.8), 2.0.1 B05 SetVariables (B05.FR.01,
B05.FR.04/05, B05.FR.09, B05.FR.11), B07/B08 GetBaseReport / NotifyReport (B07.FR.08,
B07.FR.10).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from csms.node.server import Node
from csms.settings import WorkerSettings
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, register_charger
from tests.integration.backoffice.test_bo_auth import assert_problem
from tests.integration.ocpp_client import eventually
from tests.timeouts import TIMEOUT

V16_REBOOT_KEY = "ConnectionTimeOut"
V201_REBOOT_KEY = "OCPPCommCtrlr.WebSocketPingInterval"
LONG = TIMEOUT * 3  # a boot, a read and an apply, each with their own round trips


@pytest.fixture
async def worker(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Worker]:
    settings = WorkerSettings(
        redis_prefix=redis_prefix,
        job_poll_interval=0.2,
        job_retry_delay=0.1,
        config_command_timeout=TIMEOUT,
    )
    async with running_worker(settings, database_url, redis_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


Api = Callable[..., Awaitable[Any]]


@pytest.fixture
def api(client: httpx.AsyncClient, accounts: dict[str, Account]) -> Api:
    """``await api("GET", path, role="monitor")``: the JSON of a 2xx answer."""

    async def call(method: str, path: str, *, role: str = "operator", **kwargs: Any) -> Any:
        response = await client.request(method, path, headers=accounts[role].headers, **kwargs)
        assert 200 <= response.status_code < 300, response.text
        return None if response.status_code == 204 else response.json()

    return call


def simulated(node: Node, charge_point_id: str, password: str, version: str) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=password,
            call_timeout=TIMEOUT,
            reboot_keys=frozenset({V16_REBOOT_KEY if version == "1.6" else V201_REBOOT_KEY}),
            items_per_message=2,  # B05.FR.11: the CSMS must batch SetVariables by two
            report_part_size=7,  # B07.FR.10: the report comes in several parts
        )
    )


async def drift(api: Api, site: str) -> dict[str, dict[str, dict[str, Any]]]:
    """charger -> setting -> drift item."""
    report = await api("GET", f"/api/v1/config/drift?site={site}", role="monitor")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for item in report["items"]:
        found.setdefault(item["charge_point_id"], {})[item["setting"]] = item
    return found


async def finished(api: Api, apply_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """charger -> setting -> item, once the worker has finished the apply."""

    async def done() -> Any:
        return (await api("GET", f"/api/v1/config/applies/{apply_id}"))["finished_at"]

    await eventually(done, timeout=LONG, interval=0.05)
    page = await api("GET", f"/api/v1/config/applies/{apply_id}/items?limit=50")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for item in page["items"]:
        found.setdefault(item["charge_point_id"], {})[item["setting"]] = item
    return found


async def test_profiles_refuse_keys_of_the_other_version_and_bad_names(
    client: httpx.AsyncClient, accounts: dict[str, Account]
) -> None:
    operator = accounts["operator"]
    profile_id = f"bad-{secrets.token_hex(3)}"
    cases = [
        ("1.6", {"OCPPCommCtrlr.HeartbeatInterval": "60"}, "is a 2.0.1 Component.Variable"),
        ("2.0.1", {"HeartbeatInterval": "60"}, "a 1.6 key belongs in a 1.6 profile"),
        ("2.0.1", {"OCPPCommCtrlr.Heart beat": "60"}, "is not a 2.0.1 name"),
        ("2.0.1", {"OCPPCommCtrlr./x.HeartbeatInterval": "60"}, "not a 2.0.1 name"),
        ("2.0.1", {"EVSE@x.Power": "60"}, "write @evse or @evse:connector"),
        ("2.0.1", {"OCPPCommCtrlr.HeartbeatInterval": {"nested": 1}}, "must be a text"),
        ("1.6", {}, "at least one setting"),
        ("1.9", {"HeartbeatInterval": "60"}, "ocpp_version must be"),
    ]
    for version, settings, message in cases:
        body = {"id": profile_id, "ocpp_version": version, "settings": settings}
        response = await client.post("/api/v1/config/profiles", json=body, headers=operator.headers)
        problem = assert_problem(response, 422)
        assert message in str(problem["detail"]), (settings, problem)
    unknown = {"id": profile_id, "ocpp_version": "1.6", "settings": {"A": 1}, "selector": {"x": 1}}
    response = await client.post("/api/v1/config/profiles", json=unknown, headers=operator.headers)
    assert "unknown criterion" in str(assert_problem(response, 422)["detail"])
    missing = await client.get(f"/api/v1/config/profiles/{profile_id}", headers=operator.headers)
    assert_problem(missing, 404)  # nothing was stored
    monitor = await client.post(
        "/api/v1/config/profiles",
        json={"id": profile_id, "ocpp_version": "1.6", "settings": {"A": "1"}},
        headers=accounts["monitor"].headers,
    )
    assert_problem(monitor, 403)


async def test_a_baseline_applied_to_a_mixed_fleet(
    client: httpx.AsyncClient,
    accounts: dict[str, Account],
    cluster_node: Node,
    worker: Worker,
    api: Api,
) -> None:
    operator = accounts["operator"]
    site = f"FC-{secrets.token_hex(3)}"
    await api(
        "POST", "/api/v1/sites", json={"id": site, "name": "Fleet", "time_zone": "Europe/Paris"}
    )
    stations: dict[str, Station] = {}
    names = {"a16": "1.6", "b16": "1.6", "off16": "1.6", "a201": "2.0.1", "b201": "2.0.1"}
    ids: dict[str, str] = {}
    for name, version in names.items():
        charge_point_id, password = await register_charger(client, operator)
        await api("PUT", f"/api/v1/chargers/{charge_point_id}/site", json={"site_id": site})
        ids[name] = charge_point_id
        stations[name] = simulated(cluster_node, charge_point_id, password, version)
    try:
        for station in stations.values():
            await station.connect()
            assert (await station.boot())["status"] == "Accepted"

        # the worker reads each charger's configuration after its boot (B07.FR.14; 2.0.1:
        # a FullInventory report in parts, B07.FR.10); then one charger goes offline
        for name, charge_point_id in ids.items():
            key = "HeartbeatInterval" if names[name] == "1.6" else "OCPPCommCtrlr.HeartbeatInterval"
            path = f"/api/v1/chargers/{charge_point_id}/configuration?limit=200"

            async def has_key(path: str = path, key: str = key) -> Any:
                page = await api("GET", path, role="monitor")
                return any(v["key"] == key for v in page["items"])

            await eventually(has_key, timeout=LONG, interval=0.05)
        await stations["off16"].disconnect()

        # -- profiles -----------------------------------------------------------------------
        fleet16 = {
            "id": f"{site}-16",
            "ocpp_version": "1.6",
            "selector": {"site": site},
            "settings": {
                "HeartbeatInterval": 120,
                "MeterValueSampleInterval": "30",
                V16_REBOOT_KEY: "90",
                "NumberOfConnectors": "4",  # read-only
                "NoSuchKey": "1",  # the charger does not have it
            },
        }
        override = {
            "id": f"{site}-16-b",
            "ocpp_version": "1.6",
            "priority": 10,
            "selector": {"chargers": [ids["b16"]]},
            "settings": {"HeartbeatInterval": "240"},
        }
        fleet201 = {
            "id": f"{site}-201",
            "ocpp_version": "2.0.1",
            "selector": {"site": [site], "model": ["SimModel"]},
            "reapply_on_boot": True,
            "settings": [
                {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "120"},
                {"key": "OCPPCommCtrlr.OfflineThreshold", "value": "90"},
                {"key": "AuthCtrlr.LocalPreAuthorize", "value": True},
                {"key": "SampledDataCtrlr.TxUpdatedInterval", "value": 15},
                {"key": V201_REBOOT_KEY, "value": "30"},
                {"key": "ChargingStation.Model", "value": "Other"},  # read-only
            ],
        }
        for body in (fleet16, override, fleet201):
            created = await api("POST", "/api/v1/config/profiles", json=body)
            assert created["created_by"] == operator.username

        before = await drift(api, site)
        assert {i["state"] for items in before.values() for i in items.values()} <= {
            "drift",
            "not_supported",
        }
        assert before[ids["a16"]]["HeartbeatInterval"]["state"] == "drift"
        assert before[ids["a16"]]["HeartbeatInterval"]["reported"] == "300"
        assert before[ids["b16"]]["HeartbeatInterval"]["desired"] == "240"  # priority 10 wins
        assert before[ids["b16"]]["HeartbeatInterval"]["profile_id"] == override["id"]
        assert before[ids["a16"]]["NumberOfConnectors"]["state"] == "not_supported"
        assert before[ids["a16"]]["NoSuchKey"]["state"] == "not_supported"
        assert before[ids["a201"]]["OCPPCommCtrlr.HeartbeatInterval"]["state"] == "drift"
        assert before[ids["a201"]]["ChargingStation.Model"]["state"] == "not_supported"
        assert before[ids["off16"]]["HeartbeatInterval"]["state"] == "drift"  # read before

        # -- a dry run sends nothing ----------------------------------------------------------
        dry = await api("POST", f"/api/v1/config/profiles/{fleet16['id']}/apply?dry_run=true")
        assert dry["apply"] is None and dry["chargers"] == 3 and dry["connected"] == 2
        plan = {(i["charge_point_id"], i["setting"]): i["outcome"] for i in dry["plan"]}
        assert plan[(ids["a16"], "HeartbeatInterval")] == "Pending"
        assert plan[(ids["b16"], "HeartbeatInterval")] == "Superseded"
        assert plan[(ids["a16"], "NumberOfConnectors")] == "NotSupported"
        listed = await api("GET", f"/api/v1/config/applies?profile={fleet16['id']}")
        assert listed["items"] == []

        # -- apply: per-key outcomes ------------------------------------------------------------
        response = await client.post(
            f"/api/v1/config/profiles/{fleet16['id']}/apply", headers=operator.headers
        )
        assert response.status_code == 202, response.text
        apply16 = response.json()["apply"]["id"]
        outcomes = await finished(api, apply16)
        a16 = {s: i["outcome"] for s, i in outcomes[ids["a16"]].items()}
        assert a16 == {
            "HeartbeatInterval": "Accepted",
            "MeterValueSampleInterval": "Accepted",
            V16_REBOOT_KEY: "RebootRequired",
            "NumberOfConnectors": "NotSupported",
            "NoSuchKey": "NotSupported",
        }
        assert outcomes[ids["b16"]]["HeartbeatInterval"]["outcome"] == "Superseded"
        off16 = {s: i["outcome"] for s, i in outcomes[ids["off16"]].items()}
        assert off16 == {
            "HeartbeatInterval": "Offline",
            "MeterValueSampleInterval": "Offline",
            V16_REBOOT_KEY: "Offline",
            "NumberOfConnectors": "NotSupported",
            "NoSuchKey": "NotSupported",
        }
        assert stations["a16"].state.configuration["HeartbeatInterval"] == "120"
        assert stations["a16"].state.after_reboot == {V16_REBOOT_KEY: "90"}

        for body in (override, fleet201):
            answer = await api("POST", f"/api/v1/config/profiles/{body['id']}/apply")
            await finished(api, answer["apply"]["id"])
        last = await api("GET", f"/api/v1/config/applies?profile={fleet201['id']}")
        apply201 = last["items"][0]["id"]
        items201 = await finished(api, apply201)
        for name in ("a201", "b201"):
            got = {s: i["outcome"] for s, i in items201[ids[name]].items()}
            # B05.FR.10 Accepted; B05.FR.09 a read-only variable cannot be set
            assert got == {
                "OCPPCommCtrlr.HeartbeatInterval": "Accepted",
                "OCPPCommCtrlr.OfflineThreshold": "Accepted",
                "AuthCtrlr.LocalPreAuthorize": "Accepted",
                "SampledDataCtrlr.TxUpdatedInterval": "Accepted",
                V201_REBOOT_KEY: "RebootRequired",
                "ChargingStation.Model": "NotSupported",
            }, name
        assert stations["a201"].state.configuration["OCPPCommCtrlr.HeartbeatInterval"] == "120"
        assert stations["b16"].state.configuration["HeartbeatInterval"] == "240"

        # -- no drift after, but at the charger that was offline ------------------------------
        after = await drift(api, site)
        for name in ("a16", "b16", "a201", "b201"):
            states = {s: i["state"] for s, i in after[ids[name]].items()}
            assert "drift" not in states.values(), (name, states)
        assert after[ids["off16"]]["HeartbeatInterval"]["state"] == "drift"
        assert after[ids["off16"]]["HeartbeatInterval"]["last_outcome"] == "Offline"
        charger = await api("GET", f"/api/v1/config/chargers/{ids['a16']}/drift", role="monitor")
        assert charger["drifted_chargers"] == 0 and charger["states"]["in_sync"] == 3

        # -- every change says who asked -------------------------------------------------------
        history = await api(
            "GET",
            f"/api/v1/config/chargers/{ids['a16']}/history?setting=HeartbeatInterval",
            role="monitor",
        )
        [change] = [h for h in history["items"] if h["source"] == "applied"]
        assert (change["old_value"], change["new_value"]) == ("300", "120")
        assert change["changed_by"].startswith(operator.username)
        assert f"profile {fleet16['id']}" in change["changed_by"]

        # -- the offline charger gets it when it connects --------------------------------------
        await stations["off16"].connect()
        await stations["off16"].boot()

        async def caught_up() -> Any:
            items = (await finished(api, apply16))[ids["off16"]]
            return all(i["outcome"] not in ("Offline", "Pending") for i in items.values())

        await eventually(caught_up, timeout=LONG, interval=0.05)
        assert stations["off16"].state.configuration["HeartbeatInterval"] == "120"
        off = (await drift(api, site))[ids["off16"]]
        assert off["HeartbeatInterval"]["state"] == "in_sync"

        # -- RebootRequired is done once the reboot was seen and the value read again ----------
        reset = await client.post(
            f"/api/v1/chargers/{ids['a16']}/commands/reset",
            json={"type": "soft"},
            headers=operator.headers,
        )
        assert reset.status_code == 200, reset.text

        async def rebooted() -> Any:
            item = (await finished(api, apply16))[ids["a16"]][V16_REBOOT_KEY]
            return item if item["rebooted_at"] else None

        item = await eventually(rebooted, timeout=LONG, interval=0.05)
        assert item["outcome"] == "RebootRequired"
        assert item["detail"] == "rebooted; in effect (reports 90)"
        assert stations["a16"].state.configuration[V16_REBOOT_KEY] == "90"
        after_reboot = await drift(api, site)
        assert after_reboot[ids["a16"]][V16_REBOOT_KEY]["last_outcome"] == (
            "RebootRequired (rebooted)"
        )

        # -- reapply_on_boot: a value the charger lost is applied again at its boot ------------
        station = stations["b201"]
        station.state.configuration["OCPPCommCtrlr.HeartbeatInterval"] = "999"
        await station.reboot("PowerUp")

        async def reapplied() -> Any:
            page = await api("GET", f"/api/v1/config/applies?profile={fleet201['id']}")
            return [a for a in page["items"] if a["reason"] == "boot" and a["finished_at"]]

        [boot_apply] = await eventually(reapplied, timeout=LONG, interval=0.05)
        assert boot_apply["requested_by"] == "reapply-on-boot"
        assert station.state.configuration["OCPPCommCtrlr.HeartbeatInterval"] == "120"
        # the RebootRequired of b201 is confirmed by that boot too
        confirmed = (await finished(api, apply201))[ids["b201"]][V201_REBOOT_KEY]
        assert confirmed["rebooted_at"] and "in effect" in confirmed["detail"]
    finally:
        for station in stations.values():
            await station.disconnect()
