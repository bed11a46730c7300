"""Benchmark a csms node against the ocpp-as-shipped baseline and print a table.

    python bench/run.py                 # quick: a few thousand chargers, ~2 minutes
    python bench/run.py --full          # the issue's sizes (50,000 idle chargers, ...)

Starts PostgreSQL/Redis (CSMS_BENCH_DATABASE_URL / CSMS_BENCH_REDIS_URL, else the machine's
defaults, else embedded), a fresh database, one node pinned to CPU 0 and the fleet
(`csms-sim fleet`) pinned to CPU 1; then the same sustained scenario against
bench/baseline_csms.py. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from node_metrics import gc_pauses  # bench/node_metrics.py, beside this script
from pinning import ServicePinning  # bench/pinning.py, beside this script
from scratch import database_server, notes, redis_server  # bench/scratch.py, beside it

from csms import embedded
from csms.bootstrap import ensure_database
from csms.cluster.bus import CommandClient
from csms.cluster.connect import redis_client
from csms.cluster.keys import Keys
from csms.store import chargers, id_tokens
from csms.store.pool import create_pool, migrate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NODE_CPU, FLEET_CPU = "0", "1"


def _pin(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


@dataclass
class Proc:
    popen: subprocess.Popen[str]
    ready_line: str

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()


def start(cmd: Sequence[str], env: dict[str, str], ready: str) -> Proc:
    popen = subprocess.Popen(
        list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert popen.stdout is not None
    deadline = time.time() + 60
    while time.time() < deadline:
        line = popen.stdout.readline()
        if ready in line:
            return Proc(popen, line)
        if not line and popen.poll() is not None:
            break
    popen.kill()
    raise RuntimeError(f"{cmd[0]} did not start")


SHOW_FLEET = False  # --show-fleet: the fleets' live status lines go to stderr


def fleet(
    url: str, chargers_: int, *, first: int, extra: Sequence[str], processes: int = 1
) -> dict[str, Any]:
    cmd = [
        *_pin(FLEET_CPU), str(BIN / "csms-sim"), "fleet", "--url", url,
        "--chargers", str(chargers_), "--first-index", str(first),
        "--processes", str(processes), *extra,
    ]  # fmt: skip
    done = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=None if SHOW_FLEET else subprocess.PIPE,
        text=True,
        timeout=3600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"fleet failed: {(done.stderr or '')[-500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Sampler:
    """CPU and RSS of a process over a window."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.cpu0 = proc.cpu_seconds()
        self.t0 = time.monotonic()

    def cpu_percent(self) -> float:
        return 100 * (self.proc.cpu_seconds() - self.cpu0) / (time.monotonic() - self.t0)


async def main(args: argparse.Namespace) -> None:
    server_dsn, redis_url = await database_server(), await redis_server()
    name = f"csms_bench_{secrets.token_hex(3)}"
    await ensure_database(server_dsn, name)
    dsn = embedded.with_database(server_dsn, name)
    await migrate(dsn)
    pool = await create_pool(dsn, min_size=1, max_size=4)
    total = args.idle + args.sustained * 2 + args.background_idle
    await chargers.add_chargers_bulk(pool, [f"B-{i}" for i in range(total)], password_hash=None)
    await id_tokens.add_id_token(pool, "FLEET-TAG", allow_concurrent=True)
    prefix = f"bench-{secrets.token_hex(3)}:"
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": dsn,
        "CSMS_REDIS_URL": redis_url,
        "CSMS_REDIS_PREFIX": prefix,
        "CSMS_LOG_LEVEL": "WARNING",
        "CSMS_DB_POOL_MAX": "20",
    }
    rows: list[tuple[str, str, str]] = []
    wanted = set(args.scenarios.split(","))
    pinning = ServicePinning(note)
    if args.pin_services and _pin(FLEET_CPU):
        await pinning.pin(pool, redis_url, int(FLEET_CPU))
    try:
        rows = await scenarios(args, wanted, dsn, env, pool, redis_url, prefix)
    finally:
        pinning.restore()
    await pool.close()
    if not args.keep:
        await clean_up(server_dsn, name, redis_url, prefix)
    if any(k == "csms: messages/s per CPU-second" for k, _, _ in rows) and any(
        k == "baseline: messages/s per CPU-second" for k, _, _ in rows
    ):
        ours = next(float(v) for k, v, _ in rows if k == "csms: messages/s per CPU-second")
        base = next(float(v) for k, v, _ in rows if k == "baseline: messages/s per CPU-second")
        rows.append(
            ("ratio csms / baseline (messages per CPU-second)", f"{ours / base:.1f}x", ">= 5x")
        )
    print_table(rows, args)


async def scenarios(
    args: argparse.Namespace,
    wanted: set[str],
    dsn: str,
    env: dict[str, str],
    pool: asyncpg.Pool,
    redis_url: str,
    prefix: str,
) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    if wanted & {"idle", "sustained"}:
        [node] = start_nodes(1, env)
        try:
            if "idle" in wanted:
                rows += await scenario_idle(node, node_url(node), args)
            if "sustained" in wanted:
                rows += await scenario_sustained(
                    [node], pool, redis_url, prefix, args, "csms", first=args.idle
                )
        finally:
            node.stop()
    if "cluster" in wanted:
        nodes = start_nodes(args.nodes, env)
        try:
            rows += await scenario_sustained(
                nodes, pool, redis_url, prefix, args, f"{args.nodes} nodes", first=args.idle
            )
        finally:
            for n in nodes:
                n.stop()
        rows += cluster_rows(rows, args)
    if "baseline" in wanted:
        rows += await run_baseline(dsn, env, pool, prefix, args)
    return rows


async def clean_up(server_dsn: str, name: str, redis_url: str, prefix: str) -> None:
    """Drop the run's database and Redis keys (``--keep`` leaves them for a look)."""
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    redis = redis_client(redis_url)
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await redis.delete(*batch)
                batch.clear()
        if batch:
            await redis.delete(*batch)
    finally:
        await redis.aclose()
    note(f"dropped database {name} and Redis keys {prefix}*")


def start_nodes(count: int, env: dict[str, str]) -> list[Proc]:
    """``count`` nodes of one cluster (same database and Redis prefix), all on NODE_CPU."""
    nodes: list[Proc] = []
    try:
        for i in range(count):
            nodes.append(
                start(
                    [
                        *_pin(NODE_CPU),
                        str(BIN / "csms"),
                        "node",
                        "--node-id",
                        f"bench-{i}",
                        "--port",
                        "0",
                    ],
                    env,
                    "chargers connect to",
                )  # fmt: skip
            )
    except BaseException:
        for n in nodes:
            n.stop()
        raise
    return nodes


def node_url(node: Proc) -> str:
    # "csms node bench-0: chargers connect to ws://127.0.0.1:PORT/ocpp/{charge_point_id}"
    return node.ready_line.split("connect to ", 1)[1].split("/{", 1)[0]


def cluster_rows(
    rows: list[tuple[str, str, str]], args: argparse.Namespace
) -> list[tuple[str, str, str]]:
    """Per-node-CPU efficiency of N nodes against one node, from the same invocation."""
    label = f"{args.nodes} nodes: messages/s per CPU-second"
    one = [float(v) for k, v, _ in rows if k == "csms: messages/s per CPU-second"]
    many = [float(v) for k, v, _ in rows if k == label]
    if not one or not many:
        return []
    efficiency = many[0] / one[0]
    return [(
        f"{args.nodes} nodes vs one: messages per node-CPU-second",
        f"{efficiency:.2f}x ({efficiency * args.nodes:.1f}x with a core each)",
        ">= 2.7x for three nodes",
    )]  # fmt: skip


async def run_baseline(
    dsn: str, env: dict[str, str], pool: asyncpg.Pool, prefix: str, args: argparse.Namespace
) -> list[tuple[str, str, str]]:
    baseline = start(
        [*_pin(NODE_CPU), sys.executable, str(ROOT / "bench" / "baseline_csms.py"),
         "--dsn", dsn, "--port", str(args.baseline_port)],
        env,
        "baseline listening",
    )  # fmt: skip
    try:
        baseline.ready_line = f"connect to ws://127.0.0.1:{args.baseline_port}/{{id}}"
        return await scenario_sustained(
            [baseline], pool, None, prefix, args, "baseline",
            first=args.idle + args.sustained,
        )  # fmt: skip
    finally:
        baseline.stop()


async def scenario_idle(
    node: Proc, url: str, args: argparse.Namespace
) -> list[tuple[str, str, str]]:
    note(f"idle: {args.idle} chargers")
    rss0 = node.rss_kib()
    gc0 = gc_pauses(url)
    cpu0 = node.cpu_seconds()
    result = fleet(
        url, args.idle, first=0, processes=args.fleet_processes,
        extra=["--id-prefix", "B-", "--connect-rate", str(args.connect_rate),
               "--heartbeat", "60", "--session-share", "0", "--duration", str(args.hold),
               "--v201-share", "0.2"],
    )  # fmt: skip
    rss = node.rss_kib()
    collected = gc_pauses(url).since(gc0)
    cpu = node.cpu_seconds() - cpu0
    # the fleet held them for `hold` seconds; RSS was read right after (sockets still closing)
    per = (rss - rss0) / max(result["peak_connected"], 1)
    boots_per_s = result["boots"] / result["boot_window_s"] if result["boot_window_s"] else 0
    offered = args.idle / result["connect_window_s"] if result["connect_window_s"] else 0
    return [
        ("chargers held (idle, heartbeat 60 s)", f"{result['peak_connected']}", "50,000"),
        ("RSS per charger", f"{per:.1f} KiB", "<= 24 KiB"),
        ("boot storm offered (connections started per second)", f"{offered:.0f}/s", "2,000/s"),
        ("boot storm (BootNotification + DB writes)", f"{boots_per_s:.0f}/s", ">= 2,000/s"),
        ("boot storm p99", f"{result['boot_p99_ms']} ms", "< 250 ms"),
        (
            "boot storm WebSocket handshake p50 / p99",
            f"{result['connect_p50_ms']} / {result['connect_p99_ms']} ms",
            "",
        ),
        ("node garbage-collector pauses (storm and hold)", collected.describe(), ""),
        (
            "node CPU per charger (storm and hold: connect, boot, status, heartbeats)",
            f"{cpu / max(result['boots'], 1) * 1e6:.0f} us",
            "",
        ),
        (
            "idle fleet errors",
            str(result["connect_failures"] + result["call_errors"] + result["timeouts"]),
            "0",
        ),
    ]


async def scenario_sustained(
    procs: Sequence[Proc],
    pool: asyncpg.Pool,
    redis_url: str | None,
    prefix: str,
    args: argparse.Namespace,
    label: str,
    *,
    first: int,
) -> list[tuple[str, str, str]]:
    """The sustained profile over ``procs`` (one fleet per node, chargers split evenly)."""
    note(f"{label}: sustained load with {args.sustained} chargers on {len(procs)} process(es)")
    rows0 = await pool.fetchval("SELECT count(*) FROM meter_values")
    extra = ["--id-prefix", "B-", "--connect-rate", str(args.connect_rate / len(procs)),
             "--heartbeat", "30", "--meter-interval", str(args.meter_interval),
             "--session-share", "1", "--session-meter-values", "1000",
             "--duration", str(args.duration), "--v201-share", str(args.v201_share),
             "--samples", str(args.samples), "--warmup", str(args.warmup)]  # fmt: skip
    share = args.sustained // len(procs)
    loop = asyncio.get_running_loop()
    background = None
    if args.background_idle and label != "baseline":
        background = await idle_besides(procs, args, loop)
    whole_run = [Sampler(p) for p in procs]
    fleets = [
        loop.run_in_executor(
            None,
            functools.partial(
                fleet,
                node_url(p),
                share,
                first=first + i * share,
                extra=extra,
                processes=max(1, args.fleet_processes // len(procs)),
            ),
        )  # fmt: skip
        for i, p in enumerate(procs)
    ]
    ramp = args.sustained / args.connect_rate + 3
    await asyncio.sleep(ramp + 2)
    samplers = [Sampler(p) for p in procs]
    measured = label != "baseline"  # a csms node: it serves its GC pauses
    gc0 = [gc_pauses(node_url(p)) for p in procs] if measured else []
    t0 = time.monotonic()
    window_from = datetime.now(UTC)
    rtts: list[float] = []
    if redis_url is not None:
        note("commands through Redis")
        rtts = await commands(redis_url, prefix, args, first, share * len(procs))
        note(f"{len(rtts)} commands answered")
    await asyncio.sleep(max(0.0, args.duration - 6 - (time.monotonic() - t0)))
    cpu = sum(s.cpu_percent() for s in samplers)
    collected = (
        [gc_pauses(node_url(p)).since(b) for p, b in zip(procs, gc0, strict=True)]
        if measured
        else []
    )
    elapsed = time.monotonic() - t0
    window_to = datetime.now(UTC)
    note("waiting for the fleet to finish")
    results = await asyncio.gather(*fleets)
    note("fleet done")
    idle_errors = 0
    if background is not None:
        for result in await asyncio.gather(*background):
            idle_errors += (
                result["call_errors"] + result["timeouts"] + result["connect_failures"]
                + result["disconnects"]
            )  # fmt: skip
    cpu_seconds = sum(w.proc.cpu_seconds() - w.cpu0 for w in whole_run)
    # counted once the fleet is done: a count(*) during the run competes with the writes
    rows_total = await pool.fetchval("SELECT count(*) FROM meter_values") - rows0
    window_rows = await pool.fetchval(
        "SELECT count(*) FROM meter_values WHERE received_at >= $1 AND received_at < $2",
        window_from,
        window_to,
    )
    offered = share * len(procs) * (1 / args.meter_interval + 1 / 30)
    answered = sum(r["answered"] for r in results)
    sent = sum(r["sent"] for r in results)
    values_answered = sum(r.get("values_answered", 0) for r in results)
    errors = sum(r["call_errors"] + r["timeouts"] + r["connect_failures"] for r in results)
    # everything the fleet got answered (boots included) per second of the server's CPU
    msgs_per_cpu_s = answered / max(cpu_seconds, 1e-9)
    worst = "" if len(results) == 1 else " (worst fleet)"
    p50 = max(float(r["p50_ms"]) if r["p50_ms"] != "-" else 0.0 for r in results)
    p99 = max(float(r["p99_ms"]) if r["p99_ms"] != "-" else 0.0 for r in results)
    out = [
        (f"{label}: offered load", f"{offered:.0f} msg/s", ""),
        (f"{label}: node CPU at that load", f"{cpu:.0f} % of a core", "<= 80 % at 5,000 msg/s"),
        (f"{label}: messages/s per CPU-second", f"{msgs_per_cpu_s:.0f}", ""),
        (f"{label}: node CPU per answered message", f"{1e6 / max(msgs_per_cpu_s, 1e-9):.0f} us", ""),
        (f"{label}: charger-to-CSMS latency p50 / p99{worst}", f"{p50:.1f} / {p99:.1f} ms", "p99 < 50 ms"),
        (f"{label}: errors (CALLERROR, timeouts, connects)", str(errors), "0"),
        (f"{label}: answered / sent", f"{answered} / {sent} ({100 * answered / max(sent, 1):.2f} %)", ">= 99 %"),
        (f"{label}: sampled values stored/s (in the window)", f"{window_rows / elapsed:.0f}", ">= 30,000/s"),
    ]  # fmt: skip
    if label != "baseline":
        out.append((
            f"{label}: sampled values answered (fleet) / stored (database)",
            f"{values_answered} / {rows_total}",
            "stored >= answered: none lost",
        ))  # fmt: skip
    if background is not None:
        out.append((f"{label}: idle chargers besides, errors", str(idle_errors), "0"))
    for n, pauses in enumerate(collected):
        name = "node" if len(collected) == 1 else f"node {n}"
        out.append((f"{label}: {name} garbage-collector pauses (window)", pauses.describe(), ""))
    if rtts:
        out.append((
            f"{label}: command round trip via Redis under load p50 / p99",
            f"{statistics.median(rtts) * 1000:.1f} / {sorted(rtts)[int(len(rtts) * 0.99) - 1] * 1000:.1f} ms",
            "p50 <= 5 ms, p99 <= 50 ms",
        ))  # fmt: skip
    return out


async def idle_besides(
    procs: Sequence[Proc], args: argparse.Namespace, loop: asyncio.AbstractEventLoop
) -> list[asyncio.Future[dict[str, Any]]]:
    """``--background-idle`` chargers connected (heartbeat 60 s, no sessions) through the
    sustained run, started first; returns the fleets to await once the run is over."""
    first = args.idle + args.sustained * 2
    share = args.background_idle // len(procs)
    note(f"{args.background_idle} idle chargers besides")
    hold = args.background_idle / args.connect_rate + 3 + args.sustained / args.connect_rate
    hold += args.duration + 15
    extra = ["--id-prefix", "B-", "--connect-rate", str(args.connect_rate / len(procs)),
             "--heartbeat", "60", "--session-share", "0", "--duration", str(hold),
             "--v201-share", str(args.v201_share)]  # fmt: skip
    futures = [
        loop.run_in_executor(
            None,
            functools.partial(
                fleet, node_url(p), share, first=first + i * share, extra=extra, processes=1
            ),
        )
        for i, p in enumerate(procs)
    ]
    await asyncio.sleep(args.background_idle / args.connect_rate + 3)
    return futures


async def commands(
    redis_url: str, prefix: str, args: argparse.Namespace, first: int, count: int
) -> list[float]:
    redis = redis_client(redis_url)
    client = CommandClient(redis, Keys(prefix))
    await client.start()
    rtts = []
    stop_at = time.monotonic() + args.duration / 2  # stay inside the load window
    try:
        for _ in range(args.commands):
            if time.monotonic() > stop_at:
                break
            cp = f"B-{first + random.randrange(count)}"
            t0 = time.perf_counter()
            try:
                await client.send(cp, "clear_cache", {}, timeout=5)
            except Exception:
                continue
            rtts.append(time.perf_counter() - t0)
            await asyncio.sleep(1 / args.command_rate)
    finally:
        await client.close()
        await redis.aclose()
    return rtts


note = notes("bench")


def print_table(rows: list[tuple[str, str, str]], args: argparse.Namespace) -> None:
    width = max(len(r[0]) for r in rows)
    out = sys.stdout
    out.write(f"\n{'figure'.ljust(width)}  {'measured':>22}  target\n")
    for name, value, target in rows:
        out.write(f"{name.ljust(width)}  {value:>22}  {target}\n")
    out.write(f"\n(cpus={os.cpu_count()}, idle={args.idle}, sustained={args.sustained}, "
              f"meter_interval={args.meter_interval}s)\n")  # fmt: skip


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--sustained", type=int, default=3000)
    parser.add_argument("--meter-interval", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--hold", type=float, default=10.0)
    parser.add_argument("--connect-rate", type=float, default=2000.0)
    parser.add_argument("--fleet-processes", type=int, default=2)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--command-rate", type=float, default=50.0)
    parser.add_argument("--baseline-port", type=int, default=9788)
    parser.add_argument(
        "--scenarios",
        default="idle,sustained,baseline",
        help="comma-separated: idle, sustained, cluster, baseline",
    )
    parser.add_argument("--nodes", type=int, default=3, help="nodes in the cluster scenario")
    parser.add_argument(
        "--v201-share",
        type=float,
        default=0.2,
        help="share of the sustained fleet speaking OCPP 2.0.1 (1: all of it)",
    )
    parser.add_argument(
        "--samples", type=int, default=8, help="sampled values per meter value (1..8)"
    )
    parser.add_argument(
        "--background-idle",
        type=int,
        default=0,
        help="idle chargers kept connected through the sustained run (not the baseline's)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds after the last connection before latencies count (session starts)",
    )
    parser.add_argument(
        "--no-pin-services",
        dest="pin_services",
        action="store_false",
        help="leave PostgreSQL and Redis on every CPU (default: pinned to CPU 1 for the run)",
    )
    parser.add_argument(
        "--show-fleet", action="store_true", help="the fleets' live status lines on stderr"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and Redis keys")
    args = parser.parse_args(argv)
    global SHOW_FLEET
    SHOW_FLEET = args.show_fleet
    if args.full:
        args.idle, args.sustained, args.hold = 50_000, 5000, 30.0
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
