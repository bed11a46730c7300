"""One-row-at-a-time versions of the store's batched writes: the oracles the batched SQL is
tested against (tests/integration/test_charger_store_batched.py,
test_transaction_events_batched.py). Written separately on purpose; not used by the
product."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from csms.domain.chargers import ConnectorStatus
from csms.domain.transactions import EventRecord
from csms.store import transactions


async def record_boot(
    db: asyncpg.Pool, charge_point_id: str, *, at: datetime, identity: dict[str, str | None]
) -> str:
    status = await db.fetchval(
        """UPDATE chargers SET registration_status = CASE boot_policy
                   WHEN 'accept' THEN 'Accepted' WHEN 'pending' THEN 'Pending'
                   ELSE 'Rejected' END,
               last_boot_at = $2, last_seen_at = $2,
               vendor = $3, model = $4, serial_number = $5, firmware_version = $6,
               iccid = $7, imsi = $8, meter_type = $9, meter_serial_number = $10,
               updated_at = now()
           WHERE charge_point_id = $1
           RETURNING registration_status""",
        charge_point_id,
        at,
        identity.get("vendor"),
        identity.get("model"),
        identity.get("serial_number"),
        identity.get("firmware_version"),
        identity.get("iccid"),
        identity.get("imsi"),
        identity.get("meter_type"),
        identity.get("meter_serial_number"),
    )
    return str(status) if status is not None else "Rejected"


async def record_connection(
    db: asyncpg.Pool,
    charge_point_id: str,
    *,
    protocol: str,
    node_id: str,
    epoch: int,
    at: datetime,
) -> None:
    await db.execute(
        """UPDATE chargers SET connected_protocol = $2, connected_node = $3,
               connection_epoch = $4, last_seen_at = $5
           WHERE charge_point_id = $1""",
        charge_point_id,
        protocol,
        node_id,
        epoch,
        at,
    )


async def record_disconnection(
    db: asyncpg.Pool, charge_point_id: str, *, node_id: str, epoch: int, at: datetime
) -> None:
    await db.execute(
        """UPDATE chargers SET connected_protocol = NULL, connected_node = NULL,
               connection_epoch = NULL, last_seen_at = $4
           WHERE charge_point_id = $1 AND connected_node = $2 AND connection_epoch = $3""",
        charge_point_id,
        node_id,
        epoch,
        at,
    )


async def upsert_connector_status(
    db: asyncpg.Pool, charge_point_id: str, status: ConnectorStatus
) -> None:
    await db.execute(
        """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, error_code,
               info, vendor_id, vendor_error_code, status_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (charge_point_id, evse_id, connector_id) DO UPDATE SET
               status = excluded.status, error_code = excluded.error_code, info = excluded.info,
               vendor_id = excluded.vendor_id, vendor_error_code = excluded.vendor_error_code,
               status_at = excluded.status_at, updated_at = now()
           WHERE connectors.status_at <= excluded.status_at""",
        charge_point_id,
        status.evse_id,
        status.connector_id,
        status.status,
        status.error_code,
        status.info,
        status.vendor_id,
        status.vendor_error_code,
        status.status_at,
    )


async def record_and_apply(pool: asyncpg.Pool, event: EventRecord) -> bool:
    """Record the event, then apply it if it was fresh, in one database transaction."""
    async with pool.acquire() as connection, connection.transaction():
        fresh = await transactions.record_event(connection, event)
        if fresh:
            await transactions.apply(connection, event.pk, event.changes)
        return fresh
