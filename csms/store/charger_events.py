"""Notifications chargers report, kept as received, and the 2.0.1 device model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csms.domain.fleet_config import variable_setting
from csms.domain.reports import ConfigurationValue, Notification, VariableRow, variable_value
from csms.store.executor import Executor


async def record(
    db: Executor,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any],
    *,
    kind: str | None = None,
    occurred_at: datetime | None = None,
) -> None:
    await db.execute(
        """INSERT INTO charger_events (charge_point_id, action, kind, occurred_at, payload)
           VALUES ($1, $2, $3, $4, $5)""",
        charge_point_id,
        action,
        kind,
        occurred_at,
        payload,
    )


async def list_events(
    db: Executor,
    charge_point_id: str,
    *,
    actions: Sequence[str] | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Notification]:
    """Newest first; ``actions`` filters, ``before_id`` pages (the last id of a page)."""
    records = await db.fetch(
        """SELECT id, action, kind, occurred_at, payload, received_at FROM charger_events
           WHERE charge_point_id = $1 AND ($2::text[] IS NULL OR action = ANY($2))
             AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        charge_point_id,
        None if actions is None else list(actions),
        before_id,
        limit,
    )
    return [Notification(**dict(r)) for r in records]


async def upsert_variables(
    db: Executor,
    charge_point_id: str,
    rows: Sequence[VariableRow],
    *,
    source: str = "reported",
    by: str | None = None,
) -> None:
    """Rows of (component, component_instance, evse_id, connector_id, variable,
    variable_instance, attribute_type, value, mutability, characteristics). A value that
    changes is kept in ``config_history`` (as ``upsert_configuration`` says)."""
    if not rows:
        return
    # an attribute reported twice (a charger's report) applies as if one after the other:
    # one row each (ON CONFLICT may not touch a row twice in one statement)
    merged: dict[tuple[Any, ...], VariableRow] = {}
    for row in rows:
        key = tuple(row[:7])
        before = merged.get(key)
        if before is not None:
            row = row._replace(
                mutability=before.mutability if row.mutability is None else row.mutability,
                characteristics=(
                    before.characteristics if row.characteristics is None else row.characteristics
                ),
            )
        merged[key] = row
    columns: list[list[Any]] = [list(c) for c in zip(*merged.values(), strict=True)]
    settings = [variable_setting(row) for row in merged.values()]
    # every CTE reads the rows as they were before the statement: `old` is the value before
    await db.execute(
        """WITH incoming AS (
               SELECT * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[],
                   $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[])
                   AS t(component, component_instance, evse_id, connector_id, variable,
                        variable_instance, attribute_type, value, mutability, characteristics,
                        setting)
           ), old AS (
               SELECT i.setting, d.value FROM device_model_variables d JOIN incoming i
                   USING (component, component_instance, evse_id, connector_id, variable,
                          variable_instance, attribute_type)
               WHERE d.charge_point_id = $1
           ), upserted AS (
               INSERT INTO device_model_variables (charge_point_id, component,
                   component_instance, evse_id, connector_id, variable, variable_instance,
                   attribute_type, value, mutability, characteristics)
               SELECT $1, component, component_instance, evse_id, connector_id, variable,
                   variable_instance, attribute_type, value, mutability, characteristics
               FROM incoming
               ON CONFLICT (charge_point_id, component, component_instance, evse_id,
                   connector_id, variable, variable_instance, attribute_type) DO UPDATE SET
                   value = excluded.value,
                   mutability = coalesce(excluded.mutability, device_model_variables.mutability),
                   characteristics = coalesce(excluded.characteristics,
                                              device_model_variables.characteristics),
                   updated_at = now()
               RETURNING component, component_instance, evse_id, connector_id, variable,
                   variable_instance, attribute_type, value
           ), changes AS (
               SELECT i.setting, u.value FROM upserted u JOIN incoming i
                   USING (component, component_instance, evse_id, connector_id, variable,
                          variable_instance, attribute_type)
           )
           INSERT INTO config_history (charge_point_id, setting, old_value, new_value, source,
               changed_by)
           SELECT $1, c.setting, o.value, c.value, $13, $14
           FROM changes c LEFT JOIN old o ON o.setting = c.setting
           WHERE CASE WHEN o.setting IS NULL THEN $13 = 'applied'
                      ELSE o.value IS DISTINCT FROM c.value END""",
        charge_point_id,
        *columns,
        settings,
        source,
        by,
    )


async def forget_variables(
    db: Executor, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
) -> None:
    """After a full report: every attribute of the charger not among ``keeping`` (their
    ``variable_setting`` texts) is gone; each removal is kept in ``config_history``."""
    kept = set(keeping)
    records = await db.fetch(
        """SELECT component, component_instance, evse_id, connector_id, variable,
               variable_instance, attribute_type, value
           FROM device_model_variables WHERE charge_point_id = $1""",
        charge_point_id,
    )
    gone = []
    for r in records:
        row = VariableRow._make([*(r[name] for name in VariableRow._fields[:8]), None, None])
        setting = variable_setting(row)
        if setting not in kept:
            gone.append((row, setting))
    if not gone:
        return
    columns: list[list[Any]] = [list(c) for c in zip(*(row[:7] for row, _ in gone), strict=True)]
    await db.execute(
        """WITH doomed AS (
               SELECT * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[],
                   $7::text[], $8::text[], $9::text[], $10::text[])
                   AS t(component, component_instance, evse_id, connector_id, variable,
                        variable_instance, attribute_type, setting, value)
           ), gone AS (
               DELETE FROM device_model_variables d USING doomed g
               WHERE d.charge_point_id = $1
                 AND (d.component, d.component_instance, d.evse_id, d.connector_id, d.variable,
                      d.variable_instance, d.attribute_type)
                   = (g.component, g.component_instance, g.evse_id, g.connector_id, g.variable,
                      g.variable_instance, g.attribute_type)
               RETURNING g.setting, d.value
           )
           INSERT INTO config_history (charge_point_id, setting, old_value, new_value, source,
               changed_by)
           SELECT $1, setting, value, NULL, 'removed', $11 FROM gone""",
        charge_point_id,
        *columns,
        [setting for _, setting in gone],
        [row.value for row, _ in gone],
        by,
    )


async def list_variables(db: Executor, charge_point_id: str) -> list[ConfigurationValue]:
    """The reported 2.0.1 device model, by component and variable."""
    records = await db.fetch(
        """SELECT component, component_instance, evse_id, connector_id, variable,
               variable_instance, attribute_type, value, mutability, characteristics, updated_at
           FROM device_model_variables WHERE charge_point_id = $1
           ORDER BY component COLLATE "C", component_instance COLLATE "C", evse_id,
               connector_id, variable COLLATE "C", variable_instance COLLATE "C",
               attribute_type COLLATE "C"
        """,
        charge_point_id,
    )
    return [_variable(r) for r in records]


def _variable(r: Any) -> ConfigurationValue:
    row = VariableRow(*(r[name] for name in VariableRow._fields))
    return variable_value(row, r["updated_at"])
