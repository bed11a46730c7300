"""Alarms, their history, rules, maintenance flags and counters (docs/topics/alarms.md).

Exactly once across a cluster: every transition is one conditional statement (``UPDATE ...
WHERE state ...``, ``INSERT ... ON CONFLICT DO NOTHING``) and the partial unique index
``alarms_one_open`` allows one open alarm per dedupe key, so two nodes or workers raising
or clearing the same condition at once change it once. Each transition writes its history
row and calls the injected ``outbox`` (the notifications' seam) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from csms.domain.alarms import (
    Alarm,
    AlarmState,
    AlarmType,
    Change,
    Condition,
    Effective,
    Rule,
    Scope,
    Severity,
    Transition,
    alarm_payload,
    counts_by_severity,
    effective_rule,
    in_maintenance,
)
from csms.store.batching import BatchCall
from csms.store.executor import Executor


class Outbox(Protocol):
    """The notifications' seam (csms.store.notifications.enqueue has this shape): called
    inside the transition's transaction."""

    def __call__(
        self,
        conn: Any,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        site_id: str | None,
        charge_point_id: str | None,
        key: str,
    ) -> Awaitable[object]: ...


COLUMNS = """id, type, severity, state, dedupe_key, charge_point_id, site_id, subject, message,
    details, count, raised_at, last_raised_at, acknowledged_at, acknowledged_by, ack_note,
    cleared_at, cleared_by, clear_note"""


def _alarm(r: asyncpg.Record) -> Alarm:
    return Alarm(
        id=r["id"],
        type=AlarmType(r["type"]),
        severity=Severity(r["severity"]),
        state=AlarmState(r["state"]),
        dedupe_key=r["dedupe_key"],
        charge_point_id=r["charge_point_id"],
        site_id=r["site_id"],
        subject=r["subject"],
        message=r["message"],
        details=r["details"],
        count=r["count"],
        raised_at=r["raised_at"],
        last_raised_at=r["last_raised_at"],
        acknowledged_at=r["acknowledged_at"],
        acknowledged_by=r["acknowledged_by"],
        ack_note=r["ack_note"],
        cleared_at=r["cleared_at"],
        cleared_by=r["cleared_by"],
        clear_note=r["clear_note"],
    )


def _rule(r: asyncpg.Record) -> Rule:
    return Rule(
        type=AlarmType(r["type"]),
        scope=Scope(r["scope"]),
        target=r["target"],
        enabled=r["enabled"],
        severity=None if r["severity"] is None else Severity(r["severity"]),
        threshold=r["threshold"],
        id=r["id"],
    )


async def _record(conn: Any, change: Change, at: datetime, outbox: Outbox | None) -> None:
    history_id = await conn.fetchval(
        """INSERT INTO alarm_history (alarm_id, at, action, state, by, note)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        change.alarm.id,
        at,
        change.action,
        change.alarm.state.value,
        change.by,
        change.note,
    )
    if outbox is not None:
        await outbox(
            conn,
            change.event_type,
            alarm_payload(change),
            site_id=change.alarm.site_id,
            charge_point_id=change.alarm.charge_point_id,
            key=f"alarm:{change.alarm.id}:{history_id}",
        )


# -- rules and maintenance ---------------------------------------------------------------------


async def rules_of(db: Executor, alarm_type: AlarmType | None = None) -> list[Rule]:
    rows = await db.fetch(
        """SELECT * FROM alarm_rules WHERE $1::text IS NULL OR type = $1
           ORDER BY type, scope, target""",
        None if alarm_type is None else alarm_type.value,
    )
    return [_rule(r) for r in rows]


async def list_rules(
    db: Executor, *, after_id: int | None, limit: int, alarm_type: AlarmType | None = None
) -> list[Rule]:
    rows = await db.fetch(
        """SELECT * FROM alarm_rules
           WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR type = $2)
           ORDER BY id LIMIT $3""",
        after_id,
        None if alarm_type is None else alarm_type.value,
        limit,
    )
    return [_rule(r) for r in rows]


async def get_rule(db: Executor, rule_id: int) -> Rule | None:
    row = await db.fetchrow("SELECT * FROM alarm_rules WHERE id = $1", rule_id)
    return None if row is None else _rule(row)


async def create_rule(db: Executor, rule: Rule, by: str | None) -> Rule | None:
    """None if a rule for that type, scope and target exists already."""
    row = await db.fetchrow(
        """INSERT INTO alarm_rules (type, scope, target, enabled, severity, threshold, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (type, scope, target) DO NOTHING RETURNING *""",
        rule.type.value,
        rule.scope.value,
        rule.target,
        rule.enabled,
        None if rule.severity is None else rule.severity.value,
        rule.threshold,
        by,
    )
    return None if row is None else _rule(row)


async def update_rule(db: Executor, rule_id: int, rule: Rule, by: str | None) -> Rule | None:
    row = await db.fetchrow(
        """UPDATE alarm_rules SET enabled = $2, severity = $3, threshold = $4, updated_by = $5,
               updated_at = now()
           WHERE id = $1 RETURNING *""",
        rule_id,
        rule.enabled,
        None if rule.severity is None else rule.severity.value,
        rule.threshold,
        by,
    )
    return None if row is None else _rule(row)


async def delete_rule(db: Executor, rule_id: int) -> bool:
    found = await db.fetchval("DELETE FROM alarm_rules WHERE id = $1 RETURNING true", rule_id)
    return bool(found)


async def set_maintenance(
    db: Executor, scope: Scope, target: str, *, enabled: bool, note: str, by: str | None
) -> None:
    if enabled:
        await db.execute(
            """INSERT INTO alarm_maintenance (scope, target, note, set_by) VALUES ($1, $2, $3, $4)
               ON CONFLICT (scope, target) DO UPDATE SET note = EXCLUDED.note,
                   set_by = EXCLUDED.set_by""",
            scope.value,
            target,
            note,
            by,
        )
    else:
        await db.execute(
            "DELETE FROM alarm_maintenance WHERE scope = $1 AND target = $2", scope.value, target
        )


@dataclass(frozen=True, slots=True)
class Maintenance:
    scope: Scope
    target: str
    note: str
    since: datetime
    set_by: str | None


async def get_maintenance(db: Executor, scope: Scope, target: str) -> Maintenance | None:
    row = await db.fetchrow(
        "SELECT * FROM alarm_maintenance WHERE scope = $1 AND target = $2", scope.value, target
    )
    if row is None:
        return None
    return Maintenance(Scope(row["scope"]), row["target"], row["note"], row["since"], row["set_by"])


async def maintenance_flags(db: Executor) -> list[tuple[Scope, str]]:
    rows = await db.fetch("SELECT scope, target FROM alarm_maintenance")
    return [(Scope(r["scope"]), r["target"]) for r in rows]


async def charger_site(db: Executor, charge_point_id: str) -> str | None:
    site: str | None = await db.fetchval(
        "SELECT site_id FROM chargers WHERE charge_point_id = $1", charge_point_id
    )
    return site


async def effective(
    db: Executor,
    alarm_type: AlarmType,
    charge_point_id: str | None,
    *,
    default_threshold: int | None = None,
) -> Effective:
    site = None if charge_point_id is None else await charger_site(db, charge_point_id)
    return effective_rule(
        alarm_type,
        await rules_of(db, alarm_type),
        charge_point_id=charge_point_id,
        site_id=site,
        default_threshold=default_threshold,
    )


# -- transitions -------------------------------------------------------------------------------


async def raise_alarm(
    pool: asyncpg.Pool,
    condition: Condition,
    *,
    now: datetime,
    flapping_window: timedelta,
    outbox: Outbox | None = None,
    severity: Severity | None = None,
) -> Change | None:
    """Raise ``condition`` unless an alarm of its key is open, its rule is disabled, or its
    charger (or the charger's site) is in maintenance. An alarm of the key cleared within
    ``flapping_window`` is raised again (count + 1) rather than a new one. ``severity``
    caps what the rule says (a routine security event is info)."""
    async with pool.acquire() as conn, conn.transaction():
        cp = condition.charge_point_id
        site = None if cp is None else await charger_site(conn, cp)
        if cp is not None and in_maintenance(cp, site, await maintenance_flags(conn)):
            return None
        rule = effective_rule(
            condition.type,
            await rules_of(conn, condition.type),
            charge_point_id=cp,
            site_id=site,
        )
        if not rule.enabled:
            return None
        level = rule.severity
        if severity is not None and _rank(severity) > _rank(level):
            level = severity
        try:
            async with conn.transaction():  # a savepoint: a lost race leaves the rest usable
                row = await conn.fetchrow(
                    f"""UPDATE alarms SET state = 'raised', count = count + 1,
                           last_raised_at = $2, severity = $3, message = $4, details = $5,
                           acknowledged_at = NULL, acknowledged_by = NULL, ack_note = NULL,
                           cleared_at = NULL, cleared_by = NULL, clear_note = NULL
                       WHERE id = (SELECT id FROM alarms
                                   WHERE dedupe_key = $1 AND state = 'cleared'
                                     AND cleared_at >= $6
                                   ORDER BY cleared_at DESC LIMIT 1)
                         AND state = 'cleared'
                       RETURNING {COLUMNS}""",
                    condition.key,
                    now,
                    level.value,
                    condition.message,
                    dict(condition.details),
                    now - flapping_window,
                )
                action = "reraised"
                if row is None:
                    row = await conn.fetchrow(
                        f"""INSERT INTO alarms (type, severity, state, dedupe_key,
                               charge_point_id, site_id, subject, message, details, raised_at,
                               last_raised_at)
                           VALUES ($1, $2, 'raised', $3, $4, $5, $6, $7, $8, $9, $9)
                           ON CONFLICT (dedupe_key) WHERE state <> 'cleared' DO NOTHING
                           RETURNING {COLUMNS}""",
                        condition.type.value,
                        level.value,
                        condition.key,
                        cp,
                        site,
                        condition.subject,
                        condition.message,
                        dict(condition.details),
                        now,
                    )
                    action = "raised"
        except asyncpg.UniqueViolationError:
            return None  # another node raised it at the same moment
        if row is None:
            return None
        change = Change(_alarm(row), action, None, None)
        await _record(conn, change, now, outbox)
        return change


_ORDER = [Severity.INFO, Severity.WARNING, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL]


def _rank(severity: Severity) -> int:
    return _ORDER.index(severity)


async def clear_key(
    pool: asyncpg.Pool,
    key: str,
    *,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
    outbox: Outbox | None = None,
) -> Change | None:
    """Clear the open alarm of ``key`` (None: none was open)."""
    return await _clear(pool, "dedupe_key", key, now=now, by=by, note=note, outbox=outbox)


async def clear_keys(
    pool: asyncpg.Pool, items: Sequence[tuple[str, datetime]], *, outbox: Outbox | None = None
) -> list[Change | None]:
    """``clear_key`` (by nobody, no note) for many (key, at) in one transaction: a boot
    storm clears a connector alarm per connector reporting Available, and nearly always
    finds none open. A key given twice is cleared once (the first gets the change)."""
    keys = [key for key, _ in items]
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""UPDATE alarms SET state = 'cleared', cleared_at = k.k_at, cleared_by = NULL,
                   clear_note = NULL
               FROM unnest($1::text[], $2::timestamptz[]) AS k(k_key, k_at)
               WHERE alarms.dedupe_key = k.k_key AND alarms.state <> 'cleared'
               RETURNING {COLUMNS}""",
            keys,
            [at for _, at in items],
        )
        changed: dict[str, Change] = {}
        for row in rows:
            change = Change(_alarm(row), "cleared", None, None)
            changed[change.alarm.dedupe_key] = change
            await _record(conn, change, change.alarm.cleared_at or items[0][1], outbox)
    out: list[Change | None] = []
    for key in keys:
        out.append(changed.pop(key, None))
    return out


async def _clear(
    pool: asyncpg.Pool,
    column: str,  # dedupe_key or id: a constant, never input
    value: object,
    *,
    now: datetime,
    by: str | None,
    note: str | None,
    outbox: Outbox | None,
) -> Change | None:
    """Clear the open alarm whose ``column`` is ``value``, with its history row (and
    notification) in the same transaction; None unless it was open."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE alarms SET state = 'cleared', cleared_at = $2, cleared_by = $3,
                   clear_note = $4
               WHERE {column} = $1 AND state <> 'cleared' RETURNING {COLUMNS}""",
            value,
            now,
            by,
            note,
        )
        if row is None:
            return None
        change = Change(_alarm(row), "cleared", by, note)
        await _record(conn, change, now, outbox)
        return change


async def clear_open_except(
    pool: asyncpg.Pool,
    alarm_type: AlarmType,
    keep: Iterable[str],
    *,
    now: datetime,
    outbox: Outbox | None = None,
    prefix: str = "",
) -> list[Change]:
    """Clear every open alarm of ``alarm_type`` whose key is not in ``keep`` (a sweep's
    conditions that ended), among the keys starting with ``prefix``."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""UPDATE alarms SET state = 'cleared', cleared_at = $3
               WHERE type = $1 AND state <> 'cleared' AND NOT (dedupe_key = ANY($2::text[]))
                 AND starts_with(dedupe_key, $4)
               RETURNING {COLUMNS}""",
            alarm_type.value,
            list(keep),
            now,
            prefix,
        )
        changes = [Change(_alarm(r), "cleared", None, None) for r in rows]
        for change in changes:
            await _record(conn, change, now, outbox)
        return changes


async def _clear_matching(
    pool: asyncpg.Pool, where: str, args: Sequence[Any], now: datetime, outbox: Outbox | None
) -> list[Change]:
    """Clear, in one statement, every open alarm matching ``where`` ($1 is ``now``): what
    the statement's snapshot shows is what it clears, so an alarm raised after it (its
    condition committed before it) is never cleared by a stale look."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""UPDATE alarms SET state = 'cleared', cleared_at = $1
               WHERE state <> 'cleared' AND {where} RETURNING {COLUMNS}""",
            now,
            *args,
        )
        changes = [Change(_alarm(r), "cleared", None, None) for r in rows]
        for change in changes:
            await _record(conn, change, now, outbox)
        return changes


async def clear_reconnected(
    pool: asyncpg.Pool,
    live_nodes: Sequence[str] | None,
    *,
    now: datetime,
    outbox: Outbox | None = None,
) -> list[Change]:
    """Clear the offline alarms of chargers connected to a live node again (``live_nodes``
    None: connected anywhere), or removed."""
    return await _clear_matching(
        pool,
        """type = 'charger_offline' AND NOT EXISTS (
               SELECT 1 FROM chargers c WHERE c.charge_point_id = alarms.charge_point_id
                 AND (c.connected_node IS NULL
                      OR ($2::text[] IS NOT NULL AND NOT (c.connected_node = ANY($2)))))""",
        [None if live_nodes is None else list(live_nodes)],
        now,
        outbox,
    )


async def clear_recovered_connectors(
    pool: asyncpg.Pool, *, now: datetime, outbox: Outbox | None = None
) -> list[Change]:
    """Clear the connector alarms whose connector's stored status is no longer a fault (or
    whose connector or charger is gone)."""
    return await _clear_matching(
        pool,
        """type = 'connector_faulted' AND NOT EXISTS (
               SELECT 1 FROM connectors k
               WHERE k.charge_point_id = alarms.charge_point_id
                 AND k.evse_id || '/' || k.connector_id = alarms.subject
                 AND (k.status = 'Faulted' OR k.error_code NOT IN ('', 'NoError')))""",
        [],
        now,
        outbox,
    )


async def acknowledge(
    pool: asyncpg.Pool,
    alarm_id: int,
    *,
    now: datetime,
    by: str,
    note: str,
    outbox: Outbox | None = None,
) -> Change | None:
    """None unless the alarm is raised (not acknowledged or cleared yet)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE alarms SET state = 'acknowledged', acknowledged_at = $2,
                   acknowledged_by = $3, ack_note = $4
               WHERE id = $1 AND state = 'raised' RETURNING {COLUMNS}""",
            alarm_id,
            now,
            by,
            note,
        )
        if row is None:
            return None
        change = Change(_alarm(row), "acknowledged", by, note)
        await _record(conn, change, now, outbox)
        return change


async def clear_by_hand(
    pool: asyncpg.Pool,
    alarm_id: int,
    *,
    now: datetime,
    by: str,
    note: str,
    outbox: Outbox | None = None,
) -> Change | None:
    """None unless the alarm is open."""
    return await _clear(pool, "id", alarm_id, now=now, by=by, note=note, outbox=outbox)


# -- reads -------------------------------------------------------------------------------------


async def get_alarm(db: Executor, alarm_id: int) -> Alarm | None:
    row = await db.fetchrow(f"SELECT {COLUMNS} FROM alarms WHERE id = $1", alarm_id)
    return None if row is None else _alarm(row)


async def open_alarm(db: Executor, key: str) -> Alarm | None:
    row = await db.fetchrow(
        f"SELECT {COLUMNS} FROM alarms WHERE dedupe_key = $1 AND state <> 'cleared'", key
    )
    return None if row is None else _alarm(row)


async def open_alarms(db: Executor, alarm_type: AlarmType) -> list[Alarm]:
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM alarms WHERE type = $1 AND state <> 'cleared' ORDER BY id",
        alarm_type.value,
    )
    return [_alarm(r) for r in rows]


async def history(db: Executor, alarm_id: int) -> list[Transition]:
    rows = await db.fetch(
        """SELECT at, action, state, by, note FROM alarm_history WHERE alarm_id = $1
           ORDER BY id""",
        alarm_id,
    )
    return [
        Transition(alarm_id, r["at"], r["action"], r["by"], r["note"], AlarmState(r["state"]))
        for r in rows
    ]


async def list_alarms(
    db: Executor,
    *,
    before_id: int | None,
    limit: int,
    states: Sequence[str] | None = None,
    severity: str | None = None,
    site_id: str | None = None,
    charge_point_id: str | None = None,
    alarm_type: str | None = None,
) -> list[Alarm]:
    """Newest first. ``states`` ["open"] means raised or acknowledged."""
    wanted: list[str] | None = None
    if states:
        expanded: set[str] = set()
        for s in states:
            expanded |= {"raised", "acknowledged"} if s == "open" else {s}
        wanted = sorted(expanded)
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM alarms
           WHERE ($1::bigint IS NULL OR id < $1)
             AND ($2::text[] IS NULL OR state = ANY($2))
             AND ($3::text IS NULL OR severity = $3)
             AND ($4::text IS NULL OR site_id = $4)
             AND ($5::text IS NULL OR charge_point_id = $5)
             AND ($6::text IS NULL OR type = $6)
           ORDER BY id DESC LIMIT $7""",
        before_id,
        wanted,
        severity,
        site_id,
        charge_point_id,
        alarm_type,
        limit,
    )
    return [_alarm(r) for r in rows]


async def count_open_by_severity(conn: Executor) -> dict[str, int]:
    """Open (raised or acknowledged) alarms per severity, every severity present (for the
    status endpoint)."""
    rows = await conn.fetch(
        "SELECT severity, count(*)::int AS n FROM alarms WHERE state <> 'cleared' GROUP BY 1"
    )
    return counts_by_severity([(r["severity"], r["n"]) for r in rows])


# -- counters (boot loops) ---------------------------------------------------------------------


async def bump_counter(db: Executor, key: str) -> int:
    count: int = await db.fetchval(
        """INSERT INTO alarm_counters (key, count) VALUES ($1, 1)
           ON CONFLICT (key) DO UPDATE SET count = alarm_counters.count + 1, updated_at = now()
           RETURNING count""",
        key,
    )
    return count


async def reset_counters(db: Executor, keys: Sequence[str]) -> list[bool]:
    """Forget these counters in one statement (a boot storm resets one per boot); whether
    each had a count to reset."""
    rows = await db.fetch("DELETE FROM alarm_counters WHERE key = ANY($1) RETURNING key", keys)
    found = {r["key"] for r in rows}
    return [key in found for key in keys]


# -- what the sweeps look at -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Silent:
    charge_point_id: str
    site_id: str | None
    last_seen_at: datetime


async def silent_chargers(
    db: Executor, live_nodes: Sequence[str] | None, seen_before: datetime
) -> list[Silent]:
    """Chargers seen at least once, with no socket on a live node (``live_nodes`` None: no
    registry, only the database's presence counts) and nothing heard since ``seen_before``."""
    rows = await db.fetch(
        """SELECT charge_point_id, site_id,
                  greatest(last_seen_at, last_heartbeat_at) AS seen
           FROM chargers
           WHERE last_seen_at IS NOT NULL
             AND (connected_node IS NULL
                  OR ($1::text[] IS NOT NULL AND NOT (connected_node = ANY($1))))
             AND greatest(last_seen_at, last_heartbeat_at) < $2""",
        None if live_nodes is None else list(live_nodes),
        seen_before,
    )
    return [Silent(r["charge_point_id"], r["site_id"], r["seen"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Quiet:
    transaction_pk: int
    charge_point_id: str
    transaction_id: str
    evse_id: int
    connector_id: int
    last_meter_at: datetime


async def quiet_sessions(db: Executor, heard_before: datetime) -> list[Quiet]:
    """Open sessions that are charging (2.0.1 chargingState, or the connector's 1.6 status)
    on a connected charger, with no meter value (nor a start) since ``heard_before``."""
    rows = await db.fetch(
        """SELECT t.id, t.charge_point_id, t.transaction_id, t.evse_id, t.connector_id,
                  greatest(t.started_at, m.last) AS last_meter_at
           FROM transactions t
           JOIN chargers c ON c.charge_point_id = t.charge_point_id
           LEFT JOIN connectors k ON k.charge_point_id = t.charge_point_id
                AND k.evse_id = t.evse_id AND k.connector_id = t.connector_id
           LEFT JOIN LATERAL (SELECT max(sampled_at) AS last FROM meter_samples
                              WHERE transaction_pk = t.id) m ON true
           WHERE t.ended_at IS NULL AND c.connected_node IS NOT NULL
             AND (t.charging_state = 'Charging' OR k.status = 'Charging')
             AND greatest(t.started_at, m.last) < $1""",
        heard_before,
    )
    return [
        Quiet(
            r["id"],
            r["charge_point_id"],
            r["transaction_id"],
            r["evse_id"],
            r["connector_id"],
            r["last_meter_at"],
        )
        for r in rows
    ]


async def queue_depth(db: Executor) -> int:
    """Jobs waiting in the worker queue (PgQueuer's ``queued``, due now)."""
    depth: int = await db.fetchval(
        "SELECT count(*)::int FROM pgqueuer WHERE status = 'queued' AND execute_after <= now()"
    )
    return depth


async def note_nodes(db: Executor, cluster: str, node_ids: Sequence[str], at: datetime) -> None:
    await db.execute(
        """INSERT INTO alarm_known_nodes (cluster, node_id, last_seen_at)
           SELECT $1, unnest($2::text[]), $3
           ON CONFLICT (cluster, node_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at""",
        cluster,
        list(node_ids),
        at,
    )


async def known_nodes(db: Executor, cluster: str) -> list[tuple[str, datetime]]:
    rows = await db.fetch(
        """SELECT node_id, last_seen_at FROM alarm_known_nodes WHERE cluster = $1
           ORDER BY node_id""",
        cluster,
    )
    return [(r["node_id"], r["last_seen_at"]) for r in rows]


async def forget_node(db: Executor, cluster: str, node_id: str) -> None:
    """A node that deregistered on purpose (a drain) is not gone."""
    await db.execute(
        "DELETE FROM alarm_known_nodes WHERE cluster = $1 AND node_id = $2", cluster, node_id
    )


class PostgresAlarms:
    """The alarm service's store port over a pool (csms.services.alarms.AlarmStore)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        outbox: Outbox | None = None,
        default_thresholds: Mapping[AlarmType, int] | None = None,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.default_thresholds = dict(default_thresholds or {})

        async def resets(keys: Sequence[str]) -> list[bool]:
            return await reset_counters(pool, keys)

        # every Accepted boot resets its boot-loop counter: one statement per batch of boots
        self._reset = BatchCall(resets)

        async def clears(items: Sequence[tuple[str, datetime]]) -> list[Change | None]:
            return await clear_keys(pool, items, outbox=self.outbox)

        # clears nobody asked for by hand (a connector back to Available): one transaction
        # per batch
        self._clear = BatchCall(clears)

    async def raise_alarm(
        self,
        condition: Condition,
        *,
        now: datetime,
        flapping_window: timedelta,
        severity: Severity | None = None,
    ) -> Change | None:
        return await raise_alarm(
            self.pool,
            condition,
            now=now,
            flapping_window=flapping_window,
            outbox=self.outbox,
            severity=severity,
        )

    async def clear(
        self, key: str, *, now: datetime, by: str | None = None, note: str | None = None
    ) -> Change | None:
        if by is None and note is None:
            return await self._clear((key, now))
        return await clear_key(self.pool, key, now=now, by=by, note=note, outbox=self.outbox)

    async def effective(self, alarm_type: AlarmType, charge_point_id: str | None) -> Effective:
        return await effective(
            self.pool,
            alarm_type,
            charge_point_id,
            default_threshold=self.default_thresholds.get(alarm_type),
        )

    async def bump(self, key: str) -> int:
        return await bump_counter(self.pool, key)

    async def reset(self, key: str) -> bool:
        return await self._reset(key)
