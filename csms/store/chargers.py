"""Chargers and their connector/EVSE status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.chargers import IDENTITY_FIELDS, Boot, Charger, ConnectorStatus, Presence
from csms.errors import AlreadyExists, InUse, NotFound
from csms.store.executor import Executor

__all__ = ["Boot", "Charger", "ConnectorStatus", "Presence"]

_CHARGER_COLUMNS = """charge_point_id, password_hash, auth_mode, boot_policy, ocpp_version,
    description, registration_status, vendor, model, serial_number, firmware_version, iccid,
    imsi, meter_type, meter_serial_number, connected_protocol, connected_node, last_boot_at,
    last_heartbeat_at, last_seen_at, firmware_status, diagnostics_status, created_at"""


def _charger(record: asyncpg.Record) -> Charger:
    return Charger(**dict(record))


async def add_charger(
    db: Executor,
    charge_point_id: str,
    *,
    password_hash: str | None,
    boot_policy: str = "accept",
    ocpp_version: str | None = None,
    description: str = "",
) -> Charger:
    auth_mode = "basic" if password_hash is not None else "none"
    try:
        record = await db.fetchrow(
            f"""INSERT INTO chargers (charge_point_id, password_hash, auth_mode, boot_policy,
                    ocpp_version, description)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_CHARGER_COLUMNS}""",
            charge_point_id,
            password_hash,
            auth_mode,
            boot_policy,
            ocpp_version,
            description,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"charger {charge_point_id} exists already") from None
    assert record is not None
    return _charger(record)


async def get_charger(db: Executor, charge_point_id: str) -> Charger | None:
    record = await db.fetchrow(
        f"SELECT {_CHARGER_COLUMNS} FROM chargers WHERE charge_point_id = $1", charge_point_id
    )
    return _charger(record) if record else None


async def list_chargers(db: Executor, *, limit: int = 1000, after: str = "") -> list[Charger]:
    records = await db.fetch(
        f"""SELECT {_CHARGER_COLUMNS} FROM chargers WHERE charge_point_id > $1
            ORDER BY charge_point_id LIMIT $2""",
        after,
        limit,
    )
    return [_charger(r) for r in records]


async def remove_charger(db: Executor, charge_point_id: str) -> None:
    # its tariff assignment goes with it (a charger registered later under the id starts clean)
    try:
        result = await db.execute(
            """WITH assigned AS (
                   DELETE FROM tariff_assignments WHERE scope = 'charger' AND target = $1)
               DELETE FROM chargers WHERE charge_point_id = $1""",
            charge_point_id,
        )
    except asyncpg.ForeignKeyViolationError:
        # its sessions' charges (and invoices) are accounting records: they stay, so does it
        raise InUse(
            f"charger {charge_point_id} has billed sessions: their charges and invoices are "
            "kept, so the charger cannot be removed (refuse its boots instead: "
            f"csms charger update {charge_point_id} --boot-policy reject)"
        ) from None
    if result == "DELETE 0":
        raise NotFound(f"charger {charge_point_id} not found")


async def update_charger(db: Executor, charge_point_id: str, **changes: Any) -> Charger:
    """Change operator-set fields: password_hash/auth_mode, boot_policy, ocpp_version, ..."""
    allowed = {"password_hash", "auth_mode", "boot_policy", "ocpp_version", "description"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    if not changes:
        charger = await get_charger(db, charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        return charger
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    record = await db.fetchrow(
        f"""UPDATE chargers SET {assignments}, updated_at = now()
            WHERE charge_point_id = $1 RETURNING {_CHARGER_COLUMNS}""",
        charge_point_id,
        *changes.values(),
    )
    if record is None:
        raise NotFound(f"charger {charge_point_id} not found")
    return _charger(record)


async def record_heartbeats(db: Executor, rows: Sequence[tuple[str, datetime]]) -> None:
    """Many chargers' heartbeats in one statement (rows of charge_point_id, at); a charger's
    last row wins (an UPDATE joins a row once: duplicates would apply either)."""
    last = dict(rows)
    ids, times = list(last), list(last.values())
    await db.execute(
        """UPDATE chargers SET last_heartbeat_at = v.at, last_seen_at = v.at
           FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
           WHERE chargers.charge_point_id = v.id""",
        ids,
        times,
    )


async def record_charger_status(
    db: Executor,
    charge_point_id: str,
    *,
    firmware_status: str | None = None,
    diagnostics_status: str | None = None,
) -> None:
    await db.execute(
        """UPDATE chargers SET firmware_status = coalesce($2, firmware_status),
               diagnostics_status = coalesce($3, diagnostics_status), updated_at = now()
           WHERE charge_point_id = $1""",
        charge_point_id,
        firmware_status,
        diagnostics_status,
    )


_INSERT_CONNECTOR = """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status,
    error_code, info, vendor_id, vendor_error_code, status_at)"""
# The newest status per connector wins; an older (replayed) one changes nothing.
_KEEP_NEWEST_STATUS = """ON CONFLICT (charge_point_id, evse_id, connector_id) DO UPDATE SET
    status = excluded.status, error_code = excluded.error_code, info = excluded.info,
    vendor_id = excluded.vendor_id, vendor_error_code = excluded.vendor_error_code,
    status_at = excluded.status_at, updated_at = now()
WHERE connectors.status_at <= excluded.status_at"""


async def list_connectors(db: Executor, charge_point_id: str) -> list[ConnectorStatus]:
    records = await db.fetch(
        """SELECT evse_id, connector_id, status, error_code, info, vendor_id,
               vendor_error_code, status_at
           FROM connectors WHERE charge_point_id = $1 ORDER BY evse_id, connector_id""",
        charge_point_id,
    )
    return [ConnectorStatus(**dict(r)) for r in records]


async def add_chargers_bulk(
    db: Executor, charge_point_ids: Sequence[str], *, password_hash: str | None
) -> int:
    """Register many chargers sharing one password hash (fleets, benchmarks); existing ids
    are left as they are. Returns how many were added."""
    result = await db.execute(
        """INSERT INTO chargers (charge_point_id, password_hash, auth_mode)
           SELECT id, $2, CASE WHEN $2::text IS NULL THEN 'none' ELSE 'basic' END
           FROM unnest($1::text[]) AS id
           ON CONFLICT (charge_point_id) DO NOTHING""",
        list(charge_point_ids),
        password_hash,
    )
    return int(result.split()[-1])


async def get_chargers(db: Executor, charge_point_ids: Sequence[str]) -> dict[str, Charger]:
    """Many chargers by id in one query (the handshakes of a connect storm)."""
    records = await db.fetch(
        f"SELECT {_CHARGER_COLUMNS} FROM chargers WHERE charge_point_id = ANY($1::text[])",
        list(charge_point_ids),
    )
    return {r["charge_point_id"]: _charger(r) for r in records}


async def record_boots(db: Executor, boots: Sequence[Boot]) -> dict[str, str]:
    """record_boot for many chargers in one statement; charge_point_id -> status. A charger
    that boots twice in one batch keeps its last boot; a removed charger is absent."""
    latest = {boot.charge_point_id: boot for boot in boots}
    columns: list[list[Any]] = [list(latest), [b.at for b in latest.values()]]
    columns += [[b.identity.get(f) for b in latest.values()] for f in IDENTITY_FIELDS]
    records = await db.fetch(
        """UPDATE chargers SET registration_status = CASE boot_policy
                   WHEN 'accept' THEN 'Accepted' WHEN 'pending' THEN 'Pending'
                   ELSE 'Rejected' END,
               last_boot_at = v.at, last_seen_at = v.at,
               vendor = v.vendor, model = v.model, serial_number = v.serial_number,
               firmware_version = v.firmware_version, iccid = v.iccid, imsi = v.imsi,
               meter_type = v.meter_type, meter_serial_number = v.meter_serial_number,
               updated_at = now()
           FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                AS v(id, at, vendor, model, serial_number, firmware_version, iccid, imsi,
                     meter_type, meter_serial_number)
           WHERE chargers.charge_point_id = v.id
           RETURNING chargers.charge_point_id, chargers.registration_status""",
        *columns,
    )
    return {r["charge_point_id"]: r["registration_status"] for r in records}


async def upsert_connector_statuses(
    db: Executor, statuses: Sequence[tuple[str, ConnectorStatus]]
) -> None:
    """upsert_connector_status for many connectors in one statement; within the batch the
    newest status per connector wins (as it would one by one)."""
    newest: dict[tuple[str, int, int], ConnectorStatus] = {}
    for charge_point_id, status in statuses:
        key = (charge_point_id, status.evse_id, status.connector_id)
        kept = newest.get(key)
        if kept is None or kept.status_at <= status.status_at:
            newest[key] = status
    values = list(newest.values())
    await db.execute(
        f"""{_INSERT_CONNECTOR}
           SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::text[], $9::timestamptz[])
           {_KEEP_NEWEST_STATUS}""",
        [key[0] for key in newest],
        [s.evse_id for s in values],
        [s.connector_id for s in values],
        [s.status for s in values],
        [s.error_code for s in values],
        [s.info for s in values],
        [s.vendor_id for s in values],
        [s.vendor_error_code for s in values],
        [s.status_at for s in values],
    )


async def record_presence(db: Executor, changes: Sequence[Presence]) -> None:
    """record_connection / record_disconnection for many chargers, usually in one statement.

    ``changes`` are in the order they happened. Per charger they collapse to what applying
    them one by one would leave: after a connection the outcome is known (connected, or
    disconnected if that same connection closed later in the batch); a lone disconnection
    still applies only if the row names that connection.
    """
    # Usually one round; two lone disconnections of one charger need one round each.
    rounds: list[dict[str, tuple[Presence, bool]]] = [{}]  # -> (change, conditional)
    last_round: dict[str, int] = {}
    for change in changes:
        cp = change.charge_point_id
        index = last_round.get(cp, 0)
        before = rounds[index].get(cp)
        if change.protocol is not None or before is None:
            entry = (change, change.protocol is None)
        elif not before[1]:
            held = before[0]
            closes_it = held.protocol is not None and (held.node_id, held.epoch) == (
                change.node_id,
                change.epoch,
            )
            entry = (change, False) if closes_it else before
        else:  # a lone disconnection after another: it applies after that one
            index += 1
            if index == len(rounds):
                rounds.append({})
            entry = (change, True)
        rounds[index][cp] = entry
        last_round[cp] = index
    for collapsed in rounds:
        await _apply_presence(db, list(collapsed.values()))


async def _apply_presence(db: Executor, rows: Sequence[tuple[Presence, bool]]) -> None:
    await db.execute(
        """UPDATE chargers SET connected_protocol = v.protocol,
               connected_node = CASE WHEN v.protocol IS NULL THEN NULL ELSE v.node END,
               connection_epoch = CASE WHEN v.protocol IS NULL THEN NULL ELSE v.epoch END,
               last_seen_at = v.at
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[],
                       $6::bool[]) AS v(id, protocol, node, epoch, at, conditional)
           WHERE chargers.charge_point_id = v.id
             AND (NOT v.conditional
                  OR (chargers.connected_node = v.node AND chargers.connection_epoch = v.epoch))""",
        [c.charge_point_id for c, _ in rows],
        [c.protocol for c, _ in rows],
        [c.node_id for c, _ in rows],
        [c.epoch for c, _ in rows],
        [c.at for c, _ in rows],
        [conditional for _, conditional in rows],
    )


async def list_presence(
    db: Executor,
    *,
    node_id: str | None = None,
    excluding_nodes: Sequence[str] | None = None,
) -> list[Presence]:
    """Chargers recorded as connected: to ``node_id``, or to any node not in
    ``excluding_nodes`` (``at`` is their last_seen_at)."""
    records = await db.fetch(
        """SELECT charge_point_id, connected_protocol, connected_node, connection_epoch,
               last_seen_at
           FROM chargers
           WHERE connected_node IS NOT NULL
             AND ($1::text IS NULL OR connected_node = $1)
             AND ($2::text[] IS NULL OR NOT (connected_node = ANY($2)))
           ORDER BY charge_point_id""",
        node_id,
        None if excluding_nodes is None else list(excluding_nodes),
    )
    return [
        Presence(
            r["charge_point_id"],
            r["connected_protocol"],
            r["connected_node"],
            r["connection_epoch"],
            r["last_seen_at"],
        )
        for r in records
    ]


async def clear_presence(db: Executor, stale: Sequence[Presence]) -> list[str]:
    """Mark these connections gone, each only if the charger is still recorded as connected
    by that node and epoch (a newer connection is never touched); last_seen_at stays what
    the charger last showed. Returns the chargers cleared."""
    if not stale:
        return []
    records = await db.fetch(
        """UPDATE chargers SET connected_protocol = NULL, connected_node = NULL,
               connection_epoch = NULL
           FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(id, node, epoch)
           WHERE chargers.charge_point_id = v.id AND chargers.connected_node = v.node
             AND chargers.connection_epoch = v.epoch
           RETURNING chargers.charge_point_id""",
        [p.charge_point_id for p in stale],
        [p.node_id for p in stale],
        [p.epoch for p in stale],
    )
    return sorted(r["charge_point_id"] for r in records)


async def chargers_by_node(db: Executor) -> dict[str, int]:
    """How many chargers PostgreSQL records as connected to each node (the presence sweep
    releases a dead node's within its registration TTL and one sweep)."""
    rows = await db.fetch(
        """
        SELECT connected_node, count(*) AS chargers FROM chargers
        WHERE connected_node IS NOT NULL GROUP BY connected_node
        """
    )
    return {r["connected_node"]: int(r["chargers"]) for r in rows}
