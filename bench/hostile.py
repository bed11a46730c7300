"""A hostile charger fleet against one node: does one charger hurt another, and does the
node's memory come back once the hostile connections close?

    python bench/hostile.py                      # 100,000 hostile frames over 20 sockets
    python bench/hostile.py --frames 20000 --sockets 5

Starts a `csms node` process (its own database under the server of CSMS_BENCH_DATABASE_URL /
CSMS_TEST_DATABASE_URL, else embedded PostgreSQL; no Redis), connects hostile chargers
(both versions) that send mutated frames (deep nesting, out-of-range integers, dates nobody
can hold, NULs, implausible numbers) and two well-behaved ones that keep sending
MeterValues. Prints the node's RSS before, at the peak and after the hostile sockets closed,
the answers by error code, and whether every well-behaved frame was answered and journaled.
See docs/performance.md ("Hostile chargers").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import secrets
import sys
import time
from pathlib import Path

import asyncpg
import orjson
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import Proc, start  # noqa: E402
from csms import embedded  # noqa: E402
from csms.bootstrap import ensure_database  # noqa: E402
from csms.store import chargers  # noqa: E402
from csms.store.pool import migrate  # noqa: E402

T = "2026-01-01T10:00:00Z"


def _nested(depth: int, leaf: str = '"x"') -> str:
    return "[" * depth + leaf + "]" * depth


HOSTILE_16 = [
    '{"vendorId":"x","data":' + _nested(300) + "}",
    '{"vendorId":"x","data":' + _nested(60, '"\\u0000"') + "}",
    '{"vendorId":"x","data":' + _nested(1000) + "}",
]
FRAMES_16 = [
    ("DataTransfer", HOSTILE_16[0]),
    ("DataTransfer", HOSTILE_16[1]),
    ("DataTransfer", HOSTILE_16[2]),
    ("MeterValues", '{"connectorId":18446744073709551615,"meterValue":[]}'),
    ("MeterValues", '{"connectorId":-1,"meterValue":[]}'),
    ("StatusNotification", '{"connectorId":1,"errorCode":"NoError","status":"Available",'
     '"timestamp":"0000-01-01T00:00:00Z"}'),
    ("MeterValues", '{"connectorId":1,"meterValue":[{"timestamp":"' + T + '",'
     '"sampledValue":[{"value":"-1e999999"}]}]}'),
]  # fmt: skip
FRAMES_201 = [
    ("StatusNotification", '{"timestamp":"' + T + '","connectorStatus":"Available",'
     '"evseId":9223372036854775807,"connectorId":1}'),
    ("StatusNotification", '{"timestamp":"9999-12-31T23:59:59-23:59",'
     '"connectorStatus":"Available","evseId":1,"connectorId":1}'),
    ("Heartbeat", '{"customData":{"vendorId":"v","d":' + _nested(400, '"a\\u0000"') + "}}"),
    ("TransactionEvent", '{"eventType":"Started","timestamp":"' + T + '",'
     '"triggerReason":"CablePluggedIn","seqNo":1.0,"transactionInfo":{"transactionId":"h"},'
     '"evse":{"id":1e300}}'),
    ("MeterValues", '{"evseId":1,"meterValue":[{"timestamp":"' + T + '","sampledValue":'
     '[{"value":1,"unitOfMeasure":{"multiplier":2147483648}}]}]}'),
]  # fmt: skip


async def database() -> str:
    server = os.environ.get("CSMS_BENCH_DATABASE_URL") or os.environ.get("CSMS_TEST_DATABASE_URL")
    if not server:
        server = await asyncio.to_thread(embedded.postgres_url, ROOT / ".data" / "bench")
    name = f"csms_bench_hostile_{secrets.token_hex(3)}"
    await ensure_database(server, name)
    dsn = embedded.with_database(server, name)
    await migrate(dsn)
    return dsn


async def hostile(
    url: str, cp: str, subprotocol: str, frames: int, codes: collections.Counter[str]
) -> None:
    menu = FRAMES_16 if subprotocol == "ocpp1.6" else FRAMES_201
    boot = (
        '{"chargePointVendor":"H","chargePointModel":"M"}'
        if subprotocol == "ocpp1.6"
        else '{"reason":"PowerUp","chargingStation":{"vendorName":"H","model":"M"}}'
    )
    async with connect(f"{url}/{cp}", subprotocols=[subprotocol], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(f'[2,"b","BootNotification",{boot}]')
        await ws.recv()
        for i, (action, payload) in zip(range(frames), itertools.cycle(menu), strict=False):
            await ws.send(f'[2,"h{i}","{action}",{payload}]')
            reply = orjson.loads(await ws.recv())
            codes["CALLRESULT" if reply[0] == 3 else reply[2]] += 1


async def good(url: str, cp: str, stop: asyncio.Event) -> tuple[int, int]:
    sent = answered = 0
    async with connect(f"{url}/{cp}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send('[2,"b","BootNotification",{"chargePointVendor":"G","chargePointModel":"M"}]')
        await ws.recv()
        while not stop.is_set():
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_767_000_000 + sent))
            meter = {
                "connectorId": 1,
                "meterValue": [{"timestamp": at, "sampledValue": [{"value": str(sent)}]}],
            }
            await ws.send(orjson.dumps([2, f"g{sent}", "MeterValues", meter]).decode())
            sent += 1
            reply = orjson.loads(await ws.recv())
            answered += reply[0] == 3
    return sent, answered


async def run(args: argparse.Namespace) -> None:
    dsn = await database()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    ids = [f"HOST-{i}" for i in range(args.sockets)] + ["GOOD-1", "GOOD-2"]
    await chargers.add_chargers_bulk(pool, ids, password_hash=None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSMS_")}
    env.update(CSMS_DATABASE_URL=dsn, CSMS_ENV="dev", CSMS_LOG_LEVEL="WARNING", CSMS_PORT="0")
    node: Proc = start(
        [sys.executable, "-m", "csms.cli", "node", "--node-id", "hostile", "--port", "0"],
        env,
        "chargers connect to",
    )
    try:
        url = node.ready_line.split("chargers connect to ")[1].split("{")[0].rstrip("/")
        await asyncio.sleep(1)
        rss_before = node.rss_kib()
        codes: collections.Counter[str] = collections.Counter()
        stop = asyncio.Event()
        goods = [asyncio.create_task(good(url, cp, stop)) for cp in ("GOOD-1", "GOOD-2")]
        per_socket = args.frames // args.sockets
        peak = 0

        async def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, node.rss_kib())
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        await asyncio.gather(
            *(
                hostile(url, cp, ("ocpp1.6", "ocpp2.0.1")[i % 2], per_socket, codes)
                for i, cp in enumerate(ids[: args.sockets])
            )
        )
        took = time.monotonic() - started
        stop.set()
        results = await asyncio.gather(*goods)
        await watcher
        await asyncio.sleep(2)  # the node lets the closed connections go
        rss_after = node.rss_kib()
        journaled = await pool.fetchval(
            "SELECT count(*) FROM charger_messages WHERE charge_point_id LIKE 'GOOD-%'"
        )
        sent = sum(s for s, _ in results)
        answered = sum(a for _, a in results)
        out = sys.stdout.write
        out(
            f"hostile frames        {sum(codes.values()):,} in {took:.1f} s over {args.sockets} sockets\n"
        )
        out(f"answers               {dict(codes)}\n")
        out(f"well-behaved frames   {sent:,} sent, {answered:,} answered CALLRESULT, "
            f"{journaled:,} journal rows (2 per frame + 4 for the boots)\n")  # fmt: skip
        out(f"node RSS              {rss_before / 1024:.1f} MiB before, {peak / 1024:.1f} MiB "
            f"peak, {rss_after / 1024:.1f} MiB after the hostile sockets closed\n")  # fmt: skip
    finally:
        node.stop()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--sockets", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
