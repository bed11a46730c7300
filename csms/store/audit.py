"""``audit_log``: append, search, export, and the retention purge (the only delete there is).

The table refuses UPDATE, DELETE and TRUNCATE (migration ``0012_audit``); nothing here
tries. Rows leave through ``audit_log_purge(days, batch)`` only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.audit import AuditEntry, NewAuditEntry, storable
from csms.store.executor import Executor

_COLUMNS = (
    "id, at, source, actor_user_id, actor, actor_role, action, method, route, target, "
    "target_params, params, status, outcome, result, client, request_id"
)
EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Search terms; each one given narrows the result (AND)."""

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    status: int | None = None
    source: str | None = None
    request_id: str | None = None


def _entry(record: asyncpg.Record) -> AuditEntry:
    return AuditEntry(**dict(record))


def _text(value: str | None) -> str | None:
    return None if value is None else storable(value)


async def record(db: Executor, entry: NewAuditEntry) -> int:
    """Append ``entry``; its id (text made storable: a NUL in a hostile username is
    recorded as U+FFFD, not lost)."""
    value = await db.fetchval(
        """INSERT INTO audit_log (source, actor_user_id, actor, actor_role, action, method,
               route, target, target_params, params, status, outcome, result, client,
               request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           RETURNING id""",
        entry.source,
        entry.actor_user_id,
        _text(entry.actor),
        _text(entry.actor_role),
        _text(entry.action),
        _text(entry.method),
        _text(entry.route),
        _text(entry.target),
        entry.target_params,
        entry.params,
        entry.status,
        entry.outcome,
        entry.result,
        _text(entry.client),
        _text(entry.request_id),
    )
    return int(value)


def _where(terms: AuditFilter, args: list[Any]) -> str:
    clauses: list[str] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if terms.actor is not None:
        clauses.append(f"actor = {arg(terms.actor)}")
    if terms.target is not None:
        placeholder = arg(terms.target)
        clauses.append(
            f"(target = {placeholder} OR target LIKE {placeholder} || '/%' OR EXISTS ("
            f"SELECT 1 FROM jsonb_each_text(target_params) p WHERE p.value = {placeholder}))"
        )
    if terms.action is not None:
        # an exact action, or a prefix ending with "." ("chargers." for every charger action)
        placeholder = arg(terms.action)
        clauses.append(
            f"(action = {placeholder} OR (right({placeholder}, 1) = '.' "
            f"AND starts_with(action, {placeholder})))"
        )
    if terms.since is not None:
        clauses.append(f"at >= {arg(terms.since)}")
    if terms.until is not None:
        clauses.append(f"at < {arg(terms.until)}")
    if terms.outcome is not None:
        clauses.append(f"outcome = {arg(terms.outcome)}")
    if terms.status is not None:
        clauses.append(f"status = {arg(terms.status)}")
    if terms.source is not None:
        clauses.append(f"source = {arg(terms.source)}")
    if terms.request_id is not None:
        clauses.append(f"request_id = {arg(terms.request_id)}")
    return " AND ".join(clauses) if clauses else "true"


async def search(
    db: Executor, terms: AuditFilter, *, before_id: int | None = None, limit: int = 100
) -> list[AuditEntry]:
    """Entries matching ``terms``, newest first, with ids below ``before_id``."""
    args: list[Any] = []
    where = _where(terms, args)
    if before_id is not None:
        args.append(before_id)
        where += f" AND id < ${len(args)}"
    args.append(limit)
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY id DESC LIMIT ${len(args)}",
        *args,
    )
    return [_entry(r) for r in rows]


async def export(pool: asyncpg.Pool, terms: AuditFilter) -> AsyncIterator[AuditEntry]:
    """Every entry matching ``terms``, oldest first, fetched in batches (never all at once
    in memory, and no connection held between batches)."""
    after = 0
    while True:
        args: list[Any] = []
        where = _where(terms, args)
        args.append(after)
        where += f" AND id > ${len(args)}"
        args.append(EXPORT_BATCH)
        rows = await pool.fetch(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {where} ORDER BY id LIMIT ${len(args)}",
            *args,
        )
        for row in rows:
            yield _entry(row)
        if len(rows) < EXPORT_BATCH:
            return
        after = int(rows[-1]["id"])


async def purge(db: Executor, *, days: int, batch: int = 10_000) -> int:
    """Remove up to ``batch`` entries older than ``days`` (through ``audit_log_purge``, the
    only path the table lets a delete through); how many went."""
    removed = await db.fetchval("SELECT audit_log_purge($1, $2)", days, batch)
    return int(removed or 0)
