"""Backoffice users and their rotating refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms.errors import AlreadyExists, NotFound
from csms.store.executor import Executor

ROLES = ("admin", "operator", "monitor", "driver")

_COLUMNS = "id, username, password_hash, role, disabled, token_version, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str
    role: str
    disabled: bool
    token_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshToken:
    id: int
    user_id: int
    family: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _user(record: asyncpg.Record) -> User:
    return User(**dict(record))


async def add_user(db: Executor, username: str, *, password_hash: str, role: str) -> User:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3)
                RETURNING {_COLUMNS}""",
            username,
            password_hash,
            role,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"user {username} exists already") from None
    assert record is not None
    return _user(record)


async def get_user(db: Executor, user_id: int) -> User | None:
    record = await db.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(record) if record else None


async def get_user_by_username(db: Executor, username: str) -> User | None:
    record = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE lower(username) = lower($1)", username
    )
    return _user(record) if record else None


async def list_users(
    db: Executor, *, limit: int = 100, after_id: int = 0, role: str | None = None
) -> list[User]:
    """By id; page with ``after_id`` = the last id of the previous page."""
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM users WHERE id > $1 AND ($2::text IS NULL OR role = $2)
            ORDER BY id LIMIT $3""",
        after_id,
        role,
        limit,
    )
    return [_user(r) for r in records]


async def count_admins(db: Executor, *, enabled_only: bool = True) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM users WHERE role = 'admin' AND (NOT $1 OR NOT disabled)",
        enabled_only,
    )
    return int(count or 0)


async def update_user(db: Executor, user_id: int, **changes: Any) -> User:
    """Change role, password_hash or disabled. Any change of those bumps ``token_version``,
    so access tokens issued before stop working."""
    allowed = {"role", "password_hash", "disabled"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(changes, start=2))
    record = await db.fetchrow(
        f"""UPDATE users SET {assignments}token_version = token_version + 1, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""",
        user_id,
        *changes.values(),
    )
    if record is None:
        raise NotFound(f"user {user_id} not found")
    return _user(record)


async def remove_user(db: Executor, user_id: int) -> None:
    """Delete the user; their refresh tokens and id token bindings go with them."""
    if await db.execute("DELETE FROM users WHERE id = $1", user_id) == "DELETE 0":
        raise NotFound(f"user {user_id} not found")


# -- refresh tokens ---------------------------------------------------------------------------


async def add_refresh_token(
    db: Executor, user_id: int, *, family: str, token_hash: str, expires_at: datetime
) -> None:
    await db.execute(
        """INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)""",
        user_id,
        family,
        token_hash,
        expires_at,
    )


async def lock_refresh_token(db: Executor, token_hash: str) -> RefreshToken | None:
    """The token with this hash, locked until the end of the caller's transaction."""
    record = await db.fetchrow(
        """SELECT id, user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens
           WHERE token_hash = $1 FOR UPDATE""",
        token_hash,
    )
    return RefreshToken(**dict(record)) if record else None


async def mark_refresh_token_used(db: Executor, token_id: int) -> bool:
    """False if it was used or revoked already (a concurrent refresh won)."""
    result = await db.execute(
        """UPDATE refresh_tokens SET used_at = now()
           WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL""",
        token_id,
    )
    return result == "UPDATE 1"


async def revoke_refresh_family(db: Executor, family: str) -> int:
    result = await db.execute(
        """UPDATE refresh_tokens SET revoked_at = now()
           WHERE family = $1 AND revoked_at IS NULL""",
        family,
    )
    return int(result.split()[-1])


async def revoke_user_refresh_tokens(db: Executor, user_id: int) -> int:
    result = await db.execute(
        """UPDATE refresh_tokens SET revoked_at = now()
           WHERE user_id = $1 AND revoked_at IS NULL""",
        user_id,
    )
    return int(result.split()[-1])


async def purge_refresh_tokens(db: Executor, *, expired_before: datetime) -> int:
    """Delete tokens that expired before ``expired_before`` (used, revoked or not)."""
    result = await db.execute("DELETE FROM refresh_tokens WHERE expires_at < $1", expired_before)
    return int(result.split()[-1])


async def lock_users(db: Executor) -> None:
    """Serialise changes of roles until the end of the caller's transaction (so two admins
    demoting each other cannot leave no admin)."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtext('csms.users'))")
