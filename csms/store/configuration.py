"""What commands learn or change on a charger: configuration keys and availability."""

from __future__ import annotations

from collections.abc import Sequence

from csms.domain.reports import Availability, ConfigurationRow, ConfigurationValue
from csms.store.executor import Executor


async def upsert_configuration(
    db: Executor, charge_point_id: str, rows: Sequence[ConfigurationRow]
) -> None:
    """Remember 1.6 configuration values (GetConfiguration answers, accepted changes)."""
    if not rows:
        return
    # a key listed twice (a charger's answer) applies as if one after the other: one row
    # per key (ON CONFLICT may not touch a row twice in one statement)
    merged: dict[str, ConfigurationRow] = {}
    for key, value, known in rows:
        before = merged.get(key)
        merged[key] = (key, value, before[2] if known is None and before else known)
    keys, values, readonly = (list(c) for c in zip(*merged.values(), strict=True))
    await db.execute(
        """INSERT INTO charger_configuration (charge_point_id, key, value, readonly)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::boolean[])
           ON CONFLICT (charge_point_id, key) DO UPDATE SET value = excluded.value,
               readonly = coalesce(excluded.readonly, charger_configuration.readonly),
               updated_at = now()""",
        charge_point_id,
        keys,
        values,
        readonly,
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
