"""Alarms end to end (issue 15, docs/topics/alarms.md): simulated chargers over real
WebSockets to ``csms node`` processes, the worker's sweeps in process, the REST API with
real tokens, PostgreSQL and Redis.

- a Faulted connector (1.6 errorCode, 2.0.1 Faulted) raises once and clears on recovery,
  and the transitions are on the live stream (SSE ``/api/v1/events``);
- a flapping connector is one alarm with a count;
- maintenance silences a charger;
- monitors acknowledge, operators clear, over REST; the history records who; bad input is
  refused;
- a charger that goes silent raises ``charger_offline`` once and clears on reconnect;
- exactly once across two nodes, one of them SIGKILLed while its chargers are faulted, with
  two workers sweeping at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from csms.settings import BackofficeSettings, WorkerSettings
from csms.store import users
from csms.worker.runtime import running_worker
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import eventually, move, new_station, online, register_chargers
from tests.integration.backoffice.conftest import (
    USER_PASSWORD,
    USER_PASSWORD_HASH,
    login,
    serving,
)
from tests.timeouts import TIMEOUT

JWT_SECRET = "e2e-alarms-jwt-secret-" + "k" * 40


async def alarms_of(pool: asyncpg.Pool, charge_point_id: str, alarm_type: str) -> list[Any]:
    return list(
        await pool.fetch(
            "SELECT * FROM alarms WHERE charge_point_id = $1 AND type = $2 ORDER BY id",
            charge_point_id,
            alarm_type,
        )
    )


async def actions(pool: asyncpg.Pool, alarm_id: int) -> list[tuple[str, str | None]]:
    rows = await pool.fetch(
        "SELECT action, by FROM alarm_history WHERE alarm_id = $1 ORDER BY id", alarm_id
    )
    return [(r["action"], r["by"]) for r in rows]


async def one_in_state(
    pool: asyncpg.Pool, charge_point_id: str, alarm_type: str, state: str
) -> Any:
    rows = await alarms_of(pool, charge_point_id, alarm_type)
    return rows[0] if len(rows) == 1 and rows[0]["state"] == state else None


class Api:
    """The REST API of the cluster with a monitor's and an operator's client."""

    def __init__(self, monitor: httpx.AsyncClient, operator: httpx.AsyncClient) -> None:
        self.monitor = monitor
        self.operator = operator
        self.monitor_name = ""
        self.operator_name = ""


@pytest.fixture
async def api(
    database_url: str, redis_url: str, prefix: str, pool: asyncpg.Pool
) -> AsyncIterator[Api]:
    settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        jwt_secret=JWT_SECRET,
        db_pool_min=1,
        db_pool_max=3,
    )
    names = {role: f"{role}-{secrets.token_hex(4)}" for role in ("monitor", "operator")}
    for role, name in names.items():
        await users.add_user(pool, name, password_hash=USER_PASSWORD_HASH, role=role)
    async with serving(settings) as backoffice:
        async with (
            httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as monitor,
            httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as operator,
        ):
            for client, name in ((monitor, names["monitor"]), (operator, names["operator"])):
                token = (await login(client, name, USER_PASSWORD)).json()["access_token"]
                client.headers["Authorization"] = f"Bearer {token}"
            found = Api(monitor, operator)
            found.monitor_name, found.operator_name = names["monitor"], names["operator"]
            yield found


@contextlib.asynccontextmanager
async def worker(
    database_url: str, redis_url: str, prefix: str, **settings: Any
) -> AsyncIterator[None]:
    """``csms worker``'s alarm sweeps (and the rest of its start-up), in process."""
    config = WorkerSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        db_pool_min=1,
        db_pool_max=3,
        alarm_sweep_interval=0.3,
        **settings,
    )
    async with running_worker(config, database_url, redis_url):
        yield


async def test_faulted_raises_once_clears_on_recovery_and_streams_live(
    cluster: Cluster, pool: asyncpg.Pool, api: Api
) -> None:
    (n1,) = await cluster.start("n1")
    cp16, cp201 = await register_chargers(pool, 2)
    s16 = await online(new_station(n1.url, cp16, "1.6"))
    s201 = await online(new_station(n1.url, cp201, "2.0.1"))
    # 1.6: an errorCode other than NoError is a fault even if the status is not Faulted
    await s16.status_notification(1, "Available", "GroundFailure")
    await s16.status_notification(1, "Faulted", "GroundFailure")  # the same condition
    await s201.status_notification(1, "Faulted")
    for cp in (cp16, cp201):
        raised = await eventually(
            lambda cp=cp: one_in_state(pool, cp, "connector_faulted", "raised"), f"{cp} raised"
        )
        assert raised["count"] == 1 and raised["severity"] == "major"
    assert "GroundFailure" in (await alarms_of(pool, cp16, "connector_faulted"))[0]["message"]

    await s16.status_notification(1, "Available", "NoError")
    await s201.status_notification(1, "Available")
    for cp in (cp16, cp201):
        cleared = await eventually(
            lambda cp=cp: one_in_state(pool, cp, "connector_faulted", "cleared"),
            f"{cp} cleared",
        )
        assert cleared["cleared_by"] is None  # automatically
        assert await actions(pool, cleared["id"]) == [("raised", None), ("cleared", None)]

    # the live stream (SSE) carried both transitions
    seen = await sse_types(api.monitor, cp201, {"alarm.raised", "alarm.cleared"})
    assert seen >= {"alarm.raised", "alarm.cleared"}


async def sse_types(client: httpx.AsyncClient, charge_point_id: str, wanted: set[str]) -> set[str]:
    """Event types of ``GET /api/v1/events?types=alarm`` for one charger, replayed from the
    start of the stream, until every wanted type was seen."""
    seen: set[str] = set()
    async with asyncio.timeout(TIMEOUT):
        async with client.stream(
            "GET",
            "/api/v1/events",
            params={"types": "alarm", "charge_point_id": charge_point_id},
            headers={"Last-Event-ID": "0"},
        ) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    event = orjson.loads(line[len("data: ") :])
                    assert event["type"].startswith("alarm.")
                    seen.add(event["type"])
                    if wanted <= seen:
                        break
    return seen


async def test_a_flapping_connector_is_one_alarm_with_a_count(
    cluster: Cluster, pool: asyncpg.Pool
) -> None:
    (n1,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    station = await online(new_station(n1.url, cp, "2.0.1"))
    for _ in range(3):
        await station.status_notification(1, "Faulted")
        await station.status_notification(1, "Available")
    await station.status_notification(1, "Faulted")
    alarm = await eventually(
        lambda: one_in_state(pool, cp, "connector_faulted", "raised"), "one open alarm"
    )
    assert alarm["count"] == 4
    assert [a for a, _ in await actions(pool, alarm["id"])] == [
        "raised",
        "cleared",
        "reraised",
        "cleared",
        "reraised",
        "cleared",
        "reraised",
    ]


async def test_maintenance_silences_a_charger_and_its_site(
    cluster: Cluster, pool: asyncpg.Pool, api: Api
) -> None:
    (n1,) = await cluster.start("n1")
    cp, other = await register_chargers(pool, 2)
    station = await online(new_station(n1.url, cp, "1.6"))
    put = await api.operator.put(
        f"/api/v1/chargers/{cp}/maintenance", json={"enabled": True, "note": "swap board"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["enabled"] is True and put.json()["set_by"] == api.operator_name
    assert (
        await api.monitor.put(f"/api/v1/chargers/{cp}/maintenance", json={"enabled": False})
    ).status_code == 403
    # the alarm is decided before the charger gets its answer: nothing was raised
    await station.status_notification(1, "Faulted", "PowerSwitchFailure")
    assert await alarms_of(pool, cp, "connector_faulted") == []

    # a site in maintenance silences its chargers too
    site = f"S-{secrets.token_hex(4)}"
    created = await api.operator.post(
        "/api/v1/sites", json={"id": site, "name": "Depot", "time_zone": "Europe/Amsterdam"}
    )
    assert created.status_code == 201, created.text
    assigned = await api.operator.put(f"/api/v1/chargers/{other}/site", json={"site_id": site})
    assert assigned.status_code in (200, 204), assigned.text
    assert (
        await api.operator.put(f"/api/v1/sites/{site}/maintenance", json={"enabled": True})
    ).status_code == 200
    second = await online(new_station(n1.url, other, "2.0.1"))
    await second.status_notification(1, "Faulted")
    assert await alarms_of(pool, other, "connector_faulted") == []

    # out of maintenance, the next fault raises
    off = await api.operator.put(f"/api/v1/chargers/{cp}/maintenance", json={"enabled": False})
    assert off.json()["enabled"] is False
    await station.status_notification(1, "Available", "NoError")
    await station.status_notification(1, "Faulted", "PowerSwitchFailure")
    assert len(await alarms_of(pool, cp, "connector_faulted")) == 1


async def test_ack_and_clear_over_rest_record_who(
    cluster: Cluster, pool: asyncpg.Pool, api: Api
) -> None:
    (n1,) = await cluster.start("n1")
    (cp,) = await register_chargers(pool, 1)
    station = await online(new_station(n1.url, cp, "2.0.1"))
    await station.status_notification(2, "Faulted")
    listed = await api.monitor.get(
        "/api/v1/alarms", params={"charger": cp, "state": "open", "type": "connector_faulted"}
    )
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    alarm_id = item["id"]
    assert (item["state"], item["subject"]) == ("raised", "2/1")  # EVSE 2, connector 1

    acked = await api.monitor.post(f"/api/v1/alarms/{alarm_id}/ack", json={"note": "looking"})
    assert acked.status_code == 200, acked.text
    body = acked.json()
    assert (body["state"], body["acknowledged_by"], body["ack_note"]) == (
        "acknowledged",
        api.monitor_name,
        "looking",
    )
    again = await api.monitor.post(f"/api/v1/alarms/{alarm_id}/ack", json={"note": "x"})
    assert again.status_code == 409
    assert (
        await api.monitor.post(f"/api/v1/alarms/{alarm_id}/clear", json={"note": "x"})
    ).status_code == 403  # monitors acknowledge; operators clear
    cleared = await api.operator.post(
        f"/api/v1/alarms/{alarm_id}/clear", json={"note": "replaced the fuse"}
    )
    assert cleared.status_code == 200, cleared.text
    detail = cleared.json()
    assert (detail["state"], detail["cleared_by"], detail["clear_note"]) == (
        "cleared",
        api.operator_name,
        "replaced the fuse",
    )
    assert [(h["action"], h["by"], h["note"]) for h in detail["history"]] == [
        ("raised", None, None),
        ("acknowledged", api.monitor_name, "looking"),
        ("cleared", api.operator_name, "replaced the fuse"),
    ]
    assert (
        await api.operator.post(f"/api/v1/alarms/{alarm_id}/clear", json={"note": "x"})
    ).status_code == 409
    assert (await api.monitor.get(f"/api/v1/alarms/{2**62}")).status_code == 404
    filtered = await api.monitor.get(
        "/api/v1/alarms", params={"charger": cp, "state": "cleared", "severity": "major"}
    )
    assert [a["id"] for a in filtered.json()["items"]] == [alarm_id]
    seen = await sse_types(api.monitor, cp, {"alarm.raised", "alarm.acknowledged", "alarm.cleared"})
    assert seen == {"alarm.raised", "alarm.acknowledged", "alarm.cleared"}

    # bad input: a clear error, nothing stored
    for bad in (
        {"type": "charger_offline", "threshold": -1},
        {"type": "volcano"},
        {"type": "connector_faulted", "threshold": 5},
        {"type": "charger_offline", "scope": "charger", "target": ""},
        {"type": "charger_offline", "severity": "apocalyptic"},
    ):
        refused = await api.operator.post("/api/v1/alarm-rules", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert (
        await api.monitor.get("/api/v1/alarms", params={"severity": "apocalyptic"})
    ).status_code == 422
    assert (
        await api.operator.post(
            "/api/v1/alarm-rules",
            json={"type": "charger_offline", "scope": "charger", "target": "NO-SUCH-CP"},
        )
    ).status_code == 404
    rule = {"type": "charger_offline", "scope": "charger", "target": cp, "threshold": 60}
    made = await api.operator.post("/api/v1/alarm-rules", json=rule)
    assert made.status_code == 201, made.text
    assert (await api.operator.post("/api/v1/alarm-rules", json=rule)).status_code == 409
    assert (await api.monitor.post("/api/v1/alarm-rules", json=rule)).status_code == 403
    rule_id = made.json()["id"]
    changed = await api.operator.put(
        f"/api/v1/alarm-rules/{rule_id}", json={"enabled": False, "threshold": 120}
    )
    assert (changed.json()["enabled"], changed.json()["threshold"]) == (False, 120)
    assert (await api.operator.delete(f"/api/v1/alarm-rules/{rule_id}")).status_code == 204
    assert (await api.monitor.get(f"/api/v1/alarm-rules/{rule_id}")).status_code == 404


async def test_a_silent_charger_raises_offline_once_and_clears_on_reconnect(
    cluster: Cluster, pool: asyncpg.Pool, database_url: str, redis_url: str, prefix: str
) -> None:
    (n1,) = await cluster.start("n1")
    quiet, chatty = await register_chargers(pool, 2)
    station = await online(new_station(n1.url, quiet, "1.6"))
    await online(new_station(n1.url, chatty, "2.0.1"))
    async with worker(database_url, redis_url, prefix, alarm_offline_after=2):
        await station.disconnect()  # goes silent
        alarm = await eventually(
            lambda: one_in_state(pool, quiet, "charger_offline", "raised"),
            "offline raised",
            timeout=2 + TIMEOUT,
        )
        assert alarm["count"] == 1
        # several sweeps later: still the one alarm, never one for the connected charger
        await asyncio.sleep(1.0)
        assert len(await alarms_of(pool, quiet, "charger_offline")) == 1
        assert await alarms_of(pool, chatty, "charger_offline") == []
        await online(station)
        cleared = await eventually(
            lambda: one_in_state(pool, quiet, "charger_offline", "cleared"), "offline cleared"
        )
        assert [a for a, _ in await actions(pool, cleared["id"])] == ["raised", "cleared"]


async def test_exactly_once_across_two_nodes_with_one_sigkilled(
    cluster: Cluster, pool: asyncpg.Pool, database_url: str, redis_url: str, prefix: str
) -> None:
    """Chargers faulted on n1; n1 is SIGKILLed; some reconnect to n2 and report the fault
    again (no second alarm), then recover (cleared once); the others never come back
    (offline raised once, with two workers sweeping concurrently); n1 is gone (node_gone
    raised once)."""
    cluster.settings["CSMS_PRESENCE_SWEEP_INTERVAL"] = "1"
    n1, n2 = await cluster.start("n1", "n2")
    ids = await register_chargers(pool, 6)
    movers, lost = ids[:4], ids[4:]
    stations = {
        cp: await online(new_station(n1.url, cp, "1.6" if i % 2 else "2.0.1"))
        for i, cp in enumerate(ids)
    }
    async with (
        worker(database_url, redis_url, prefix, alarm_offline_after=2),
        worker(database_url, redis_url, prefix, alarm_offline_after=2),
    ):
        for station in stations.values():
            await station.status_notification(1, "Faulted", "OtherError")
        for cp in ids:
            await eventually(
                lambda cp=cp: one_in_state(pool, cp, "connector_faulted", "raised"), cp
            )
        assert await cluster.kill(n1) == -9
        await asyncio.gather(*(stations[cp].drop() for cp in lost))
        for cp in movers:
            await move(stations[cp], n2.url)
            await stations[cp].status_notification(1, "Faulted", "OtherError")  # still
        for cp in lost:
            await eventually(
                lambda cp=cp: one_in_state(pool, cp, "charger_offline", "raised"),
                f"{cp} offline",
                timeout=3 * TIMEOUT,
            )

        async def node_gone() -> Any:
            rows = await pool.fetch(
                "SELECT * FROM alarms WHERE type = 'node_gone' AND subject = $1",
                f"{prefix}n1",
            )
            return rows if rows and rows[0]["state"] == "raised" else None

        (gone,) = await eventually(node_gone, "n1 gone", timeout=3 * TIMEOUT)
        assert gone["severity"] == "critical"
        for cp in movers:
            await stations[cp].status_notification(1, "Available", "NoError")
        for cp in movers:
            cleared = await eventually(
                lambda cp=cp: one_in_state(pool, cp, "connector_faulted", "cleared"), cp
            )
            assert [a for a, _ in await actions(pool, cleared["id"])] == ["raised", "cleared"]
        await asyncio.sleep(1.0)  # a few more sweeps of both workers
        for cp in lost:
            (offline,) = await alarms_of(pool, cp, "charger_offline")
            assert offline["state"] == "raised"
            assert [a for a, _ in await actions(pool, offline["id"])] == ["raised"]
            (faulted,) = await alarms_of(pool, cp, "connector_faulted")
            assert faulted["state"] == "raised"  # its connector was faulted when it vanished
        for cp in movers:
            assert await alarms_of(pool, cp, "charger_offline") == []
        gone_history = await actions(pool, gone["id"])
        assert gone_history == [("raised", None)]


async def test_notify_event_security_event_and_boot_loop_over_the_wire(
    cluster: Cluster, pool: asyncpg.Pool
) -> None:
    """2.0.1 NotifyEvent Alerting (N07) raises and its ``cleared`` event clears; a critical
    SecurityEventNotification (2.0.1 appendix, 1.6 security whitepaper) raises; three boots
    answered Pending raise a boot loop, and an Accepted boot clears it."""
    (n1,) = await cluster.start("n1")
    cp201, cp16 = await register_chargers(pool, 2)
    s201 = await online(new_station(n1.url, cp201, "2.0.1"))
    s16 = await online(new_station(n1.url, cp16, "1.6"))
    event = {
        "eventId": 11,
        "timestamp": "2026-12-05T12:00:00Z",
        "trigger": "Alerting",
        "actualValue": "93",
        "eventNotificationType": "CustomMonitor",
        "variableMonitoringId": 4,
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Temperature"},
    }
    notify = {"generatedAt": "2026-12-05T12:00:00Z", "seqNo": 0, "eventData": [event]}
    await s201.call("NotifyEvent", notify)
    (problem,) = await alarms_of(pool, cp201, "charger_problem")
    assert problem["state"] == "raised" and problem["details"]["variableMonitoringId"] == 4
    await s201.call("NotifyEvent", {**notify, "eventData": [{**event, "cleared": True}]})
    (problem,) = await alarms_of(pool, cp201, "charger_problem")
    assert problem["state"] == "cleared"

    tamper = {"type": "TamperDetectionActivated", "timestamp": "2026-12-05T12:00:00Z"}
    await s201.call("SecurityEventNotification", tamper)
    await s16.call("SecurityEventNotification", {**tamper, "techInfo": "door opened"})
    await s16.call(
        "SecurityEventNotification",
        {"type": "FailedToAuthenticateAtCsms", "timestamp": "2026-12-05T12:00:00Z"},
    )  # not critical: no alarm
    for cp in (cp201, cp16):
        (security,) = await alarms_of(pool, cp, "security_event")
        assert (security["severity"], security["subject"]) == (
            "critical",
            "TamperDetectionActivated",
        )

    await pool.execute(
        "UPDATE chargers SET boot_policy = 'pending' WHERE charge_point_id = $1", cp16
    )
    for _ in range(3):
        assert (await s16.boot())["status"] == "Pending"
    (loop,) = await alarms_of(pool, cp16, "boot_loop")
    assert loop["state"] == "raised" and loop["details"]["boots"] == 3
    await pool.execute(
        "UPDATE chargers SET boot_policy = 'accept' WHERE charge_point_id = $1", cp16
    )
    assert (await s16.boot())["status"] == "Accepted"
    (loop,) = await alarms_of(pool, cp16, "boot_loop")
    assert loop["state"] == "cleared"
