"""A firmware campaign across real node processes, one of them SIGKILLed mid-campaign, and
the worker restarted meanwhile (docs/topics/fleet-operations.md, "Firmware campaigns").

The operator uses the CLI (``csms firmware upload``, ``csms firmware rollout create``,
``show``); the backoffice serves the file over HTTP; ``csms worker`` sends UpdateFirmware
(1.6, 5.19) / UpdateFirmware (2.0.1, L02) through the command bus to whichever node holds
each charger. When n1 dies, its chargers reconnect to n2 (what a load balancer does): an
update that was under way goes on there, its statuses recorded by n2 in PostgreSQL; one
that was lost is timed out and sent again. Every charger ends on the new version, confirmed
by its boot.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from csms.settings import BackofficeSettings, WorkerSettings
from csms.worker.runtime import running_worker
from tests.e2e.cluster import Cluster
from tests.e2e.fleet import (
    VERSIONS,
    RecordingStation,
    eventually,
    move,
    new_station,
    online,
    register_chargers,
)
from tests.integration.backoffice.conftest import JWT_SECRET, serving
from tests.timeouts import TIMEOUT

URL_SECRET = "e2e-firmware-url-secret-" + "s" * 20
CHARGERS = 16
VERSION = "3.0.0"


@contextlib.asynccontextmanager
async def worker(
    settings: WorkerSettings, database_url: str, redis_url: str
) -> AsyncIterator[None]:
    async with running_worker(settings, database_url, redis_url) as running:
        task = asyncio.create_task(running.run())
        try:
            yield
        finally:
            running.stop()
            await task


async def states(pool: asyncpg.Pool, campaign_id: int) -> dict[str, int]:
    rows = await pool.fetch(
        """SELECT state, count(*) AS n FROM firmware_targets WHERE campaign_id = $1
           GROUP BY state""",
        campaign_id,
    )
    return {r["state"]: r["n"] for r in rows}


async def test_a_campaign_survives_a_node_killed_and_a_worker_restarted(
    cluster: Cluster,
    pool: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    n1, n2 = await cluster.start("n1", "n2")
    backoffice_settings = BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        jwt_secret=JWT_SECRET,
        firmware_url_secret=URL_SECRET,
        db_pool_min=1,
        db_pool_max=4,
    )
    model = f"E2E-FW-{secrets.token_hex(3)}"
    ids = await register_chargers(pool, CHARGERS)
    stations: list[RecordingStation] = []
    for i, cp in enumerate(ids):
        node = n1 if i < CHARGERS // 2 else n2
        s = new_station(node.url, cp, VERSIONS[i % 2])
        s.config = dataclasses.replace(s.config, model=model, firmware_version="1.0.0")
        stations.append(s)
    await asyncio.gather(*(online(s) for s in stations))
    on_n1 = stations[: CHARGERS // 2]

    image = tmp_path / "fw-3.0.0.bin"
    image.write_bytes(f"CSMS-SIM-FIRMWARE {VERSION}\n".encode() + secrets.token_bytes(300_000))
    code, out, err = await cluster.cli(
        "firmware", "upload", str(image), "--version", VERSION, "--vendor", "SimVendor",
        "--model", model,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("firmware artifact ")
    code, out, err = await cluster.cli(
        "firmware", "rollout", "create", "--target", f"model={model}", "--canary", "4",
        "--waves", "50%,100%", "--max-failure-rate", "25%", "--max-concurrent", "3",
        "--max-attempts", "4", "--retry-delay", "0.5", "--timeout", "answer=5",
        "--timeout", "download=8", "--timeout", "install=8", "--timeout", "confirm=8",
        "--name", "e2e",
    )  # fmt: skip
    assert code == 0, err
    campaign_id = int(out.split(":", 1)[0].removeprefix("campaign "))
    assert f"to {CHARGERS} chargers in 3 waves" in out

    async with serving(backoffice_settings) as backoffice:
        settings = WorkerSettings(
            redis_prefix=prefix,
            job_poll_interval=0.2,
            job_retry_delay=0.1,
            firmware_url_secret=URL_SECRET,
            firmware_base_url=backoffice.url,
            firmware_tick_interval=0.2,
            firmware_command_timeout=TIMEOUT / 2,
        )
        async with worker(settings, database_url, redis_url):

            async def under_way() -> bool:
                found = await states(pool, campaign_id)
                return found.get("succeeded", 0) >= 2

            await eventually(under_way, "the campaign is under way", timeout=TIMEOUT * 3)
        # the worker is gone for a moment; the campaign waits in PostgreSQL
        for s in on_n1:  # where the load balancer will send them after n1 dies
            s.config = dataclasses.replace(s.config, url=n2.url)
        left = await pool.fetchval(
            """SELECT count(*) FROM firmware_targets WHERE campaign_id = $1
               AND state <> 'succeeded' AND charge_point_id = ANY($2)""",
            campaign_id,
            [s.config.charge_point_id for s in on_n1],
        )
        assert left > 0  # n1 dies with chargers of its own still to update
        await cluster.kill(n1)
        await asyncio.gather(*(move(s, n2.url) for s in on_n1 if not s.connected))
        async with worker(settings, database_url, redis_url):

            async def completed() -> dict[str, int] | None:
                status = await pool.fetchval(
                    "SELECT status FROM firmware_campaigns WHERE id = $1", campaign_id
                )
                if status != "completed":
                    # a charger whose reboot raced the kill reconnects like the others
                    for s in on_n1:
                        if not s.connected:
                            with contextlib.suppress(Exception):
                                await move(s, n2.url)
                    return None
                return await states(pool, campaign_id)

            final = await eventually(completed, "the campaign completes", timeout=TIMEOUT * 9)
    assert final == {"succeeded": CHARGERS}
    assert {s.config.firmware_version for s in stations} == {VERSION}
    versions = await pool.fetch(
        "SELECT DISTINCT firmware_version FROM chargers WHERE charge_point_id = ANY($1)", ids
    )
    assert [r["firmware_version"] for r in versions] == [VERSION]
    # the chargers of the killed node were updated through n2
    for s in on_n1:
        assert s.subprotocol is not None and s.config.url == n2.url
    code, out, err = await cluster.cli("firmware", "rollout", "show", str(campaign_id))
    assert code == 0, err
    assert f"campaign {campaign_id} (e2e): completed" in out
