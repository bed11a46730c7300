"""The backoffice on a real uvicorn server, a node of the same cluster, users of every role.

The backoffice runs in its own thread with its own event loop (as if it were another
process), so a test may block on it (the fuzzer does) without stalling the node, which runs
in the tests' loop like the other integration tests' nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from backoffice.app import create_app
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.passwords import hash_password
from csms.settings import BackofficeSettings, NodeSettings, WorkerSettings
from csms.store import users
from csms.worker.runtime import Worker, running_worker
from simulators.station import Station, StationConfig
from tests.timeouts import TIMEOUT

JWT_SECRET = "integration-tests-jwt-secret-" + "k" * 40
USER_PASSWORD = "integration-user-password"
USER_PASSWORD_HASH = hash_password(USER_PASSWORD)
ROLES = ("admin", "operator", "monitor", "driver")


@dataclass(frozen=True)
class Backoffice:
    url: str
    settings: BackofficeSettings
    app: FastAPI


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="package")
def backoffice_settings(database_url: str, redis_url: str, redis_prefix: str) -> BackofficeSettings:
    return BackofficeSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret=JWT_SECRET,
        login_max_attempts=3,
        login_max_attempts_per_ip=100_000,
        login_window_seconds=60,
        max_page_size=50,
        command_timeout=TIMEOUT,
        breaker_fail_max=2,
        breaker_reset_timeout=60,
        sse_keepalive_seconds=0.5,
        db_pool_min=1,
        db_pool_max=4,
    )


@contextlib.asynccontextmanager
async def serving(settings: BackofficeSettings) -> AsyncIterator[Backoffice]:
    """``create_app(settings)`` on uvicorn, port 0, in a thread of its own."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="backoffice", daemon=True)
    thread.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError("the backoffice did not start")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Backoffice(f"http://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, TIMEOUT)


@pytest.fixture(scope="package")
async def backoffice(backoffice_settings: BackofficeSettings) -> AsyncIterator[Backoffice]:
    async with serving(backoffice_settings) as backoffice:
        yield backoffice


@pytest.fixture(scope="package")
async def client(backoffice: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=backoffice.url, timeout=TIMEOUT) as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


NewAccount = Callable[[str], Awaitable[Account]]


@pytest.fixture(scope="package")
def new_account(client: httpx.AsyncClient, pool: asyncpg.Pool) -> NewAccount:
    """A fresh user of ``role``, logged in."""

    async def make(role: str) -> Account:
        username = f"{role}-{secrets.token_hex(4)}"
        user = await users.add_user(pool, username, password_hash=USER_PASSWORD_HASH, role=role)
        response = await login(client, username, USER_PASSWORD)
        assert response.status_code == 200, response.text
        body = response.json()
        return Account(user.id, username, role, body["access_token"], body["refresh_token"])

    return make


@pytest.fixture(scope="package")
async def accounts(new_account: NewAccount) -> dict[str, Account]:
    """One shared account per role (tests that revoke tokens make their own)."""
    return {role: await new_account(role) for role in ROLES}


@pytest.fixture(scope="package")
async def cluster_node(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Node]:
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"bo-test-{secrets.token_hex(3)}",
        redis_prefix=redis_prefix,
        heartbeat_interval=60,
        # it lives as long as the package, beside tests that record presence for nodes
        # that never run: its presence sweep would release them
        presence_sweep_interval=86_400,
    )
    started: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def run() -> None:
        async with running_node(settings, database_url, redis_url) as node:
            started.set_result(node)
            await stop.wait()

    task = asyncio.create_task(run(), name="cluster-node")
    async with asyncio.timeout(TIMEOUT):
        node = await asyncio.shield(started)
    yield node
    stop.set()
    # a node that does not drain must fail the run, not hang it
    done, _ = await asyncio.wait({task}, timeout=TIMEOUT)
    if not done:
        for pending in asyncio.all_tasks():  # shown with the error: what the node waits on
            pending.print_stack(file=sys.stderr)
        task.cancel()
        raise RuntimeError(f"the node did not stop within {TIMEOUT} s")
    task.result()


def station(
    node: Node, charge_point_id: str, password: str | None, version: str = "1.6"
) -> Station:
    return Station(
        StationConfig(
            url=f"ws://127.0.0.1:{node.port}/ocpp",
            charge_point_id=charge_point_id,
            version=version,
            password=password,
            connectors=2,
            meter_interval=0.1,
            call_timeout=TIMEOUT,
        )
    )


async def register_charger(client: httpx.AsyncClient, account: Account) -> tuple[str, str]:
    """A charger registered through the API: ``(charge_point_id, generated password)``."""
    charge_point_id = f"BO-{secrets.token_hex(4)}"
    response = await client.post(
        "/api/v1/chargers", json={"charge_point_id": charge_point_id}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return charge_point_id, response.json()["password"]


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[Worker]:
    """A ``csms worker`` (PgQueuer) settling the sessions the cluster node ends."""
    settings = WorkerSettings(job_poll_interval=0.2, job_retry_delay=0.1)
    async with running_worker(settings, database_url) as running:
        task = asyncio.create_task(running.run())
        yield running
        running.stop()
        await task


async def every_item(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    params: dict[str, str | int] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a paged list, following ``next_cursor`` (the test database is shared by
    the whole run: what a test made need not be on the first page)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        asked: dict[str, str | int] = {**(params or {}), "limit": 200}
        if cursor is not None:
            asked["cursor"] = cursor
        response = await client.get(url, params=asked, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
