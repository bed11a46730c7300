"""Notification subscriptions in PostgreSQL: webhooks (a URL and the secret deliveries are
signed with) and e-mail (recipients), for some event types, at one site or all. The secret
is written and rotated here, sealed (csms.secretbox), and read only by the worker: its claim
(:func:`csms.store.notifications.claim`) and its sealing pass (:func:`unsealed_secrets`); no
function the backoffice calls returns it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms.errors import NotFound

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    kind: str
    description: str
    event_types: list[str]
    site_id: str | None
    enabled: bool
    url: str | None
    recipients: list[str]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime


_SUBSCRIPTION_COLUMNS = """
    id, kind, description, event_types, site_id, enabled, url,
    coalesce(recipients, '{}') AS recipients, created_by, created_at, updated_at,
    secret_rotated_at
"""


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(**dict(row))


async def create_subscription(
    conn: Connection,
    *,
    kind: str,
    event_types: Sequence[str],
    site_id: str | None,
    description: str = "",
    url: str | None = None,
    secret: str | None = None,
    recipients: Sequence[str] | None = None,
    enabled: bool = True,
    created_by: str | None = None,
) -> Subscription:
    row = await conn.fetchrow(
        f"""
        INSERT INTO notification_subscriptions
            (kind, description, event_types, site_id, url, secret, recipients, enabled,
             created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_SUBSCRIPTION_COLUMNS}
        """,
        kind,
        description,
        list(event_types),
        site_id,
        url,
        secret,
        None if recipients is None else list(recipients),
        enabled,
        created_by,
    )
    assert row is not None
    return _subscription(row)


async def get_subscription(conn: Connection, subscription_id: int, kind: str) -> Subscription:
    row = await conn.fetchrow(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM notification_subscriptions "
        "WHERE id = $1 AND kind = $2",
        subscription_id,
        kind,
    )
    if row is None:
        raise NotFound(f"no {kind} subscription {subscription_id}")
    return _subscription(row)


async def list_subscriptions(
    conn: Connection, kind: str, *, after: int | None, limit: int
) -> list[Subscription]:
    rows = await conn.fetch(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM notification_subscriptions "
        "WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3",
        kind,
        after or 0,
        limit,
    )
    return [_subscription(row) for row in rows]


_UPDATABLE = ("description", "event_types", "site_id", "enabled", "url", "recipients")


async def update_subscription(
    conn: Connection, subscription_id: int, kind: str, changes: Mapping[str, Any]
) -> Subscription:
    """Change the given fields (of :data:`_UPDATABLE`)."""
    names = [name for name in _UPDATABLE if name in changes]
    if not names:
        return await get_subscription(conn, subscription_id, kind)
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=3))
    row = await conn.fetchrow(
        f"UPDATE notification_subscriptions SET {sets}, updated_at = now() "
        f"WHERE id = $1 AND kind = $2 RETURNING {_SUBSCRIPTION_COLUMNS}",
        subscription_id,
        kind,
        *(changes[name] for name in names),
    )
    if row is None:
        raise NotFound(f"no {kind} subscription {subscription_id}")
    return _subscription(row)


async def delete_subscription(conn: Connection, subscription_id: int, kind: str) -> None:
    """With its deliveries and their log."""
    done = await conn.execute(
        "DELETE FROM notification_subscriptions WHERE id = $1 AND kind = $2",
        subscription_id,
        kind,
    )
    if done == "DELETE 0":
        raise NotFound(f"no {kind} subscription {subscription_id}")


async def rotate_secret(
    conn: Connection, subscription_id: int, secret: str, *, grace: float
) -> Subscription:
    """Sign with ``secret`` from now on, and with the old one too for ``grace`` seconds."""
    row = await conn.fetchrow(
        f"""
        UPDATE notification_subscriptions
        SET previous_secret = secret, secret = $2,
            previous_secret_until = now() + make_interval(secs => $3),
            secret_rotated_at = now(), updated_at = now()
        WHERE id = $1 AND kind = 'webhook'
        RETURNING {_SUBSCRIPTION_COLUMNS}
        """,
        subscription_id,
        secret,
        grace,
    )
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return _subscription(row)


async def unsealed_secrets(
    conn: Connection, sealed_prefix: str
) -> list[tuple[int, str | None, str | None]]:
    """Webhooks whose secret or previous secret is not sealed under the current key (its
    values do not start with ``sealed_prefix``): (id, secret, previous secret), for the
    worker to seal (stored before sealing existed, or under the previous key)."""
    records = await conn.fetch(
        """
        SELECT id, secret, previous_secret FROM notification_subscriptions
        WHERE kind = 'webhook' AND (
            (secret IS NOT NULL AND NOT starts_with(secret, $1))
            OR (previous_secret IS NOT NULL AND NOT starts_with(previous_secret, $1)))
        ORDER BY id
        """,
        sealed_prefix,
    )
    return [(r["id"], r["secret"], r["previous_secret"]) for r in records]


async def replace_secrets(
    conn: Connection,
    subscription_id: int,
    was: tuple[str | None, str | None],
    now: tuple[str | None, str | None],
) -> bool:
    """Store ``now`` (secret, previous secret) in place of ``was``, unless they changed
    meanwhile (a rotation won): whether it was stored."""
    status = await conn.execute(
        """
        UPDATE notification_subscriptions SET secret = $4, previous_secret = $5
        WHERE id = $1 AND secret IS NOT DISTINCT FROM $2
          AND previous_secret IS NOT DISTINCT FROM $3
        """,
        subscription_id,
        *was,
        *now,
    )
    return bool(status == "UPDATE 1")
