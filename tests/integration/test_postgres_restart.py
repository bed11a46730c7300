"""PostgreSQL restarted under load (docs/topics/deployment.md, "PostgreSQL").

A throwaway PostgreSQL server of this module's own (tests/postgres_server.py, never the
machine's) under a node and a backoffice. Chargers of both versions keep sending meter
values and the API is read all the while; the server is stopped as in a crash (``pg_ctl
-m immediate``: every backend killed, recovery at the next start) and started again.

- An outage shorter than ``CSMS_DB_RETRY_SECONDS``: statements wait for the server and go
  on; at most what was in flight at the crash fails, with a clear error (InternalError to
  the charger, 503 with Retry-After from the API).
- A longer one: what cannot wait fails the same clear way, at once after the wait.

Either way no acknowledged message is lost (a charger is answered only after its rows are
committed), nothing answers a 500 or another error, the pools reconnect by themselves,
and everything works after the restart. The worker goes on running jobs too.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from pgqueuer import PgQueuer

from csms import embedded
from csms.bootstrap import ensure_database
from csms.domain.firmware_campaigns import NewArtifact
from csms.node.runtime import running_node
from csms.passwords import hash_password
from csms.services.billing import HOLD_SESSION, SETTLE_SESSION, SETTLE_SWEEP
from csms.services.firmware import FIRMWARE_SEND, FIRMWARE_TICK
from csms.services.fleet_config import APPLY_JOB, CHARGER_BACK_JOB, OFFLINE_SWEEP
from csms.services.invoices import (
    BILLING_RUN,
    BILLING_RUN_SCHEDULE,
    INVOICE_SWEEP,
    ISSUE_SESSION_INVOICE,
)
from csms.services.payments import PAYMENT_ADVANCE, PAYMENT_SWEEP
from csms.services.security_profiles import UPGRADE_DEADLINE
from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings
from csms.store import chargers, id_tokens, notifications, users
from csms.store import firmware as firmware_store
from csms.store.jobs import PgJobQueue
from csms.store.pool import create_pool, migrate
from csms.store.pool import unavailable as database_unavailable
from csms.worker.alarms import ALARM_SWEEP
from csms.worker.audit import AUDIT_PURGE
from csms.worker.certificates import RENEW_SWEEP
from csms.worker.meters import METER_MIGRATION, METER_ROLLUPS, PARTITION_SWEEP
from csms.worker.runtime import register, running_worker
from simulators.station import CallError, Station, StationConfig
from simulators.transaction import Transaction
from tests.integration.backoffice.conftest import JWT_SECRET, login, serving
from tests.postgres_server import LocalPostgres
from tests.timeouts import TIMEOUT

pytestmark = pytest.mark.integration

CHARGERS = 6
PASSWORD = "restart-test-password-0001"
PASSWORD_HASH = hash_password(PASSWORD)
USER_PASSWORD = "restart-test-user-password"
PACE = TIMEOUT / 200  # between two messages of one charger, two reads of the API


@dataclass
class Throwaway:
    server: LocalPostgres
    dsn: str  # the migrated csms database
    pool: asyncpg.Pool  # the test's own eyes on it


@pytest.fixture(scope="module")
async def throwaway() -> AsyncIterator[Throwaway]:
    async with LocalPostgres() as server:
        await ensure_database(server.dsn, "csms")
        dsn = embedded.with_database(server.dsn, "csms")
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2, retry_seconds=6 * TIMEOUT)
        try:
            yield Throwaway(server, dsn, pool)
        finally:
            await pool.close()


@dataclass
class Load:
    """One station's meter values, and what became of each."""

    station: Station
    tx: Transaction
    acknowledged: int = 0
    refused: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                response = await self.station.send_meter_values(self.tx)
            except CallError as exc:
                self.refused.append(str(exc))
            else:
                assert response is not None, "the socket went down: the message was queued"
                self.acknowledged += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PACE):
                    await stop.wait()


@dataclass
class Reads:
    """GET /api/v1/chargers again and again: each answer's status, and any that is not a
    200 or a problem+json 503 with Retry-After."""

    client: httpx.AsyncClient
    statuses: list[int] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            response = await self.client.get("/api/v1/chargers")
            self.statuses.append(response.status_code)
            if response.status_code == 503:
                problem = response.json()
                if (
                    response.headers["content-type"] != "application/problem+json"
                    or "Retry-After" not in response.headers
                    or "unavailable" not in problem["detail"]
                ):
                    self.wrong.append(f"{response.headers} {response.text}")
            elif response.status_code != 200:
                self.wrong.append(f"{response.status_code} {response.text}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PACE):
                    await stop.wait()


@pytest.mark.parametrize(
    ("retry_seconds", "down_seconds"),
    [
        pytest.param(3 * TIMEOUT, TIMEOUT / 5, id="shorter-than-the-wait"),
        pytest.param(TIMEOUT / 20, TIMEOUT / 3, id="longer-than-the-wait"),
    ],
)
async def test_node_and_api_ride_out_a_postgres_restart_under_load(
    throwaway: Throwaway,
    redis_url: str,
    redis_prefix: str,
    retry_seconds: float,
    down_seconds: float,
) -> None:
    pool = throwaway.pool
    ids = [f"PG-{secrets.token_hex(4)}" for _ in range(CHARGERS)]
    for charge_point_id in ids:
        await chargers.add_charger(pool, charge_point_id, password_hash=PASSWORD_HASH)
    username = f"reader-{secrets.token_hex(3)}"
    await users.add_user(pool, username, password_hash=hash_password(USER_PASSWORD), role="monitor")
    node_settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"pg-{secrets.token_hex(3)}",
        heartbeat_interval=60,
        db_retry_seconds=retry_seconds,
        db_pool_min=1,
        db_pool_max=4,
    )
    api_settings = BackofficeSettings(
        database_url=throwaway.dsn,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret=JWT_SECRET,
        db_retry_seconds=retry_seconds,
        db_pool_min=1,
        db_pool_max=2,
    )
    async with (
        running_node(node_settings, throwaway.dsn) as node,
        serving(api_settings) as backoffice,
        httpx.AsyncClient(base_url=backoffice.url, timeout=6 * TIMEOUT) as client,
    ):
        token = (await login(client, username, USER_PASSWORD)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        loads = []
        for i, charge_point_id in enumerate(ids):
            station = Station(
                StationConfig(
                    url=f"ws://127.0.0.1:{node.port}/ocpp",
                    charge_point_id=charge_point_id,
                    version=("1.6", "2.0.1")[i % 2],
                    password=PASSWORD,
                    meter_interval=TIMEOUT / 50,
                    call_timeout=6 * TIMEOUT,
                    open_timeout=TIMEOUT,
                )
            )
            await station.connect()
            assert (await station.boot())["status"] == "Accepted"
            id_token = f"TAG-{secrets.token_hex(4)}"
            await id_tokens.add_id_token(pool, id_token)
            loads.append(Load(station, await station.start_transaction(1, id_token)))
        reads = Reads(client)
        stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as group:
                for load in loads:
                    group.create_task(load.run(stop))
                group.create_task(reads.run(stop))
                try:
                    await asyncio.sleep(TIMEOUT / 10)  # the load runs
                    before = [load.acknowledged for load in loads]
                    await throwaway.server.stop("immediate")
                    await asyncio.sleep(down_seconds)
                    await throwaway.server.start()
                    # everything is answered again, for every charger and the API
                    after = [load.acknowledged + 3 for load in loads]
                    refused_then = sum(len(load.refused) for load in loads)
                    async with asyncio.timeout(3 * TIMEOUT):
                        while any(
                            load.acknowledged < n for load, n in zip(loads, after, strict=True)
                        ):
                            await asyncio.sleep(PACE)
                    reads_then = len(reads.statuses)
                    async with asyncio.timeout(3 * TIMEOUT):
                        while len(reads.statuses) < reads_then + 3:
                            await asyncio.sleep(PACE)
                finally:
                    stop.set()
        finally:
            stop.set()
            for load in loads:
                await load.station.disconnect()

    assert all(load.acknowledged > n for load, n in zip(loads, before, strict=True))
    refused = [reason for load in loads for reason in load.refused]
    assert all(
        reason == "InternalError: database unavailable; send it again later" for reason in refused
    ), refused
    assert sum(len(load.refused) for load in loads) == refused_then  # none after the restart
    assert reads.wrong == []
    assert reads.statuses[-3:] == [200, 200, 200]
    if retry_seconds > down_seconds:  # at most what was in flight at the crash failed
        assert len(refused) <= CHARGERS, refused
    else:  # the outage outlasted the wait: messages and reads failed, clearly
        assert refused and 503 in reads.statuses, (refused, reads.statuses)
    # no acknowledged meter value is lost; a refused one may have been stored before its
    # connection broke
    for load in loads:
        stored = await pool.fetchval(
            """SELECT count(DISTINCT m.sampled_at) FROM meter_values m
               JOIN transactions t ON t.id = m.transaction_pk
               WHERE t.charge_point_id = $1 AND m.context = 'Sample.Periodic'""",
            load.station.config.charge_point_id,
        )
        assert load.acknowledged <= stored <= load.acknowledged + len(load.refused)


async def test_the_worker_rides_out_a_postgres_restart(throwaway: Throwaway) -> None:
    """Jobs enqueued after the restart still run (found by polling: PgQueuer's notification
    connection died with the server), and the worker stops cleanly afterwards."""
    settings = WorkerSettings(
        job_poll_interval=TIMEOUT / 20, job_retry_delay=TIMEOUT / 100, db_retry_seconds=TIMEOUT
    )
    ran: list[int] = []
    async with running_worker(settings, throwaway.dsn) as worker:

        async def probe(payload: dict[str, Any]) -> None:
            ran.append(int(payload["n"]))

        register(worker, "restart-probe", probe)
        running = asyncio.create_task(worker.run())
        jobs = PgJobQueue(worker.pool)
        try:
            await jobs.enqueue("restart-probe", {"n": 1})
            await until_ran(ran, [1])
            await throwaway.server.stop("immediate")
            await asyncio.sleep(TIMEOUT / 5)
            await throwaway.server.start()
            await jobs.enqueue("restart-probe", {"n": 2})  # waits for the server if need be
            await until_ran(ran, [1, 2])
            assert not running.done()
        finally:
            worker.stop()
            async with asyncio.timeout(TIMEOUT):
                await running  # no error: the stop was asked for


async def until_ran(ran: list[int], expected: list[int]) -> None:
    async with asyncio.timeout(3 * TIMEOUT):
        while sorted(ran) != expected:
            await asyncio.sleep(TIMEOUT / 100)


async def test_a_worker_whose_queue_broke_starts_a_new_one(
    throwaway: Throwaway, redis_url: str, redis_prefix: str
) -> None:
    """PostgreSQL going away while PgQueuer fetches jobs ends PgQueuer's run (what the crash
    above does when it lands mid-query): the worker starts a new queue with the same
    entrypoints and schedules (every job of the worker: settlement, invoices, payments,
    security profiles, firmware campaigns), and jobs run on."""
    settings = WorkerSettings(
        job_poll_interval=TIMEOUT / 20, job_retry_delay=TIMEOUT / 100, redis_prefix=redis_prefix
    )
    ran: list[int] = []
    async with running_worker(settings, throwaway.dsn, redis_url) as worker:

        async def probe(payload: dict[str, Any]) -> None:
            ran.append(int(payload["n"]))

        register(worker, "broken-probe", probe)
        broken = worker.queue

        async def crash(**_: Any) -> None:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")

        broken.run = crash  # type: ignore[method-assign]
        running = asyncio.create_task(worker.run())
        try:
            await PgJobQueue(worker.pool).enqueue("broken-probe", {"n": 7})
            await until_ran(ran, [7])
            assert worker.queue is not broken
            assert (
                entrypoints(worker.queue) == entrypoints(broken) >= WORKER_JOBS | {"broken-probe"}
            )
            assert {name for name, _ in schedules(worker.queue)} == WORKER_SCHEDULES
            assert schedules(worker.queue) == schedules(broken)
        finally:
            worker.stop()
            async with asyncio.timeout(TIMEOUT):
                await running


WORKER_JOBS = {
    SETTLE_SESSION, HOLD_SESSION, ISSUE_SESSION_INVOICE, BILLING_RUN, PAYMENT_ADVANCE,
    UPGRADE_DEADLINE, FIRMWARE_TICK, FIRMWARE_SEND, APPLY_JOB, CHARGER_BACK_JOB,
    notifications.FAN_OUT_JOB, notifications.DELIVER_JOB,
}  # fmt: skip
WORKER_SCHEDULES = {
    SETTLE_SWEEP, BILLING_RUN_SCHEDULE, INVOICE_SWEEP, PAYMENT_SWEEP, RENEW_SWEEP, OFFLINE_SWEEP,
    ALARM_SWEEP,
    notifications.SWEEP_SCHEDULE,
    AUDIT_PURGE,
    PARTITION_SWEEP, METER_ROLLUPS, METER_MIGRATION,
}  # fmt: skip


def entrypoints(queue: PgQueuer) -> set[str]:
    return {str(name) for name in queue.qm.entrypoint_registry}


def schedules(queue: PgQueuer) -> set[tuple[str, str]]:
    return {(str(key.entrypoint), str(key.expression)) for key in queue.sm.registry}


async def test_a_firmware_upload_cut_by_a_restart_fails_and_keeps_nothing(
    throwaway: Throwaway,
) -> None:
    """A large object is written chunk by chunk in one transaction: PostgreSQL going away
    mid-stream fails the upload (an "unavailable" error: the API answers 503) instead of the
    pool sending the rest again on a new connection, and neither a row nor a large object
    is left once the server is back."""
    pool = await create_pool(throwaway.dsn, min_size=1, max_size=2, retry_seconds=TIMEOUT)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(4):
            if n == 2:
                await throwaway.server.stop("immediate")
            sent.append(n)
            yield bytes([n]) * 65536

    def seal() -> tuple[int, str]:
        raise AssertionError("the upload cannot have reached its end")

    try:
        with pytest.raises(Exception) as failure:  # noqa: PT011 (which one is checked below)
            await firmware_store.add_artifact(
                pool,
                NewArtifact(version=f"cut-{secrets.token_hex(3)}", file_name="fw.bin"),
                chunks(),
                seal,
                directory=None,
            )
        assert database_unavailable(failure.value), repr(failure.value)
        assert sent == [0, 1, 2]  # the generator was not started again
    finally:
        await throwaway.server.start()
        await pool.close()
    assert await throwaway.pool.fetchval("SELECT count(*) FROM firmware_artifacts") == 0
    assert await throwaway.pool.fetchval("SELECT count(*) FROM pg_largeobject_metadata") == 0
