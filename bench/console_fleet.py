"""How fast the console's fleet lists a big fleet: 10,000 chargers through the real API.

    python bench/console_fleet.py                  # 10,000 chargers, 200 sites
    python bench/console_fleet.py --chargers 50000

Makes a throwaway database on CSMS_BENCH_DATABASE_URL (else CSMS_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres), fills it (2 connectors per charger; some
offline, charging, faulted; chargers spread over sites with coordinates), serves the
backoffice on uvicorn and times what the fleet page asks for, as the browser does (a
bearer token instead of the cookie). The issue's target: the fleet lists in under a second.
Prints a table; not a test (timings depend on the machine). See docs/console.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backoffice.app import create_app  # noqa: E402
from csms.bootstrap import ensure_database  # noqa: E402
from csms.passwords import hash_password  # noqa: E402
from csms.settings import BackofficeSettings  # noqa: E402
from csms.store import users  # noqa: E402
from csms.store.pool import migrate  # noqa: E402

PASSWORD = "bench-console-password"
REPEAT = 15


def server_dsn() -> str:
    return os.environ.get(
        "CSMS_BENCH_DATABASE_URL",
        os.environ.get("CSMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )


def with_database(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


async def seed(pool: asyncpg.Pool, chargers: int, sites: int) -> None:
    await pool.execute(
        """INSERT INTO sites (id, name, time_zone, latitude, longitude)
           SELECT 'SITE-' || i, 'Site ' || i, 'Europe/Brussels',
                  50 + (i % 20) * 0.05, 4 + (i / 20) * 0.05
           FROM generate_series(1, $1) AS i""",
        sites,
    )
    # every 10th offline, every 20th faulted, every 5th charging; models and firmware vary
    await pool.execute(
        """INSERT INTO chargers (charge_point_id, auth_mode, vendor, model, firmware_version,
               connected_protocol, connected_node, last_heartbeat_at, last_seen_at,
               registration_status, site_id)
           SELECT 'CP-' || lpad(i::text, 6, '0'), 'none', 'BenchVendor',
                  'Model-' || (i % 7), '1.' || (i % 3) || '.0',
                  CASE WHEN i % 10 = 0 THEN NULL ELSE 'ocpp1.6' END,
                  CASE WHEN i % 10 = 0 THEN NULL ELSE 'node-' || (i % 4) END,
                  now() - (i % 300) * interval '1 second', now(), 'Accepted',
                  'SITE-' || (1 + i % $2)
           FROM generate_series(1, $1) AS i""",
        chargers,
        sites,
    )
    await pool.execute(
        """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, error_code,
               status_at)
           SELECT 'CP-' || lpad(i::text, 6, '0'), 0, c,
                  CASE WHEN i % 20 = 0 AND c = 1 THEN 'Faulted'
                       WHEN i % 5 = 0 AND c = 2 THEN 'Charging'
                       ELSE 'Available' END,
                  CASE WHEN i % 20 = 0 AND c = 1 THEN 'GroundFailure' ELSE 'NoError' END,
                  now()
           FROM generate_series(1, $1) AS i, generate_series(0, 2) AS c""",
        chargers,
    )
    await pool.execute("ANALYZE")


async def timed(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[float]:
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


async def walk(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, int]:
    """Every charger, page by page (200 a page): seconds and how many."""
    started = time.perf_counter()
    seen = 0
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/fleet", params=params, headers=headers)).json()
        seen += len(page["items"])
        if not (cursor := page["next_cursor"]):
            return time.perf_counter() - started, seen


async def run(args: argparse.Namespace) -> None:
    name = f"csms_bench_console_{secrets.token_hex(4)}"
    await ensure_database(server_dsn(), name)
    dsn = with_database(server_dsn(), name)
    try:
        await migrate(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            started = time.perf_counter()
            await seed(pool, args.chargers, args.sites)
            seeded = time.perf_counter() - started
            await users.add_user(
                pool, "bench-admin", password_hash=hash_password(PASSWORD), role="admin"
            )
        finally:
            await pool.close()
        settings = BackofficeSettings(
            database_url=dsn,
            redis_url=args.redis,
            redis_prefix=f"bench-console-{secrets.token_hex(3)}",
            jwt_secret="bench-console-jwt-secret-" + "x" * 40,
            max_page_size=200,
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), port=0, log_config=None, access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            await measure(f"http://127.0.0.1:{port}", args, seeded)
        finally:
            server.should_exit = True
            thread.join(10)
    finally:
        connection = await asyncpg.connect(server_dsn())
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def measure(url: str, args: argparse.Namespace, seeded: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        token = await client.post(
            "/api/v1/auth/token", data={"username": "bench-admin", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        cases = [
            ("fleet page (50)", "/api/v1/fleet?limit=50"),
            ("fleet page (200)", "/api/v1/fleet?limit=200"),
            ("counts", "/api/v1/fleet/summary"),
            ("filter state=faulted", "/api/v1/fleet?limit=50&state=faulted"),
            ("filter state=offline", "/api/v1/fleet?limit=50&state=offline"),
            ("filter site", "/api/v1/fleet?limit=50&site_id=SITE-7"),
            ("filter model", "/api/v1/fleet?limit=50&model=Model-3"),
            ("search q=0042", "/api/v1/fleet?limit=50&q=0042"),
            ("last page (cursor)", None),
            ("site map (200 sites)", "/api/v1/fleet/sites?limit=200"),
        ]
        last = None
        page = (await client.get("/api/v1/fleet?limit=200", headers=headers)).json()
        while page["next_cursor"]:
            last = page["next_cursor"]
            page = (
                await client.get(f"/api/v1/fleet?limit=200&cursor={last}", headers=headers)
            ).json()
        out = sys.stdout.write
        out(f"{args.chargers:,} chargers, {args.sites} sites (seeded in {seeded:.1f} s)\n")
        out(f"{'request':<24} {'median ms':>10} {'p95 ms':>8}\n")
        for label, path in cases:
            target = path or f"/api/v1/fleet?limit=200&cursor={last}"
            samples = sorted(await timed(client, target, headers))
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            out(f"{label:<24} {statistics.median(samples) * 1000:>10.1f} {p95 * 1000:>8.1f}\n")
        took, seen = await walk(client, headers)
        out(f"{'every charger (walk)':<24} {took * 1000:>10.1f} ms for {seen:,} chargers\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chargers", type=int, default=10_000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument(
        "--redis", default=os.environ.get("CSMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
