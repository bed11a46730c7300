"""A throwaway PostgreSQL server of a test's own, to stop and start under load.

Never the machine's shared server: ``initdb`` into a fresh directory, ``pg_ctl`` on a free
loopback port (PostgreSQL 15's binaries from ``pg_config --bindir``, Debian's
/usr/lib/postgresql/15/bin, or PATH). Run as root (as in CI), the server runs as the
``postgres`` system user (PostgreSQL refuses root). fsync is off: the test is about
connections, not about the disk.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import tempfile
from pathlib import Path
from types import TracebackType

from tests.timeouts import TIMEOUT

DEBIAN_BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"


def _bindir() -> Path:
    if (DEBIAN_BIN / "initdb").exists():
        return DEBIAN_BIN
    found = shutil.which("initdb")
    if found is None:
        raise RuntimeError("initdb not found: install PostgreSQL 15 (Debian: postgresql-15)")
    return Path(found).resolve().parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalPostgres:
    """``async with LocalPostgres() as pg``: a running server; ``pg.dsn`` reaches its
    ``postgres`` database; ``await pg.stop()`` / ``await pg.start()`` in between."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="csms-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", SERVER_USER, "--"]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def __aenter__(self) -> LocalPostgres:
        try:
            await self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c max_connections=100"
        )
        await self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    async def stop(self, mode: str = "immediate") -> None:
        """``immediate``: every backend killed at once, recovery at the next start (a crash);
        ``fast``: connections closed, a clean shutdown."""
        await self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def aclose(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                await self.stop()
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def server_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def _run(self, tool: str, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._as_user,
            str(self.bindir / tool),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self.root,
        )
        async with asyncio.timeout(6 * TIMEOUT):
            out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{tool} failed ({process.returncode}):\n{out.decode()}")
