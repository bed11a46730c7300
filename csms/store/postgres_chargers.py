"""Chargers and their id tokens on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.accounts import Standing
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.domain.id_tokens import IdToken
from csms.store import billing, id_tokens
from csms.store import chargers as charger_rows
from csms.store.batching import BatchCall, BatchWriter, Row


class PostgresChargers:
    def __init__(self, pool: asyncpg.Pool, *, max_items: int, heartbeat_rows: int) -> None:
        self._pool = pool

        async def lookup(ids: Sequence[str]) -> list[Charger | None]:
            found = await charger_rows.get_chargers(pool, ids)
            return [found.get(i) for i in ids]

        async def boots(items: Sequence[Boot]) -> list[str]:
            statuses = await charger_rows.record_boots(pool, items)
            return [statuses.get(b.charge_point_id, "Rejected") for b in items]

        async def statuses(items: Sequence[tuple[str, ConnectorStatus]]) -> list[None]:
            await charger_rows.upsert_connector_statuses(pool, items)
            return [None] * len(items)

        async def presence(items: Sequence[Presence]) -> list[None]:
            await charger_rows.record_presence(pool, items)
            return [None] * len(items)

        async def heartbeats(rows: Sequence[Row]) -> None:
            await charger_rows.record_heartbeats(pool, rows)

        self._lookup = BatchCall(lookup, max_items=max_items)
        self._boot = BatchCall(boots, max_items=max_items)
        self._status = BatchCall(statuses, max_items=max_items)
        # one batch at a time: a connection and its disconnection must land in order
        self._presence = BatchCall(presence, max_items=max_items, max_inflight=1)
        # fire-and-forget: losing a heartbeat on a crash loses nothing of value
        self.heartbeats = BatchWriter(heartbeats, max_rows=heartbeat_rows, max_delay=0.2)

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str,
        ocpp_version: str | None,
        description: str,
    ) -> Charger:
        return await charger_rows.add_charger(
            self._pool,
            charge_point_id,
            password_hash=password_hash,
            boot_policy=boot_policy,
            ocpp_version=ocpp_version,
            description=description,
        )

    async def get(self, charge_point_id: str) -> Charger | None:
        return await self._lookup(charge_point_id)

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        return await charger_rows.update_charger(self._pool, charge_point_id, **changes)

    async def remove(self, charge_point_id: str) -> None:
        await charger_rows.remove_charger(self._pool, charge_point_id)

    async def record_boot(self, boot: Boot) -> str:
        return await self._boot(boot)

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        await self._status((charge_point_id, status))

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        return await charger_rows.list_connectors(self._pool, charge_point_id)

    async def record_presence(self, presence: Presence) -> None:
        await self._presence(presence)

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        return await charger_rows.list_presence(
            self._pool, node_id=node_id, excluding_nodes=excluding_nodes
        )

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        return await charger_rows.clear_presence(self._pool, stale)

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        self.heartbeats.add([(charge_point_id, at)])

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        await charger_rows.record_charger_status(
            self._pool,
            charge_point_id,
            firmware_status=firmware_status,
            diagnostics_status=diagnostics_status,
        )

    def batched_items(self) -> dict[str, int]:
        """How many requests each batched call has answered (tests, benchmarks)."""
        return {
            "lookup": self._lookup.items,
            "boot": self._boot.items,
            "connector_status": self._status.items,
            "presence": self._presence.items,
        }

    async def drain(self) -> None:
        for call in (self._lookup, self._boot, self._status, self._presence):
            await call.drain()
        await self.heartbeats.flush()


class PostgresTokens:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, id_token: str) -> IdToken | None:
        return await id_tokens.get_id_token(self._pool, id_token)

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        return await billing.token_with_standing(self._pool, id_token)
