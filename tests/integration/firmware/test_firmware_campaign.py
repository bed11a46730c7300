"""A firmware campaign over 50 simulated chargers of both versions (OCPP 1.6 UpdateFirmware
and FirmwareStatusNotification, 5.19 / 4.5; 2.0.1 L02 UpdateFirmware and
FirmwareStatusNotification with requestId, L02.FR.06), run by a real worker through the
command bus and a node, downloaded from the backoffice over HTTP: a canary wave whose
injected install failures exceed the rate halts the campaign (wave 1 never starts); the
operator retries the failed chargers and resumes; every charger then boots with the new
version, which confirms its update. Plus what is refused: a campaign selecting no chargers,
and one overlapping a campaign not finished with its chargers."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from csms.node.server import Node
from simulators.station import Station, StationConfig
from tests.integration.backoffice.conftest import Account, Backoffice
from tests.integration.conftest import PASSWORD
from tests.integration.firmware.conftest import (
    Upload,
    eventually,
    register,
    worker_settings,
    working,
)
from tests.timeouts import TIMEOUT

CHARGERS = 50
CANARY = 10
VERSION = "2.3.1"
CSMS = Path(sys.executable).parent / "csms"


def station(node: Node, charge_point_id: str, version: str, model: str) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=PASSWORD,
            model=model,
            firmware_version="1.0.0",
            call_timeout=TIMEOUT,
        )
    )


async def campaign_of(client: httpx.AsyncClient, account: Account, campaign_id: int) -> Any:
    response = await client.get(
        f"/api/v1/firmware/campaigns/{campaign_id}", headers=account.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def targets_of(
    client: httpx.AsyncClient, account: Account, campaign_id: int, **params: Any
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": 50, **params} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            f"/api/v1/firmware/campaigns/{campaign_id}/targets",
            params=query,
            headers=account.headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def live_events(redis_url: str, prefix: str) -> list[dict[str, Any]]:
    redis = Redis.from_url(redis_url)
    try:
        entries = await redis.xrange(f"{prefix}events")
    finally:
        await redis.aclose()
    found = []
    for _id, fields in entries:
        for kind, cp, _at, data in orjson.loads(fields[b"events"]):
            if kind.startswith("firmware."):
                found.append({"type": kind, "charge_point_id": cp, **data})
    return found


async def csms(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(CSMS),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    async with asyncio.timeout(TIMEOUT * 3):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_a_canary_over_the_failure_rate_halts_then_the_campaign_completes(
    backoffice: Backoffice,
    client: httpx.AsyncClient,
    operator: Account,
    node: Node,
    pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    prefix: str,
    upload: Upload,
) -> None:
    model = f"FW-{secrets.token_hex(3)}"
    ids = await register(pool, CHARGERS, model)
    stations = {
        cp: station(node, cp, "1.6" if i % 2 else "2.0.1", model) for i, cp in enumerate(ids)
    }
    for s in stations.values():
        await s.connect()
        assert (await s.boot())["status"] == "Accepted"
    artifact = await upload(VERSION, model=model)

    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={
            "artifact_id": artifact.id,
            "target": {"model": model},
            "canary": CANARY,
            "waves": ["10%", "50%", "100%"],
            "max_failure_rate": "10%",
            "max_concurrent": 20,
            "max_attempts": 1,
            "name": "canary halts",
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    campaign_id = campaign["id"]
    assert campaign["status"] == "running"
    assert campaign["chargers"] == CHARGERS
    assert [(w["label"], w["size"]) for w in campaign["wave_progress"]] == [
        ("canary", 10),
        ("50%", 15),
        ("100%", 25),
    ]
    # overlapping: the same chargers cannot be in a second unfinished campaign
    overlap = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={"artifact_id": artifact.id, "target": {"chargers": ids[:3]}},
    )
    assert overlap.status_code == 422, overlap.text
    assert "campaign that has not finished with them" in overlap.json()["detail"]

    # two chargers of the canary fail their install: 20 % > 10 %
    canary = [t["charge_point_id"] for t in await targets_of(client, operator, campaign_id)][
        :CANARY
    ]
    failing = canary[:2]
    for cp in failing:
        s = stations[cp]
        s.config = dataclasses.replace(s.config, fail_install=1.0)

    settings = worker_settings(backoffice, prefix)
    async with working(settings, database_url, redis_url):

        async def halted() -> Any:
            found = await campaign_of(client, operator, campaign_id)
            return found if found["status"] == "halted" else None

        view = await eventually(halted, "the campaign halts", timeout=TIMEOUT * 3)
        assert view["halted_reason"].startswith("wave 0: 2 of 10 chargers failed (20.0% > 10%)")
        waves = view["wave_progress"]
        assert waves[1]["started_at"] is None  # the next wave never started
        assert waves[1]["pending"] == 15 and waves[2]["pending"] == 25
        failed = await targets_of(client, operator, campaign_id, state="failed")
        assert sorted(t["charge_point_id"] for t in failed) == sorted(failing)
        assert {t["failure"] for t in failed} == {"InstallationFailed"}

        # pausing a halted campaign is refused; the halt is on the event stream and recorded
        refused = await client.post(
            f"/api/v1/firmware/campaigns/{campaign_id}/pause", headers=operator.headers
        )
        assert refused.status_code == 409, refused.text
        halts = [
            e
            for e in await live_events(redis_url, prefix)
            if e["type"] == "firmware.campaign" and e["campaign_id"] == campaign_id
        ]
        assert [e["kind"] for e in halts if e["kind"] == "halted"] == ["halted"]

        # the operator fixes the chargers, retries the failed and resumes
        for cp in failing:
            s = stations[cp]
            s.config = dataclasses.replace(s.config, fail_install=0.0)
        retried = await client.post(
            f"/api/v1/firmware/campaigns/{campaign_id}/retry-failed", headers=operator.headers
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["retried"] == 2
        resumed = await client.post(
            f"/api/v1/firmware/campaigns/{campaign_id}/resume", headers=operator.headers
        )
        assert resumed.status_code == 200 and resumed.json()["status"] == "running"

        async def completed() -> Any:
            found = await campaign_of(client, operator, campaign_id)
            return found if found["status"] == "completed" else None

        done = await eventually(completed, "the campaign completes", timeout=TIMEOUT * 6)
    assert done["counts"] == {"succeeded": CHARGERS}
    assert [w["succeeded"] for w in done["wave_progress"]] == [10, 15, 25]
    # every charger rebooted into the new firmware, and its boot confirmed the update
    assert {s.config.firmware_version for s in stations.values()} == {VERSION}
    rows = await pool.fetch(
        "SELECT firmware_version FROM chargers WHERE charge_point_id = ANY($1)", ids
    )
    assert {r["firmware_version"] for r in rows} == {VERSION}
    targets = await targets_of(client, operator, campaign_id)
    assert {t["reported_version"] for t in targets} == {VERSION}
    assert {t["from_version"] for t in targets} == {"1.0.0"}
    # at most max_concurrent at once, waves one after another: wave 1 started after the
    # canary finished
    waves = done["wave_progress"]
    assert waves[0]["finished_at"] <= waves[1]["started_at"]
    # what each version reported, in order, for one charger of each
    for version in ("1.6", "2.0.1"):
        cp = next(cp for cp, s in stations.items() if s.config.version == version)
        events = await client.get(
            f"/api/v1/firmware/campaigns/{campaign_id}/events",
            params={"charge_point_id": cp},
            headers=operator.headers,
        )
        states = [e["state"] for e in events.json()["items"]]
        if version == "1.6":
            assert states[-3:] == ["installing", "installed", "succeeded"], states
        else:
            assert states[-3:] == ["installing", "install_rebooting", "succeeded"], states
        assert states[:2] == ["sending", "accepted"] or states[1] == "downloading", states

    # the CLI sees the same
    env = {
        "CSMS_DATABASE_URL": database_url,
        "CSMS_REDIS_URL": redis_url,
        "CSMS_REDIS_PREFIX": prefix,
        "PATH": str(CSMS.parent),
    }
    code, text = await csms("firmware", "rollout", "show", str(campaign_id), env=env)
    assert code == 0, text
    assert f"campaign {campaign_id} (canary halts): completed" in text
    code, text = await csms("firmware", "rollout", "watch", str(campaign_id), env=env)
    assert code == 0, text
    assert "completed" in text and "50/50 updated" in text
    for s in stations.values():
        await s.disconnect()


async def test_a_campaign_selecting_no_chargers_is_refused(
    client: httpx.AsyncClient, operator: Account, upload: Upload, pool: asyncpg.Pool
) -> None:
    model = f"NONE-{secrets.token_hex(3)}"
    artifact = await upload("9.9.9", model=model)
    before = await pool.fetchval("SELECT count(*) FROM firmware_campaigns")
    for target, message in (
        ({"model": model}, "selects no chargers"),
        ({"chargers": ["NO-SUCH-CHARGER"]}, "unknown charger NO-SUCH-CHARGER"),
    ):
        response = await client.post(
            "/api/v1/firmware/campaigns",
            headers=operator.headers,
            json={"artifact_id": artifact.id, "target": target},
        )
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    for body, message in (
        ({"target": {"model": model}, "waves": ["50%"]}, "last wave must be 100%"),
        ({"target": {}}, "at least one of"),
        ({"target": {"model": model}, "max_failure_rate": "150%"}, "between 0% and 100%"),
        ({"target": {"model": model}, "windows": ["25:00-01:00"]}, "HH:MM-HH:MM"),
        ({"target": {"model": model}, "timeouts": {"bake": 1}}, "unknown phase"),
    ):
        response = await client.post(
            "/api/v1/firmware/campaigns",
            headers=operator.headers,
            json={"artifact_id": artifact.id} | body,
        )
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]
    missing = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={"artifact_id": 999_999_999, "target": {"model": model}},
    )
    assert missing.status_code == 404
    assert await pool.fetchval("SELECT count(*) FROM firmware_campaigns") == before
