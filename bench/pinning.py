"""Pins the machine's PostgreSQL and Redis to one CPU for a benchmark run, and restores
them after (bench/run.py: node on CPU 0; fleet, PostgreSQL and Redis on CPU 1)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import asyncpg

from csms.cluster.connect import redis_client


def _tasks(pid: int) -> list[int]:
    """The process and its children's thread ids (PostgreSQL: postmaster and backends)."""
    pids = [pid]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(
                line.split()[1]
                for line in status.read_text().splitlines()
                if line.startswith("PPid:")
            )
        except (OSError, StopIteration):
            continue
        if int(ppid) == pid:
            pids.append(int(status.parent.name))
    tids = []
    for p in pids:
        try:
            tids += [int(t.name) for t in Path(f"/proc/{p}/task").iterdir()]
        except OSError:
            continue
    return tids


class ServicePinning:
    """Pins the local PostgreSQL (postmaster, so every new backend too) and Redis to the
    fleet's CPU for the run, as the documented set-up says, and restores their affinity.
    Leaves them alone (with a note) when they are not local or not ours to move."""

    def __init__(self, note: Callable[[str], None]) -> None:
        self._note = note
        self.saved: dict[int, set[int]] = {}

    async def pin(self, pool: asyncpg.Pool, redis_url: str, cpu: int) -> None:
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        roots = []
        try:
            status = Path(f"/proc/{backend}/status").read_text()
            roots.append(
                int(next(x for x in status.splitlines() if x.startswith("PPid:")).split()[1])
            )
        except (OSError, StopIteration):
            self._note("PostgreSQL is not local: not pinned")
        redis = redis_client(redis_url)
        try:
            roots.append(int((await redis.info("server"))["process_id"]))
        except Exception:
            self._note("Redis process not found: not pinned")
        finally:
            await redis.aclose()
        for root in roots:
            try:
                name = Path(f"/proc/{root}/comm").read_text().strip()
            except OSError:
                name = ""
            if not name.startswith(("postgres", "redis")):  # a remote server's pid, here
                self._note(f"process {root} ({name or 'gone'}) is not the server: not pinned")
                continue
            for tid in _tasks(root):
                try:
                    self.saved[tid] = os.sched_getaffinity(tid)
                    os.sched_setaffinity(tid, {cpu})
                except OSError:  # gone meanwhile, or not ours (then say so once)
                    if not Path(f"/proc/{tid}").exists():
                        continue
                    self._note(f"cannot pin process {tid} to CPU {cpu}: run as its owner or root")
                    return
        if self.saved:
            self._note(f"PostgreSQL and Redis pinned to CPU {cpu} ({len(self.saved)} threads)")

    def restore(self) -> None:
        for tid, cpus in self.saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, cpus)
        # backends started during the run inherited the pin from the postmaster: unpin them too
        everything = set(range(os.cpu_count() or 1))
        for tid in list(self.saved):
            for child in _tasks(tid):
                if child not in self.saved:
                    with contextlib.suppress(OSError):
                        os.sched_setaffinity(child, everything)
        self.saved.clear()
