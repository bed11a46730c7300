"""A small `csms-sim fleet` run against a node, so the load generator cannot rot.

It asserts what must hold at any speed (every charger connected and booted, every message
answered, rows persisted), never a time.
"""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from csms.node.server import Node
from csms.store import chargers, id_tokens
from simulators.fleet.runner import run_fleet
from simulators.fleet.worker import FleetProfile

CHARGERS = 200


async def test_fleet_smoke(node: Node, url: str, pool: asyncpg.Pool) -> None:
    prefix = f"SMOKE-{secrets.token_hex(3)}-"
    await chargers.add_chargers_bulk(
        pool, [f"{prefix}{i}" for i in range(CHARGERS)], password_hash=None
    )
    tag = f"FLEET-{secrets.token_hex(3)}"
    await id_tokens.add_id_token(pool, tag, allow_concurrent=True)
    profile = FleetProfile(
        url=url,
        chargers=CHARGERS,
        processes=2,
        id_prefix=prefix,
        connect_rate=400,
        heartbeat=1.0,
        meter_interval=0.5,
        session_share=0.5,
        session_meter_values=3,
        v201_share=0.3,
        samples=6,
        duration=3.0,
        id_token=tag,
        warmup=0.0,
    )

    summary = await asyncio.to_thread(run_fleet, profile, status=None)

    assert summary["peak_connected"] == CHARGERS
    assert summary["boots"] == CHARGERS
    assert (summary["connect_failures"], summary["call_errors"], summary["timeouts"]) == (0, 0, 0)
    assert summary["answered"] == summary["sent"] > CHARGERS * 2
    # the boot window is timed by the chargers (first to last answer over both processes),
    # not by when the parent heard of them; a rate over it is finite and positive
    assert summary["boot_window_s"] > 0 and summary["connect_window_s"] > 0
    stored = await pool.fetchval(
        "SELECT count(*) FROM meter_values WHERE charge_point_id LIKE $1", prefix + "%"
    )
    sessions = await pool.fetchval(
        "SELECT count(*) FROM transactions WHERE charge_point_id LIKE $1", prefix + "%"
    )
    assert stored > 0 and sessions > 0
    # every sampled value the CSMS acknowledged is in the database, once (answers follow
    # durability), counted by the database, not by the fleet
    assert stored == summary["values_answered"]
