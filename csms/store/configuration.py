"""What commands learn or change on a charger: configuration keys and availability."""

from __future__ import annotations

from collections.abc import Sequence

from csms.domain.reports import Availability, ConfigurationRow, ConfigurationValue
from csms.store.executor import Executor


async def upsert_configuration(
    db: Executor,
    charge_point_id: str,
    rows: Sequence[ConfigurationRow],
    *,
    source: str = "reported",
    by: str | None = None,
) -> None:
    """Remember 1.6 configuration values (GetConfiguration answers, accepted changes); a
    value that changes is kept in ``config_history`` with ``source`` and ``by`` (a key first
    reported is not a change; a first value an operator applied is)."""
    if not rows:
        return
    # a key listed twice (a charger's answer) applies as if one after the other: one row
    # per key (ON CONFLICT may not touch a row twice in one statement)
    merged: dict[str, ConfigurationRow] = {}
    for key, value, known in rows:
        before = merged.get(key)
        merged[key] = (key, value, before[2] if known is None and before else known)
    keys, values, readonly = (list(c) for c in zip(*merged.values(), strict=True))
    # every CTE reads the rows as they were before the statement: `old` is the value before
    await db.execute(
        """WITH incoming AS (
               SELECT * FROM unnest($2::text[], $3::text[], $4::boolean[]) AS t(key, value, ro)
           ), old AS (
               SELECT c.key, c.value FROM charger_configuration c
               WHERE c.charge_point_id = $1 AND c.key = ANY($2)
           ), upserted AS (
               INSERT INTO charger_configuration (charge_point_id, key, value, readonly)
               SELECT $1, key, value, ro FROM incoming
               ON CONFLICT (charge_point_id, key) DO UPDATE SET value = excluded.value,
                   readonly = coalesce(excluded.readonly, charger_configuration.readonly),
                   updated_at = now()
               RETURNING key, value
           )
           INSERT INTO config_history (charge_point_id, setting, old_value, new_value, source,
               changed_by)
           SELECT $1, u.key, o.value, u.value, $5, $6
           FROM upserted u LEFT JOIN old o ON o.key = u.key
           WHERE CASE WHEN o.key IS NULL THEN $5 = 'applied'
                      ELSE o.value IS DISTINCT FROM u.value END""",
        charge_point_id,
        keys,
        values,
        readonly,
        source,
        by,
    )


async def forget_configuration(
    db: Executor, charge_point_id: str, *, keeping: Sequence[str] | None, by: str | None = None
) -> None:
    """Keys the charger no longer has: every key not in ``keeping`` (a full read), or none
    when ``keeping`` is None. Each removal is kept in ``config_history``."""
    if keeping is None:
        return
    await db.execute(
        """WITH gone AS (
               DELETE FROM charger_configuration
               WHERE charge_point_id = $1 AND NOT (key = ANY($2::text[]))
               RETURNING key, value
           )
           INSERT INTO config_history (charge_point_id, setting, old_value, new_value, source,
               changed_by)
           SELECT $1, key, value, NULL, 'removed', $3 FROM gone""",
        charge_point_id,
        list(keeping),
        by,
    )


async def forget_keys(
    db: Executor, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
) -> None:
    """Keys the charger said it does not have (1.6 unknownKey)."""
    if not keys:
        return
    await db.execute(
        """WITH gone AS (
               DELETE FROM charger_configuration
               WHERE charge_point_id = $1 AND key = ANY($2::text[])
               RETURNING key, value
           )
           INSERT INTO config_history (charge_point_id, setting, old_value, new_value, source,
               changed_by)
           SELECT $1, key, value, NULL, 'removed', $3 FROM gone""",
        charge_point_id,
        list(keys),
        by,
    )


async def list_configuration(db: Executor, charge_point_id: str) -> list[ConfigurationValue]:
    """The reported 1.6 configuration keys, by key."""
    records = await db.fetch(
        """SELECT key, value, readonly, updated_at FROM charger_configuration
           WHERE charge_point_id = $1 ORDER BY key COLLATE "C"
        """,
        charge_point_id,
    )
    return [
        ConfigurationValue(r["key"], r["value"], r["readonly"], r["updated_at"]) for r in records
    ]


async def record_availability(
    db: Executor,
    charge_point_id: str,
    *,
    evse_id: int,
    connector_id: int,
    operative: bool,
    answer: str,
) -> None:
    await db.execute(
        """INSERT INTO charger_availability (charge_point_id, evse_id, connector_id, operative,
               answer)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (charge_point_id, evse_id, connector_id) DO UPDATE SET
               operative = excluded.operative, answer = excluded.answer, updated_at = now()""",
        charge_point_id,
        evse_id,
        connector_id,
        operative,
        answer,
    )


async def list_availability(db: Executor, charge_point_id: str) -> list[Availability]:
    records = await db.fetch(
        """SELECT evse_id, connector_id, operative, answer, updated_at FROM charger_availability
           WHERE charge_point_id = $1 ORDER BY evse_id, connector_id""",
        charge_point_id,
    )
    return [Availability(**dict(r)) for r in records]
