"""`csms-sim fleet` chargers (both versions, separate processes) updated by a campaign, with
injected install failures (``--fail-install 20%``): each charger either boots with the new
version (confirmed) or is failed with InstallationFailed, as it reported."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import httpx

from csms.node.server import Node
from csms.store import chargers
from simulators.fleet.runner import run_fleet
from simulators.fleet.worker import FleetProfile
from tests.integration.backoffice.conftest import Account, Backoffice
from tests.integration.firmware.conftest import Upload, eventually, worker_settings, working
from tests.timeouts import TIMEOUT

CHARGERS = 40
VERSION = "8.1.0"


async def test_a_fleet_with_injected_install_failures(
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
    id_prefix = f"FWF-{secrets.token_hex(3)}-"
    ids = [f"{id_prefix}{i}" for i in range(CHARGERS)]
    await chargers.add_chargers_bulk(pool, ids, password_hash=None)
    profile = FleetProfile(
        url=f"ws://127.0.0.1:{node.port}/ocpp",
        chargers=CHARGERS,
        processes=2,
        id_prefix=id_prefix,
        connect_rate=200,
        heartbeat=5.0,
        session_share=0.0,
        v201_share=0.5,
        duration=TIMEOUT * 4,
        warmup=0.0,
        fail_install=0.2,
    )
    fleet = asyncio.create_task(asyncio.to_thread(run_fleet, profile, status=None))

    async def booted() -> bool:
        count = await pool.fetchval(
            """SELECT count(*) FROM chargers WHERE charge_point_id = ANY($1)
               AND firmware_version = '1.0.0' AND connected_protocol IS NOT NULL""",
            ids,
        )
        return bool(count == CHARGERS)

    await eventually(booted, "the fleet is connected", timeout=TIMEOUT * 2)
    artifact = await upload(VERSION, model="FleetModel", vendor="Fleet")
    created = await client.post(
        "/api/v1/firmware/campaigns",
        headers=operator.headers,
        json={
            "artifact_id": artifact.id,
            "target": {"chargers": ids},
            "canary": 5,
            "waves": ["50%", "100%"],
            "max_failure_rate": "100%",
            "max_concurrent": 15,
            "max_attempts": 1,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    async with working(worker_settings(backoffice, prefix), database_url, redis_url):

        async def completed() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM firmware_campaigns WHERE id = $1", campaign_id
            )
            return status == "completed"

        await eventually(completed, "the campaign completes", timeout=TIMEOUT * 3)
    rows = await pool.fetch(
        """SELECT t.state, t.failure, c.firmware_version FROM firmware_targets t
           JOIN chargers c USING (charge_point_id) WHERE t.campaign_id = $1""",
        campaign_id,
    )
    succeeded = [r for r in rows if r["state"] == "succeeded"]
    failed = [r for r in rows if r["state"] == "failed"]
    assert len(succeeded) + len(failed) == CHARGERS
    assert 0 < len(failed) < CHARGERS  # 20 %: none failing has a chance of 0.8**40
    assert {r["firmware_version"] for r in succeeded} == {VERSION}
    assert {r["failure"] for r in failed} == {"InstallationFailed"}
    assert {r["firmware_version"] for r in failed} == {"1.0.0"}
    summary = await fleet
    assert summary["boots"] == CHARGERS + len(succeeded)  # each update ends in a reboot
    assert (summary["connect_failures"], summary["call_errors"]) == (0, 0)
