"""Per-charger statements batched across chargers: the connect/boot path, 2.0.1 events.

Every connection looks its charger up, records where it is connected and, at boot, its
identity and connector states; a 2.0.1 charger records each TransactionEvent. One at
a time each is a round trip to PostgreSQL (and, on this kind of machine, a costly wake-up
of a database process); gathered by ``BatchCall`` they become one statement per batch
while each caller still awaits its own committed result.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from csms.store import chargers as charger_store
from csms.store import transactions as tx_store
from csms.store.batching import BatchCall
from csms.store.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.store.transactions import EventRecord


class NodeBatches:
    """Batched charger lookups and writes of one node (shared by all its connections)."""

    def __init__(self, pool: asyncpg.Pool, *, max_items: int = 500) -> None:
        self._pool = pool

        async def lookup(ids: Sequence[str]) -> list[Charger | None]:
            found = await charger_store.get_chargers(pool, ids)
            return [found.get(i) for i in ids]

        async def boots(items: Sequence[Boot]) -> list[str]:
            statuses = await charger_store.record_boots(pool, items)
            return [statuses.get(b.charge_point_id, "Rejected") for b in items]

        async def statuses(items: Sequence[tuple[str, ConnectorStatus]]) -> list[None]:
            await charger_store.upsert_connector_statuses(pool, items)
            return [None] * len(items)

        async def presence(items: Sequence[Presence]) -> list[None]:
            await charger_store.record_presence(pool, items)
            return [None] * len(items)

        async def transaction_events(items: Sequence[EventRecord]) -> list[bool]:
            if len({e.pk for e in items}) == len(items):  # one round: one statement
                return await tx_store.record_and_update_ocpp201_many(pool, items)
            # several rounds commit together, so a retry never finds half of them applied
            async with pool.acquire() as connection, connection.transaction():
                return await tx_store.record_and_update_ocpp201_many(connection, items)

        self.lookup = BatchCall(lookup, max_items=max_items)
        # 2.0.1 TransactionEvents: the event row and its session changes (True: fresh)
        self.transaction_event = BatchCall(transaction_events, max_items=max_items)
        self.boot = BatchCall(boots, max_items=max_items)
        self.connector_status = BatchCall(statuses, max_items=max_items)
        # one batch at a time: a connection and its disconnection must land in order
        self.presence = BatchCall(presence, max_items=max_items, max_inflight=1)

    async def drain(self) -> None:
        for call in (
            self.lookup,
            self.boot,
            self.connector_status,
            self.presence,
            self.transaction_event,
        ):
            await call.drain()
