"""Which user (driver) an id token belongs to, and what that lets a driver see.

Id tokens are case insensitive, so every lookup goes through ``lower(id_token)``; the binding
row holds the token as registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime

import asyncpg

from csms.domain.id_tokens import IdToken
from csms.domain.transactions import Transaction
from csms.errors import NotFound
from csms.store.executor import Executor

_TOKEN_COLUMNS = ", ".join(f"t.{f.name}" for f in fields(IdToken))
_TX_COLUMNS = ", ".join(f"x.{name}" for name in Transaction.__slots__)


async def set_owner(db: Executor, id_token: str, user_id: int | None) -> None:
    """Bind ``id_token`` to ``user_id`` (replacing any owner), or unbind it with None."""
    if user_id is None:
        await db.execute(
            "DELETE FROM id_token_users WHERE lower(id_token) = lower($1)",
            id_token,
        )
        return
    try:
        result = await db.execute(
            """INSERT INTO id_token_users (id_token, user_id)
               SELECT id_token, $2 FROM id_tokens WHERE lower(id_token) = lower($1)
               ON CONFLICT (id_token) DO UPDATE SET user_id = excluded.user_id""",
            id_token,
            user_id,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"user {user_id} not found") from None
    if result == "INSERT 0 0":
        raise NotFound(f"id token {id_token} not found")


async def owner_of(db: Executor, id_token: str) -> int | None:
    value = await db.fetchval(
        "SELECT user_id FROM id_token_users WHERE lower(id_token) = lower($1)", id_token
    )
    return None if value is None else int(value)


async def owners_of(db: Executor, id_tokens: Sequence[str]) -> dict[str, int]:
    """``{id_token as given: user_id}`` for the bound ones among ``id_tokens``."""
    if not id_tokens:
        return {}
    records = await db.fetch(
        """SELECT given, b.user_id FROM unnest($1::text[]) AS given
           JOIN id_token_users b ON lower(b.id_token) = lower(given)""",
        list(id_tokens),
    )
    return {r["given"]: int(r["user_id"]) for r in records}


async def list_tokens_of_user(
    db: Executor, user_id: int, *, limit: int = 100, after: str = ""
) -> list[IdToken]:
    records = await db.fetch(
        f"""SELECT {_TOKEN_COLUMNS} FROM id_tokens t
            JOIN id_token_users b ON b.id_token = t.id_token
            WHERE b.user_id = $1 AND t.id_token > $2 ORDER BY t.id_token LIMIT $3""",
        user_id,
        after,
        limit,
    )
    return [IdToken(**dict(r)) for r in records]


async def list_transactions_of_user(
    db: Executor,
    user_id: int,
    *,
    charge_point_id: str | None = None,
    id_token: str | None = None,
    active: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_pk: int | None = None,
) -> list[Transaction]:
    """Sessions started with any id token bound to ``user_id``; newest first, like
    :func:`csms.store.transactions.list_transactions`."""
    records = await db.fetch(
        f"""SELECT {_TX_COLUMNS} FROM transactions x
            JOIN id_token_users b ON lower(b.id_token) = lower(x.id_token)
            WHERE b.user_id = $1
              AND ($2::text IS NULL OR x.charge_point_id = $2)
              AND ($3::text IS NULL OR lower(x.id_token) = lower($3))
              AND ($4::boolean IS NULL OR (x.ended_at IS NULL) = $4)
              AND ($5::timestamptz IS NULL OR x.started_at >= $5)
              AND ($6::timestamptz IS NULL OR x.started_at < $6)
              AND ($7::bigint IS NULL OR x.id < $7)
            ORDER BY x.id DESC LIMIT $8""",
        user_id,
        charge_point_id,
        id_token,
        active,
        since,
        until,
        before_pk,
        limit,
    )
    return [Transaction(**dict(r)) for r in records]


async def user_owns_transaction(
    db: Executor, user_id: int, charge_point_id: str, transaction_id: str
) -> bool:
    """Whether the session ``transaction_id`` of the charger was started with one of the
    user's id tokens."""
    value = await db.fetchval(
        """SELECT 1 FROM transactions x
           JOIN id_token_users b ON lower(b.id_token) = lower(x.id_token)
           WHERE x.charge_point_id = $1 AND x.transaction_id = $2 AND b.user_id = $3""",
        charge_point_id,
        transaction_id,
        user_id,
    )
    return value is not None
