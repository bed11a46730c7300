"""`csms` run as an operator runs it: a process of its own, configured by its environment.

The CLI gets a database of its own (so ``--all`` sees this package's chargers only; each test
starts with none registered), the run's Redis under the test's key prefix, and a node of the
same cluster in this process on port 0, with simulated stations over real WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from csms import embedded
from csms.bootstrap import ensure_database
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from csms.store import chargers
from csms.store.pool import create_pool, migrate
from simulators.framing import Call, CallErrorFrame, CallResult
from simulators.station import Station, StationConfig
from tests.timeouts import TIMEOUT

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# the console script pyproject.toml installs (`csms = "csms.cli:main"`)
CSMS = Path(sys.executable).parent / "csms"

Cli = Callable[..., Awaitable[tuple[int, str, str]]]
Online = Callable[..., contextlib.AbstractAsyncContextManager["RecordingStation"]]


@pytest.fixture(scope="package")
async def cli_database_url(database_url: str) -> AsyncIterator[str]:
    name = urlsplit(database_url).path.lstrip("/") + "_cli"
    await ensure_database(database_url, name)
    dsn = embedded.with_database(database_url, name)
    await migrate(dsn)
    yield dsn
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
async def cli_pool(cli_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The CLI's database, with no charger registered when the test starts."""
    pool = await create_pool(cli_database_url, min_size=1, max_size=2)
    for charger in await chargers.list_chargers(pool, limit=10_000):
        await chargers.remove_charger(pool, charger.charge_point_id)
    yield pool
    await pool.close()


@pytest.fixture
def cli(cli_database_url: str, redis_url: str, prefix: str) -> Cli:
    """``await cli("command", "CP-1", "reset")``: (exit status, stdout, stderr) of
    ``python -m csms.cli ...`` (``executable=CSMS``: the installed ``csms`` script;
    ``stdin=b"..."``: what it reads on standard input, else nothing; ``extra_env``: more
    ``CSMS_*`` variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env.update(
        CSMS_DATABASE_URL=cli_database_url,
        CSMS_REDIS_URL=redis_url,
        CSMS_REDIS_PREFIX=prefix,
        CSMS_ENV="dev",
    )

    async def run(
        *args: str,
        executable: Path | None = None,
        stdin: bytes | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> tuple[int, str, str]:
        argv = [str(executable), *args] if executable else [sys.executable, "-m", "csms.cli", *args]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env if extra_env is None else {**env, **extra_env},
            cwd=PROJECT_ROOT,
        )
        try:
            async with asyncio.timeout(TIMEOUT):
                out, err = await process.communicate(stdin)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    return run


@pytest.fixture
async def node(cli_database_url: str, redis_url: str, prefix: str) -> AsyncIterator[Node]:
    """A node of the CLI's cluster, on port 0 (drained at the end)."""
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"cli-{secrets.token_hex(3)}",
        redis_prefix=prefix,
        heartbeat_interval=60,
    )
    async with running_node(settings, cli_database_url, redis_url) as node:
        yield node


RegisterCharger = Callable[[], Awaitable[str]]


@pytest.fixture
def register_charger(cli_pool: asyncpg.Pool) -> RegisterCharger:
    """A charger registered without credentials; its id."""

    async def register() -> str:
        charge_point_id = f"CLI-{secrets.token_hex(4)}"
        await chargers.add_charger(cli_pool, charge_point_id, password_hash=None)
        return charge_point_id

    return register


class RecordingStation(Station):
    """A simulated station that also remembers every CALL the CSMS sent it."""

    def __init__(self, config: StationConfig) -> None:
        super().__init__(config)
        self.received: list[Call] = []

    def answer(self, call: Call) -> CallResult | CallErrorFrame:
        self.received.append(call)
        return super().answer(call)

    def received_actions(self) -> list[str]:
        return [call.action for call in self.received]


@pytest.fixture
def online(node: Node) -> Online:
    """``async with online(cp, "2.0.1", vendor=..., model=..., firmware_version=...)``: a
    station connected to ``node`` and booted (Accepted); disconnected on exit."""

    @contextlib.asynccontextmanager
    async def connected(
        charge_point_id: str, version: str = "1.6", **identity: str
    ) -> AsyncIterator[RecordingStation]:
        station = RecordingStation(
            StationConfig(
                url=f"ws://127.0.0.1:{node.port}/ocpp",
                charge_point_id=charge_point_id,
                version=version,
                call_timeout=TIMEOUT,
                open_timeout=TIMEOUT,
                **identity,  # type: ignore[arg-type]
            )
        )
        await station.connect()
        try:
            response = await station.boot()
            assert response["status"] == "Accepted", response
            yield station
        finally:
            await station.disconnect()

    return connected


@pytest.fixture
async def no_tariff_assignments(cli_pool: asyncpg.Pool) -> AsyncIterator[None]:
    """No tariff assigned anywhere, no price display push and no site when the test starts,
    and again after it: a default tariff left behind would push price displays to the
    stations of other tests. (Tariffs stay: tests name theirs uniquely.)"""

    async def clear() -> None:
        await cli_pool.execute("DELETE FROM tariff_assignments")
        await cli_pool.execute("DELETE FROM tariff_pushes")
        await cli_pool.execute("DELETE FROM sites")

    await clear()
    yield
    await clear()
