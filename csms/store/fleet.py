"""The fleet at a glance: chargers with their connectors and one derived state, filtered
and paged in PostgreSQL (the console's fleet list and site map, over 10,000 chargers).

A charger's state is ``offline`` (no node holds it), else ``faulted`` (a connector is
Faulted), else ``charging`` (a session is active or a connector charges), else
``available``. ``online`` is any state but offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from csms.store.executor import Executor

STATES = ("available", "charging", "faulted", "offline")
FILTER_STATES = (*STATES, "online")
CHARGING_STATUSES = ("Charging", "SuspendedEV", "SuspendedEVSE")


@dataclass(frozen=True, slots=True)
class FleetFilter:
    site_id: str | None = None
    model: str | None = None
    state: str | None = None
    search: str | None = None
    charge_point_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FleetConnector:
    evse_id: int
    connector_id: int
    status: str
    error_code: str


@dataclass(frozen=True, slots=True)
class FleetCharger:
    charge_point_id: str
    state: str
    vendor: str | None
    model: str | None
    firmware_version: str | None
    connected_node: str | None
    connected_protocol: str | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    site_id: str | None
    connectors: list[FleetConnector]


@dataclass(frozen=True, slots=True)
class FleetCounts:
    total: int
    online: int
    available: int
    charging: int
    faulted: int
    offline: int


@dataclass(frozen=True, slots=True)
class SiteCounts:
    site_id: str
    name: str
    latitude: Decimal | None
    longitude: Decimal | None
    counts: FleetCounts


# One row per charger with its state; $1..$3: site, model, search. Two plans of the same
# rule: over the whole fleet (counts, a state filter) the connectors' flags and the active
# sessions are aggregated once and hash-joined; for a page in id order they are looked up
# per charger, so only the page's chargers are looked at.
_STATE = """CASE
           WHEN ch.connected_node IS NULL THEN 'offline'
           WHEN COALESCE(f.faulted, false) THEN 'faulted'
           WHEN COALESCE(f.charging, false) OR a.charge_point_id IS NOT NULL THEN 'charging'
           ELSE 'available'
         END AS state"""
_COLUMNS = """ch.charge_point_id, ch.vendor, ch.model, ch.firmware_version, ch.connected_node,
         ch.connected_protocol, ch.last_heartbeat_at, ch.last_seen_at, ch.site_id"""
_WHERE = """($1::text IS NULL OR ch.site_id = $1)
    AND ($2::text IS NULL OR ch.model = $2)
    AND ($3::text IS NULL OR ch.charge_point_id ILIKE $3 OR ch.description ILIKE $3)"""
_FLAGS = f"""bool_or(status = 'Faulted') AS faulted,
         bool_or(status IN {CHARGING_STATUSES!r}) AS charging"""

_FLEET = f"""
WITH flags AS MATERIALIZED (
  SELECT charge_point_id, {_FLAGS} FROM connectors GROUP BY charge_point_id
), active AS MATERIALIZED (
  SELECT DISTINCT charge_point_id FROM transactions WHERE ended_at IS NULL
), fleet AS MATERIALIZED (
  SELECT {_COLUMNS}, {_STATE}
  FROM chargers ch
  LEFT JOIN flags f ON f.charge_point_id = ch.charge_point_id
  LEFT JOIN active a ON a.charge_point_id = ch.charge_point_id
  WHERE {_WHERE}
)"""

_FLEET_BY_ID = f"""
WITH fleet AS (
  SELECT {_COLUMNS}, {_STATE}
  FROM chargers ch
  LEFT JOIN LATERAL (
    SELECT {_FLAGS} FROM connectors c WHERE c.charge_point_id = ch.charge_point_id
  ) f ON true
  LEFT JOIN LATERAL (
    SELECT t.charge_point_id FROM transactions t
    WHERE t.charge_point_id = ch.charge_point_id AND t.ended_at IS NULL LIMIT 1
  ) a ON true
  WHERE {_WHERE}
)"""


def _like(search: str | None) -> str | None:
    if not search:
        return None
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_STATE_MATCHES = "($4::text IS NULL OR state = $4 OR ($4 = 'online' AND state <> 'offline'))"


async def list_fleet(
    db: Executor, where: FleetFilter, *, limit: int, after: str = ""
) -> list[FleetCharger]:
    """Chargers matching ``where`` by id after ``after``, at most ``limit``."""
    records = await db.fetch(
        f"""{_FLEET if where.state else _FLEET_BY_ID}
            SELECT page.*, COALESCE((
                     SELECT jsonb_agg(
                              jsonb_build_array(c.evse_id, c.connector_id, c.status, c.error_code)
                              ORDER BY c.evse_id, c.connector_id)
                     FROM connectors c WHERE c.charge_point_id = page.charge_point_id),
                   '[]'::jsonb) AS connectors
            FROM (SELECT * FROM fleet
                  WHERE {_STATE_MATCHES} AND charge_point_id > $5
                    AND ($7::text[] IS NULL OR charge_point_id = ANY($7::text[]))
                  ORDER BY charge_point_id LIMIT $6) page
            ORDER BY page.charge_point_id""",
        where.site_id,
        where.model,
        _like(where.search),
        where.state,
        after,
        limit,
        None if where.charge_point_ids is None else list(where.charge_point_ids),
    )
    return [_fleet_charger(r) for r in records]


async def count_fleet(db: Executor, where: FleetFilter) -> FleetCounts:
    """How many chargers matching ``where`` (its state aside) are in each state."""
    record = await db.fetchrow(
        f"""{_FLEET}
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE state = 'available') AS available,
                   count(*) FILTER (WHERE state = 'charging') AS charging,
                   count(*) FILTER (WHERE state = 'faulted') AS faulted,
                   count(*) FILTER (WHERE state = 'offline') AS offline
            FROM fleet""",
        where.site_id,
        where.model,
        _like(where.search),
    )
    assert record is not None
    return _counts(record)


async def list_site_counts(db: Executor, *, limit: int, after: str = "") -> list[SiteCounts]:
    """Sites by id with the states of their chargers (the map's markers)."""
    records = await db.fetch(
        f"""{_FLEET}
            SELECT s.id AS site_id, s.name, s.latitude, s.longitude,
                   COALESCE(x.total, 0) AS total, COALESCE(x.available, 0) AS available,
                   COALESCE(x.charging, 0) AS charging, COALESCE(x.faulted, 0) AS faulted,
                   COALESCE(x.offline, 0) AS offline
            FROM sites s
            LEFT JOIN (
              SELECT site_id, count(*) AS total,
                     count(*) FILTER (WHERE state = 'available') AS available,
                     count(*) FILTER (WHERE state = 'charging') AS charging,
                     count(*) FILTER (WHERE state = 'faulted') AS faulted,
                     count(*) FILTER (WHERE state = 'offline') AS offline
              FROM fleet WHERE site_id IS NOT NULL GROUP BY site_id
            ) x ON x.site_id = s.id
            WHERE s.id > $4
            ORDER BY s.id LIMIT $5""",
        None,
        None,
        None,
        after,
        limit,
    )
    return [
        SiteCounts(r["site_id"], r["name"], r["latitude"], r["longitude"], _counts(r))
        for r in records
    ]


def _counts(record: Any) -> FleetCounts:
    return FleetCounts(
        total=record["total"],
        online=record["total"] - record["offline"],
        available=record["available"],
        charging=record["charging"],
        faulted=record["faulted"],
        offline=record["offline"],
    )


def _fleet_charger(record: Any) -> FleetCharger:
    raw = record["connectors"]
    items = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return FleetCharger(
        charge_point_id=record["charge_point_id"],
        state=record["state"],
        vendor=record["vendor"],
        model=record["model"],
        firmware_version=record["firmware_version"],
        connected_node=record["connected_node"],
        connected_protocol=record["connected_protocol"],
        last_heartbeat_at=record["last_heartbeat_at"],
        last_seen_at=record["last_seen_at"],
        site_id=record["site_id"],
        connectors=[FleetConnector(*item) for item in items],
    )
