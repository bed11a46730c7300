"""PostgresChargers: a node's per-connection lookups and writes, batched across chargers.

Directly against the run's database (one bad item fails only its caller), then as a node
uses them: many chargers connecting and booting at once are all recorded, and so are
their disconnections, with and without Redis ownership.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from ocpp_client import OCPP16, OcppClient, booted, eventually, ocpp_connect, ws_url
from redis.asyncio import Redis

from csms.cluster.keys import Keys
from csms.cluster.routing import Owner, Routing
from csms.domain.chargers import Boot, ConnectorStatus, Presence
from csms.node.runtime import running_node
from csms.node.server import Node
from csms.settings import NodeSettings
from csms.store import chargers
from csms.store.postgres import PostgresChargers

pytestmark = pytest.mark.integration

STORM = 50
AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def new_chargers(pool: asyncpg.Pool, count: int) -> list[str]:
    prefix = f"STORM-{secrets.token_hex(3)}-"
    ids = [f"{prefix}{i:03}" for i in range(count)]
    assert await chargers.add_chargers_bulk(pool, ids, password_hash=None) == count
    return ids


def available(connector_id: int = 1) -> ConnectorStatus:
    return ConnectorStatus(0, connector_id, "Available", "NoError", None, None, None, AT)


async def test_one_bad_item_fails_only_its_own_caller(pool: asyncpg.Pool) -> None:
    kept, removed = await new_chargers(pool, 2)
    await chargers.remove_charger(pool, removed)
    batches = PostgresChargers(pool, max_items=500, heartbeat_rows=500)
    kept_status, removed_status = await asyncio.gather(
        batches.record_connector_status(kept, available()),
        batches.record_connector_status(removed, available()),
        return_exceptions=True,
    )
    assert kept_status is None
    assert isinstance(removed_status, asyncpg.ForeignKeyViolationError)
    assert await chargers.list_connectors(pool, kept) == [available()]


async def test_lookups_and_boots_answer_each_caller(pool: asyncpg.Pool) -> None:
    known, removed = await new_chargers(pool, 2)
    await chargers.remove_charger(pool, removed)
    batches = PostgresChargers(pool, max_items=500, heartbeat_rows=500)
    found = await asyncio.gather(batches.get(known), batches.get(removed))
    assert [c.charge_point_id if c else None for c in found] == [known, None]
    statuses = await asyncio.gather(
        batches.record_boot(Boot(removed, AT, {})),
        batches.record_boot(Boot(known, AT, {"vendor": "V"})),
    )
    assert list(statuses) == ["Rejected", "Accepted"]
    presence = [Presence(known, OCPP16, "n1", 1, AT), Presence(known, None, "n1", 1, AT)]
    await asyncio.gather(*(batches.record_presence(p) for p in presence))
    await batches.drain()
    charger = await chargers.get_charger(pool, known)
    assert charger is not None and charger.connected_node is None and charger.vendor == "V"


async def presence_of(pool: asyncpg.Pool, ids: list[str]) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT charge_point_id, connected_protocol, connected_node, connection_epoch,
               registration_status
           FROM chargers WHERE charge_point_id = ANY($1::text[]) ORDER BY charge_point_id""",
        ids,
    )


async def connect_all(
    url: str, ids: list[str], stack: contextlib.AsyncExitStack
) -> list[OcppClient]:
    """Open every charger's socket at once, then boot them all at once."""
    clients = await asyncio.gather(
        *(stack.enter_async_context(ocpp_connect(url, cp)) for cp in ids)
    )
    return await asyncio.gather(*(booted(client) for client in clients))


async def report_status(clients: list[OcppClient]) -> None:
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    await asyncio.gather(*(c.result("StatusNotification", status) for c in clients))


@contextlib.asynccontextmanager
async def clustered_node(
    database_url: str, redis_url: str, prefix: str
) -> AsyncIterator[tuple[Node, Routing]]:
    """A node with Redis ownership under ``prefix`` (the fixture deletes its keys)."""
    settings = NodeSettings(
        host="127.0.0.1",
        port=0,
        node_id=f"storm-{secrets.token_hex(3)}",
        redis_prefix=prefix,
        heartbeat_interval=60,
    )
    redis = Redis.from_url(redis_url)
    try:
        async with running_node(settings, database_url, redis_url) as node:
            yield node, Routing(redis, Keys(prefix))
    finally:
        await redis.aclose()


async def test_a_connect_storm_is_recorded_and_so_are_the_disconnections(
    node: Node, url: str, pool: asyncpg.Pool
) -> None:
    ids = await new_chargers(pool, STORM)
    async with contextlib.AsyncExitStack() as stack:
        clients = await connect_all(url, ids, stack)
        # a charger is booted only after its connection is recorded: no polling
        rows = await presence_of(pool, ids)
        assert {(r["connected_protocol"], r["connected_node"]) for r in rows} == {
            (OCPP16, node.settings.node_id)
        }
        assert {r["registration_status"] for r in rows} == {"Accepted"}
        assert len({r["connection_epoch"] for r in rows}) == STORM  # local epochs: distinct
        await report_status(clients)
        await asyncio.gather(*(c.close() for c in clients))

    async def all_disconnected() -> bool:
        rows = await presence_of(pool, ids)
        return all(r["connected_node"] is None for r in rows)

    await eventually(all_disconnected)
    connectors = await pool.fetchval(
        "SELECT count(*) FROM connectors WHERE charge_point_id = ANY($1::text[])", ids
    )
    assert connectors == STORM
    batches = node.services.stores.chargers
    assert isinstance(batches, PostgresChargers)
    assert batches.batched_items() == {
        "lookup": STORM,
        "boot": STORM,
        "connector_status": STORM,
        "presence": 2 * STORM,
    }


async def test_a_clustered_connect_storm_owns_every_charger_until_the_node_stops(
    database_url: str, redis_url: str, prefix: str, pool: asyncpg.Pool
) -> None:
    """With Redis: each charger's recorded epoch is the one it owns in Redis. A stopping
    node closes every socket; when it has stopped, every disconnection is recorded and
    every ownership released."""
    ids = await new_chargers(pool, STORM)
    async with contextlib.AsyncExitStack() as stack:
        node, routing = await stack.enter_async_context(
            clustered_node(database_url, redis_url, prefix)
        )
        node_id = node.settings.node_id
        clients = await connect_all(ws_url(node), ids, stack)
        rows = await presence_of(pool, ids)
        owners = [await routing.owner(r["charge_point_id"]) for r in rows]
        assert owners == [Owner(node_id, r["connection_epoch"]) for r in rows]
        await report_status(clients)
        await node.stop()
        # stop waited for every connection handler, and each records its disconnection
        rows = await presence_of(pool, ids)
        assert [r["connected_node"] for r in rows] == [None] * STORM
        assert [await routing.owner(cp) for cp in ids] == [None] * STORM
        assert await asyncio.gather(*(c.wait_closed() for c in clients)) == [1001] * STORM
