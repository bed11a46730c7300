"""Sites, tariffs and their versions, assignments, and tariff pushes to chargers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.sites import Applicable, Assignment, Scope, Site
from csms.domain.tariff_catalog import (
    PUSH_FAILED,
    PUSH_PENDING,
    Resolved,
    TariffInfo,
    TariffPush,
    TariffVersion,
)
from csms.errors import AlreadyExists, InvalidInput, NotFound
from csms.store.executor import Executor

_SITE_COLUMNS = """id, name, time_zone, address, city, postal_code, country, latitude, longitude,
    created_at"""
_VERSION_COLUMNS = """tariff_id, version, definition, currency, created_at, created_by,
    published_at, published_by"""
_PUSH_COLUMNS = """charge_point_id, tariff_id, tariff_version, status, detail, attempts,
    requested_at, updated_at"""
SITE_FIELDS = frozenset(
    {"name", "time_zone", "address", "city", "postal_code", "country", "latitude", "longitude"}
)


def _site(record: asyncpg.Record) -> Site:
    return Site(**dict(record))


def _version(record: asyncpg.Record) -> TariffVersion:
    return TariffVersion(**dict(record))


# -- sites --------------------------------------------------------------------------------------


async def add_site(db: Executor, site: Site) -> Site:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO sites (id, name, time_zone, address, city, postal_code, country,
                    latitude, longitude)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_SITE_COLUMNS}""",
            site.id,
            site.name,
            site.time_zone,
            site.address,
            site.city,
            site.postal_code,
            site.country,
            site.latitude,
            site.longitude,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"site {site.id} exists already") from None
    assert record is not None
    return _site(record)


async def get_site(db: Executor, site_id: str) -> Site | None:
    record = await db.fetchrow(f"SELECT {_SITE_COLUMNS} FROM sites WHERE id = $1", site_id)
    return _site(record) if record else None


async def list_sites(db: Executor) -> list[Site]:
    records = await db.fetch(f'SELECT {_SITE_COLUMNS} FROM sites ORDER BY id COLLATE "C"')
    return [_site(r) for r in records]


async def update_site(db: Executor, site_id: str, **changes: Any) -> Site:
    unknown = set(changes) - SITE_FIELDS
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    if not changes:
        found = await get_site(db, site_id)
        if found is None:
            raise NotFound(f"site {site_id} not found")
        return found
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    record = await db.fetchrow(
        f"""UPDATE sites SET {assignments}, updated_at = now() WHERE id = $1
            RETURNING {_SITE_COLUMNS}""",
        site_id,
        *changes.values(),
    )
    if record is None:
        raise NotFound(f"site {site_id} not found")
    return _site(record)


async def remove_site(db: Executor, site_id: str) -> None:
    """Its chargers are at no site afterwards; its tariff assignment goes with it."""
    result = await db.execute(
        """WITH assigned AS (
               DELETE FROM tariff_assignments WHERE scope = 'site' AND target = $1)
           DELETE FROM sites WHERE id = $1""",
        site_id,
    )
    if result == "DELETE 0":
        raise NotFound(f"site {site_id} not found")


async def set_charger_site(db: Executor, charge_point_id: str, site_id: str | None) -> None:
    try:
        result = await db.execute(
            "UPDATE chargers SET site_id = $2, updated_at = now() WHERE charge_point_id = $1",
            charge_point_id,
            site_id,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"site {site_id} not found") from None
    if result == "UPDATE 0":
        raise NotFound(f"charger {charge_point_id} not found")


async def site_of(db: Executor, charge_point_id: str) -> Site | None:
    record = await db.fetchrow(
        f"""SELECT {", ".join(f"s.{c.strip()}" for c in _SITE_COLUMNS.split(","))}
            FROM chargers c JOIN sites s ON s.id = c.site_id WHERE c.charge_point_id = $1""",
        charge_point_id,
    )
    return _site(record) if record else None


async def charger_sites(
    db: Executor, charge_point_ids: Sequence[str] | None = None
) -> dict[str, str | None]:
    """Every charger (or those of ``charge_point_ids``) and its site (None: none)."""
    if charge_point_ids is None:
        records = await db.fetch("SELECT charge_point_id, site_id FROM chargers")
    else:  # its own statement, so its plan uses the primary key
        records = await db.fetch(
            "SELECT charge_point_id, site_id FROM chargers WHERE charge_point_id = ANY($1)",
            charge_point_ids,
        )
    return {r["charge_point_id"]: r["site_id"] for r in records}


# -- tariffs and versions -----------------------------------------------------------------------


async def add_tariff(
    db: asyncpg.Pool,
    tariff_id: str,
    *,
    description: str,
    definition: dict[str, Any],
    currency: str,
    created_by: str | None,
) -> TariffVersion:
    """A new tariff with its first version, a draft."""
    async with db.acquire() as connection, connection.transaction():
        try:
            await connection.execute(
                "INSERT INTO tariffs (id, description) VALUES ($1, $2)", tariff_id, description
            )
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"tariff {tariff_id} exists already") from None
        record = await connection.fetchrow(
            f"""INSERT INTO tariff_versions (tariff_id, version, definition, currency, created_by)
                VALUES ($1, 1, $2, $3, $4) RETURNING {_VERSION_COLUMNS}""",
            tariff_id,
            definition,
            currency,
            created_by,
        )
    assert record is not None
    return _version(record)


async def save_draft(
    db: asyncpg.Pool,
    tariff_id: str,
    *,
    definition: dict[str, Any],
    currency: str,
    created_by: str | None,
    description: str | None = None,
) -> TariffVersion:
    """Change the tariff's draft, or start the next version as a draft (a published version
    never changes)."""
    async with db.acquire() as connection, connection.transaction():
        exists = await connection.fetchval(
            "SELECT 1 FROM tariffs WHERE id = $1 FOR UPDATE", tariff_id
        )
        if exists is None:
            raise NotFound(f"tariff {tariff_id} not found")
        if description is not None:
            await connection.execute(
                "UPDATE tariffs SET description = $2 WHERE id = $1", tariff_id, description
            )
        record = await connection.fetchrow(
            f"""UPDATE tariff_versions SET definition = $2, currency = $3, created_by = $4,
                    created_at = now()
                WHERE tariff_id = $1 AND published_at IS NULL RETURNING {_VERSION_COLUMNS}""",
            tariff_id,
            definition,
            currency,
            created_by,
        )
        if record is None:
            record = await connection.fetchrow(
                f"""INSERT INTO tariff_versions (tariff_id, version, definition, currency,
                        created_by)
                    SELECT $1, max(version) + 1, $2, $3, $4 FROM tariff_versions
                    WHERE tariff_id = $1 RETURNING {_VERSION_COLUMNS}""",
                tariff_id,
                definition,
                currency,
                created_by,
            )
    assert record is not None
    return _version(record)


async def publish(
    db: Executor, tariff_id: str, *, published_by: str | None, at: datetime
) -> TariffVersion:
    """Publish the tariff's draft: from now on new sessions are priced with it."""
    record = await db.fetchrow(
        f"""UPDATE tariff_versions SET published_at = $2, published_by = $3
            WHERE tariff_id = $1 AND published_at IS NULL RETURNING {_VERSION_COLUMNS}""",
        tariff_id,
        at,
        published_by,
    )
    if record is None:
        if await db.fetchval("SELECT 1 FROM tariffs WHERE id = $1", tariff_id) is None:
            raise NotFound(f"tariff {tariff_id} not found")
        raise InvalidInput(f"tariff {tariff_id}: no draft to publish (edit it first)")
    return _version(record)


async def get_version(db: Executor, tariff_id: str, version: int) -> TariffVersion | None:
    record = await db.fetchrow(
        f"SELECT {_VERSION_COLUMNS} FROM tariff_versions WHERE tariff_id = $1 AND version = $2",
        tariff_id,
        version,
    )
    return _version(record) if record else None


async def current_version(db: Executor, tariff_id: str) -> TariffVersion | None:
    """The latest published version."""
    record = await db.fetchrow(
        f"""SELECT {_VERSION_COLUMNS} FROM tariff_versions
            WHERE tariff_id = $1 AND published_at IS NOT NULL ORDER BY version DESC LIMIT 1""",
        tariff_id,
    )
    return _version(record) if record else None


async def list_versions(db: Executor, tariff_id: str) -> list[TariffVersion]:
    records = await db.fetch(
        f"""SELECT {_VERSION_COLUMNS} FROM tariff_versions WHERE tariff_id = $1
            ORDER BY version""",
        tariff_id,
    )
    return [_version(r) for r in records]


async def list_tariffs(db: Executor) -> list[TariffInfo]:
    records = await db.fetch(
        """SELECT t.id, t.description, t.created_at,
               max(v.version) AS latest_version,
               max(v.version) FILTER (WHERE v.published_at IS NOT NULL) AS published_version
           FROM tariffs t JOIN tariff_versions v ON v.tariff_id = t.id
           GROUP BY t.id ORDER BY t.id COLLATE "C" """
    )
    return [TariffInfo(**dict(r)) for r in records]


async def get_tariff(db: Executor, tariff_id: str) -> TariffInfo | None:
    for info in await list_tariffs(db):
        if info.id == tariff_id:
            return info
    return None


async def describe(db: Executor, tariff_id: str, description: str) -> None:
    """Change a tariff's description (not part of any version: it prices nothing)."""
    result = await db.execute(
        "UPDATE tariffs SET description = $2 WHERE id = $1", tariff_id, description
    )
    if result == "UPDATE 0":
        raise NotFound(f"tariff {tariff_id} not found")


async def remove_tariff(db: Executor, tariff_id: str) -> None:
    try:
        result = await db.execute("DELETE FROM tariffs WHERE id = $1", tariff_id)
    except (asyncpg.ForeignKeyViolationError, asyncpg.RestrictViolationError):
        raise InvalidInput(
            f"tariff {tariff_id} priced sessions: it cannot be deleted (unassign it instead)"
        ) from None
    if result == "DELETE 0":
        raise NotFound(f"tariff {tariff_id} not found")


# -- assignments --------------------------------------------------------------------------------


async def assign(
    db: Executor, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
) -> Assignment:
    try:
        record = await db.fetchrow(
            """INSERT INTO tariff_assignments (scope, target, tariff_id, created_by)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (scope, target) DO UPDATE SET tariff_id = excluded.tariff_id,
                   created_by = excluded.created_by, created_at = now()
               RETURNING scope, target, tariff_id, created_by, created_at""",
            scope.value,
            target,
            tariff_id,
            created_by,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"tariff {tariff_id} not found") from None
    assert record is not None
    return _assignment(record)


def _assignment(record: asyncpg.Record) -> Assignment:
    return Assignment(
        Scope(record["scope"]),
        record["target"],
        record["tariff_id"],
        record["created_by"],
        record["created_at"],
    )


async def unassign(db: Executor, scope: Scope, target: str) -> None:
    result = await db.execute(
        "DELETE FROM tariff_assignments WHERE scope = $1 AND target = $2", scope.value, target
    )
    if result == "DELETE 0":
        raise NotFound(f"no tariff is assigned to {scope.value} {target or '(default)'}")


async def list_assignments(db: Executor) -> list[Assignment]:
    records = await db.fetch(
        """SELECT scope, target, tariff_id, created_by, created_at FROM tariff_assignments
           ORDER BY scope, target COLLATE "C" """
    )
    return [_assignment(r) for r in records]


async def display_assignments(
    db: Executor, charge_point_ids: Sequence[str], site_ids: Sequence[str]
) -> list[Assignment]:
    """The default and the assignments to these chargers and sites (the primary key's
    index per scope: a boot batch reads what concerns it, not every assignment)."""
    records = await db.fetch(
        """SELECT scope, target, tariff_id, created_by, created_at FROM tariff_assignments
           WHERE scope = 'default'
              OR (scope = 'charger' AND target = ANY($1::text[]))
              OR (scope = 'site' AND target = ANY($2::text[]))
           ORDER BY scope, target COLLATE "C" """,
        list(charge_point_ids),
        list(site_ids),
    )
    return [_assignment(r) for r in records]


_SITE_OF_RESOLVED = ", ".join(
    f"s.{c.strip()} AS site_{c.strip()}" for c in _SITE_COLUMNS.split(",")
)
_VERSION_OF_RESOLVED = ", ".join(f"v.{c.strip()}" for c in _VERSION_COLUMNS.split(","))


async def resolve(db: Executor, charge_point_id: str, groups: Sequence[str]) -> Resolved:
    """In one round trip: the charger's site, the most specific assignment (``groups`` in
    order, then the charger, its site, the default) and that tariff's current version."""
    record = await db.fetchrow(
        f"""WITH c AS (SELECT site_id FROM chargers WHERE charge_point_id = $1),
            chosen AS (
                SELECT a.scope, a.target, a.tariff_id FROM tariff_assignments a
                WHERE (a.scope = 'group' AND a.target = ANY($2::text[]))
                   OR (a.scope = 'charger' AND a.target = $1)
                   OR (a.scope = 'site' AND a.target = (SELECT site_id FROM c))
                   OR a.scope = 'default'
                ORDER BY CASE a.scope
                    WHEN 'group' THEN array_position($2::text[], a.target)
                    WHEN 'charger' THEN 100000 WHEN 'site' THEN 100001 ELSE 100002 END
                LIMIT 1)
            SELECT {_SITE_OF_RESOLVED}, chosen.scope, chosen.target,
                chosen.tariff_id AS chosen_tariff, {_VERSION_OF_RESOLVED}
            FROM (SELECT 1) AS one
            LEFT JOIN c ON true
            LEFT JOIN sites s ON s.id = c.site_id
            LEFT JOIN chosen ON true
            LEFT JOIN LATERAL (
                SELECT {_VERSION_COLUMNS} FROM tariff_versions
                WHERE tariff_id = chosen.tariff_id AND published_at IS NOT NULL
                ORDER BY version DESC LIMIT 1) v ON true""",
        charge_point_id,
        list(groups),
    )
    assert record is not None
    site = None
    if record["site_id"] is not None:
        site = Site(**{c.strip(): record[f"site_{c.strip()}"] for c in _SITE_COLUMNS.split(",")})
    applicable = None
    if record["chosen_tariff"] is not None:
        applicable = Applicable(record["chosen_tariff"], Scope(record["scope"]), record["target"])
    version = None
    if record["version"] is not None:
        version = TariffVersion(
            **{c.strip(): record[c.strip()] for c in _VERSION_COLUMNS.split(",")}
        )
    return Resolved(site, applicable, version)


# -- pushes -------------------------------------------------------------------------------------


def _push(record: asyncpg.Record) -> TariffPush:
    return TariffPush(**dict(record))


async def request_pushes(
    db: Executor, targets: Sequence[tuple[str, str | None, int | None]]
) -> None:
    """The display each charger should have now: (charge point id, tariff id, version);
    pending until applied (a newer request replaces an older one; of a charger named twice,
    the later one counts)."""
    if not targets:
        return
    # DISTINCT ON: ON CONFLICT DO UPDATE cannot change one row twice in a statement
    await db.execute(
        f"""INSERT INTO tariff_pushes (charge_point_id, tariff_id, tariff_version, status)
            SELECT DISTINCT ON (v.cp) v.cp, v.tariff, v.version, '{PUSH_PENDING}'
            FROM unnest($1::text[], $2::text[], $3::int[])
                WITH ORDINALITY AS v(cp, tariff, version, n)
            JOIN chargers c ON c.charge_point_id = v.cp
            ORDER BY v.cp, v.n DESC
            ON CONFLICT (charge_point_id) DO UPDATE SET tariff_id = excluded.tariff_id,
                tariff_version = excluded.tariff_version, status = excluded.status,
                detail = '', attempts = 0, requested_at = now(), updated_at = now()""",
        [t[0] for t in targets],
        [t[1] for t in targets],
        [t[2] for t in targets],
    )


async def pending_pushes(
    db: Executor, charge_point_ids: Sequence[str], *, retry_failed: bool = False
) -> list[TariffPush]:
    statuses = [PUSH_PENDING, PUSH_FAILED] if retry_failed else [PUSH_PENDING]
    records = await db.fetch(
        f"""SELECT {_PUSH_COLUMNS} FROM tariff_pushes
            WHERE status = ANY($2::text[]) AND charge_point_id = ANY($1::text[])
            ORDER BY charge_point_id""",
        list(charge_point_ids),
        statuses,
    )
    return [_push(r) for r in records]


async def record_push(
    db: Executor,
    charge_point_id: str,
    *,
    requested_at: datetime,
    status: str,
    detail: str,
) -> bool:
    """What became of the push requested at ``requested_at`` (a newer request since: False,
    nothing changes)."""
    result = await db.execute(
        """UPDATE tariff_pushes SET status = $3, detail = $4, attempts = attempts + 1,
               updated_at = now()
           WHERE charge_point_id = $1 AND requested_at = $2""",
        charge_point_id,
        requested_at,
        status,
        detail[:500],
    )
    return result == "UPDATE 1"


async def list_pushes(
    db: Executor,
    *,
    tariff_id: str | None = None,
    charge_point_id: str | None = None,
    charge_point_ids: Sequence[str] | None = None,
) -> list[TariffPush]:
    if charge_point_ids is not None:  # its own statement, so its plan uses the key
        records = await db.fetch(
            f"""SELECT {_PUSH_COLUMNS} FROM tariff_pushes
                WHERE charge_point_id = ANY($3) AND ($1::text IS NULL OR tariff_id = $1)
                  AND ($2::text IS NULL OR charge_point_id = $2)
                ORDER BY charge_point_id COLLATE "C" """,
            tariff_id,
            charge_point_id,
            charge_point_ids,
        )
    else:
        records = await db.fetch(
            f"""SELECT {_PUSH_COLUMNS} FROM tariff_pushes
                WHERE ($1::text IS NULL OR tariff_id = $1)
                  AND ($2::text IS NULL OR charge_point_id = $2)
                ORDER BY charge_point_id COLLATE "C" """,
            tariff_id,
            charge_point_id,
        )
    return [_push(r) for r in records]
