"""Node CPU per connecting charger (TCP accept, WebSocket upgrade, BootNotification,
StatusNotification), in process, under a connect rate the node keeps up with.

    python bench/storm.py                       # 5,000 chargers at 1,000/s, three rounds
    python bench/storm.py --profile storm.txt   # the same under py-spy (raw stacks)
    python bench/storm.py --floor               # the floor: websockets alone, fixed answers

A boot storm's rate is this cost's inverse: at 500 us a charger one core accepts at most
2,000 a second. ``bench/run.py``'s idle scenario measures the storm itself (rate, latency,
handshakes), where a node behind its offered rate also pays for the backlog; this measures
the cost alone, so a change to the connect path shows up as microseconds. The node runs in
this process pinned to CPU 0 (``--floor``: a bare websockets server answering every CALL
with a fixed payload, no database, no Redis: what the WebSocket layer alone costs); the fleet (``csms-sim fleet``), PostgreSQL and Redis on
CPU 1. Uses CSMS_BENCH_DATABASE_URL / CSMS_TEST_DATABASE_URL and CSMS_BENCH_REDIS_URL /
CSMS_TEST_REDIS_URL. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from floor import floor_server  # noqa: E402 (bench/floor.py, beside this script)
from pinning import ServicePinning  # noqa: E402 (bench/pinning.py, beside this script)
from scratch import database_server, notes, redis_server, run_main, scratch_database  # noqa: E402

from csms.cluster.connect import redis_client  # noqa: E402
from csms.node.collector import gc_pauses  # noqa: E402
from csms.node.runtime import running_node  # noqa: E402
from csms.settings import NodeSettings  # noqa: E402
from csms.store import chargers  # noqa: E402
from csms.store.pool import migrate  # noqa: E402

NODE_CPU, FLEET_CPU = 0, 1


note = notes("storm")


def fleet(url: str, count: int, first: int, args: argparse.Namespace) -> subprocess.Popen[str]:
    command = [
        "taskset", "-c", str(FLEET_CPU), str(Path(sys.executable).parent / "csms-sim"),
        "fleet", "--url", url, "--chargers", str(count), "--first-index", str(first),
        "--processes", "2", "--id-prefix", "S-", "--connect-rate", str(args.rate),
        "--heartbeat", "600", "--session-share", "0", "--duration", str(args.hold),
        "--v201-share", str(args.v201_share),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


async def one_round(
    port: int, connected: Callable[[], int], first: int, args: argparse.Namespace
) -> float:
    """Node CPU seconds from the fleet's start until every charger is connected and its
    boot and status are answered (the fleet reports it), divided by the chargers."""
    url = f"ws://127.0.0.1:{port}/ocpp"
    before = time.process_time()
    pauses = gc_pauses()
    passes = {g: (p.count, p.seconds) for g, p in pauses.generations.items()}
    collected = pauses.total_seconds()
    process = fleet(url, args.chargers, first, args)
    # connected: the handshake is done; each then boots and reports its status within a
    # few ms. The fleet holds them `hold` seconds, long after the last status.
    while connected() < args.chargers and process.poll() is None:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # the last boots and statuses
    used = time.process_time() - before
    collected = pauses.total_seconds() - collected
    note(
        f"garbage collector: {collected / args.chargers * 1e6:.0f} us per charger ("
        + ", ".join(
            f"gen{g} {p.count - passes[g][0]} passes {p.seconds - passes[g][1]:.2f} s"
            for g, p in pauses.generations.items()
        )
        + ")"
    )
    stdout, _ = await asyncio.to_thread(process.communicate)
    result = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
    if result["boots"] != args.chargers or result["call_errors"] or result["timeouts"]:
        raise RuntimeError(f"the fleet did not boot cleanly: {result}")
    note(
        f"offered {args.chargers / result['connect_window_s']:.0f}/s, booted "
        f"{result['boots'] / result['boot_window_s']:.0f}/s; handshake p50 / p99 "
        f"{result['connect_p50_ms']} / {result['connect_p99_ms']} ms, boot p50 / p99 "
        f"{result['boot_p50_ms']} / {result['boot_p99_ms']} ms"
    )
    while connected():  # the fleet closed them: let the node finish before the next round
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    return used / args.chargers


@contextlib.asynccontextmanager
async def server(
    args: argparse.Namespace, settings: NodeSettings, dsn: str, redis_url: str
) -> AsyncIterator[tuple[int, Callable[[], int]]]:
    """The node (or the floor): its port and how many chargers it holds."""
    if args.floor:
        async with floor_server() as floor:
            yield floor
        return
    async with running_node(settings, dsn, redis_url) as node:
        yield node.port, lambda: len(node.connections)


async def measure(args: argparse.Namespace, dsn: str, redis_url: str) -> None:
    await migrate(dsn)
    prefix = f"storm-{secrets.token_hex(3)}"
    settings = NodeSettings(node_id="bench-storm", port=0, redis_prefix=prefix)
    total = args.chargers * args.rounds
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    pinning = ServicePinning(note)
    await pinning.pin(pool, redis_url, FLEET_CPU)
    try:
        await chargers.add_chargers_bulk(pool, [f"S-{i}" for i in range(total)], password_hash=None)
        os.sched_setaffinity(0, {NODE_CPU})
        async with server(args, settings, dsn, redis_url) as (port, connected):
            profiler = None
            if args.profile:
                profiler = subprocess.Popen(
                    ["py-spy", "record", "-r", "250", "-f", "raw", "-o", args.profile,
                     *args.py_spy, "-p", str(os.getpid())],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                await asyncio.sleep(1.0)
            figures = []
            for n in range(args.rounds):
                per = await one_round(port, connected, n * args.chargers, args)
                figures.append(per * 1e6)
                note(f"round {n + 1}: {per * 1e6:.0f} us per charger")
            if profiler is not None:
                profiler.send_signal(2)  # SIGINT: py-spy writes its output
                profiler.wait()
    finally:
        pinning.restore()
        redis = redis_client(redis_url)
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await pool.close()
    sys.stdout.write(
        ("floor (websockets alone)" if args.floor else "node")
        + f" CPU per connecting charger ({args.chargers} at {args.rate:.0f}/s, "
        f"{args.v201_share:.0%} on 2.0.1): "
        + ", ".join(f"{f:.0f}" for f in sorted(figures))
        + " us (sorted); a core accepts at most "
        + f"{1e6 / min(figures):.0f}/s at the best\n"
    )


async def run(args: argparse.Namespace) -> None:
    server, redis_url = await database_server(), await redis_server()
    async with scratch_database(server, "csms_bench_storm") as dsn:
        await measure(args, dsn, redis_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=5000, help="per round")
    parser.add_argument("--rate", type=float, default=1000.0, help="connections offered/s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds after the last connect")
    parser.add_argument("--v201-share", type=float, default=0.2)
    parser.add_argument(
        "--floor", action="store_true", help="a bare websockets server instead of the node"
    )
    parser.add_argument("--profile", help="py-spy raw stacks of the node to this file")
    parser.add_argument(
        "--py-spy", action="append", default=[], help="an extra py-spy option (--native)"
    )
    run_main(run(parser.parse_args()))


if __name__ == "__main__":
    main()
