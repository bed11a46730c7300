"""The floor under the node: what the required libraries cost alone on this machine.

    python bench/floor.py                 # 100 charging 2.0.1 chargers, one event a second
    python bench/floor.py --no-durable    # the same without the database write

A bare ``websockets`` server (uvloop, orjson) answers every CALL with a fixed payload; with
``--durable`` (the default) it first writes the frame to PostgreSQL with one asyncpg
``INSERT`` per CALL, which is the least a CSMS that answers only after a durable write can
do at a low rate, where nothing else arrives to share the statement. The fleet is the one
``bench/run.py`` runs (``csms-sim fleet``, pinned to CPU 1 with PostgreSQL and Redis; the
server on CPU 0), so the figure is directly comparable with the node's "node CPU per
answered message". ``bench/storm.py --floor`` uses the same server for a connect storm.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402
from pinning import ServicePinning  # noqa: E402 (bench/pinning.py, beside this script)
from scratch import database_server, notes, redis_server, run_main, scratch_database  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from csms.domain.clock import format_timestamp, utc_now  # noqa: E402

SERVER_CPU, FLEET_CPU = 0, 1
SUBPROTOCOLS = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]


note = notes("floor")


@contextlib.asynccontextmanager
async def floor_server(
    pool: asyncpg.Pool | None = None,
) -> AsyncIterator[tuple[int, Callable[[], int]]]:
    """A bare websockets server on a free port: its port and how many sockets it holds.
    With ``pool``, each CALL is inserted into ``floor_frames`` before it is answered."""
    open_sockets: set[ServerConnection] = set()
    now = format_timestamp(utc_now())
    boot = {"status": "Accepted", "currentTime": now, "interval": 600}
    answers = {"BootNotification": boot, "Heartbeat": {"currentTime": now}}

    async def answer(websocket: ServerConnection) -> None:
        open_sockets.add(websocket)
        try:
            async for frame in websocket:
                message = orjson.loads(frame)
                if message[0] != 2:
                    continue
                if pool is not None:
                    text = frame if isinstance(frame, str) else frame.decode()
                    await pool.execute("INSERT INTO floor_frames (frame) VALUES ($1)", text)
                reply = [3, message[1], answers.get(message[2], {})]
                await websocket.send(orjson.dumps(reply).decode(), text=True)
        except ConnectionClosed:
            pass
        finally:
            open_sockets.discard(websocket)

    async with serve(
        answer, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS, ping_interval=None,
        compression=None, backlog=4096,
    ) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        yield port, lambda: len(open_sockets)


async def measure(args: argparse.Namespace, dsn: str, redis_url: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    await pool.execute(
        "CREATE TABLE floor_frames (id bigserial PRIMARY KEY, "
        "received_at timestamptz NOT NULL DEFAULT now(), frame text NOT NULL)"
    )
    pinning = ServicePinning(note)
    await pinning.pin(pool, redis_url, FLEET_CPU)
    os.sched_setaffinity(0, {SERVER_CPU})
    try:
        async with floor_server(pool if args.durable else None) as (port, _):
            command = [
                "taskset", "-c", str(FLEET_CPU), str(Path(sys.executable).parent / "csms-sim"),
                "fleet", "--url", f"ws://127.0.0.1:{port}/ocpp", "--chargers",
                str(args.chargers), "--processes", "1", "--id-prefix", "F-",
                "--connect-rate", "1000", "--heartbeat", "30", "--meter-interval",
                str(args.meter_interval), "--session-share", "1",
                "--session-meter-values", "1000", "--v201-share", str(args.v201_share),
                "--duration", str(args.duration), "--warmup", "0",
            ]  # fmt: skip
            before = time.process_time()
            done = await asyncio.to_thread(
                subprocess.run, command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, check=True,
            )  # fmt: skip
            used = time.process_time() - before
    finally:
        pinning.restore()
        stored = await pool.fetchval("SELECT count(*) FROM floor_frames")
        await pool.close()
    result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    answered = result["answered"]  # boots included, as bench/run.py counts
    sys.stdout.write(
        f"floor ({'websockets + one INSERT per CALL' if args.durable else 'websockets alone'}"
        f", {args.chargers} chargers, {args.v201_share:.0%} on 2.0.1): "
        f"{used / max(answered, 1) * 1e6:.0f} us of CPU per answered message, "
        f"{answered} answered, p50 / p99 {result['p50_ms']} / {result['p99_ms']} ms, "
        f"{stored} rows stored\n"
    )


async def run(args: argparse.Namespace) -> None:
    server, redis_url = await database_server(), await redis_server()
    async with scratch_database(server, "csms_bench_floor") as dsn:
        await measure(args, dsn, redis_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--meter-interval", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--v201-share", type=float, default=1.0)
    parser.add_argument("--durable", action=argparse.BooleanOptionalAction, default=True)
    run_main(run(parser.parse_args()))


if __name__ == "__main__":
    main()
