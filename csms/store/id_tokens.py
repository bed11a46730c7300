"""Id tokens (RFID cards, app tokens) and their status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.id_tokens import IdToken
from csms.errors import AlreadyExists, NotFound
from csms.store.executor import Executor

COLUMNS = (
    "id_token, token_type, status, expiry_date, parent_id_token, allow_concurrent, description"
)


async def add_id_token(
    db: Executor,
    id_token: str,
    *,
    token_type: str = "ISO14443",
    status: str = "Accepted",
    expiry_date: datetime | None = None,
    parent_id_token: str | None = None,
    allow_concurrent: bool = False,
    description: str = "",
) -> IdToken:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO id_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
                RETURNING {COLUMNS}""",
            id_token,
            token_type,
            status,
            expiry_date,
            parent_id_token,
            allow_concurrent,
            description,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"id token {id_token} exists already") from None
    assert record is not None
    return IdToken(**dict(record))


async def get_id_token(db: Executor, id_token: str) -> IdToken | None:
    record = await db.fetchrow(
        f"SELECT {COLUMNS} FROM id_tokens WHERE lower(id_token) = lower($1)", id_token
    )
    return IdToken(**dict(record)) if record else None


async def list_id_tokens(db: Executor, *, limit: int = 1000, after: str = "") -> list[IdToken]:
    records = await db.fetch(
        f"SELECT {COLUMNS} FROM id_tokens WHERE id_token > $1 ORDER BY id_token LIMIT $2",
        after,
        limit,
    )
    return [IdToken(**dict(r)) for r in records]


async def update_id_token(db: Executor, id_token: str, **changes: Any) -> IdToken:
    allowed = {
        "token_type",
        "status",
        "expiry_date",
        "parent_id_token",
        "allow_concurrent",
        "description",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    record = await db.fetchrow(
        f"""UPDATE id_tokens SET {assignments}, updated_at = now() WHERE lower(id_token) = lower($1)
            RETURNING {COLUMNS}""",
        id_token,
        *changes.values(),
    )
    if record is None:
        raise NotFound(f"id token {id_token} not found")
    return IdToken(**dict(record))


async def remove_id_token(db: Executor, id_token: str) -> None:
    if (
        await db.execute("DELETE FROM id_tokens WHERE lower(id_token) = lower($1)", id_token)
        == "DELETE 0"
    ):
        raise NotFound(f"id token {id_token} not found")
