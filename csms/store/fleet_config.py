"""Configuration baselines: profiles, applies and their per-key outcomes, the history of
configuration changes, charger configuration reads and 2.0.1 report assembly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.fleet_config import (
    PENDING,
    REBOOT_REQUIRED,
    SUPERSEDED,
    ApplyItem,
    ChargerFacts,
    ConfigApply,
    ConfigProfile,
    HistoryEntry,
    NewItem,
    ProfileSpec,
    RefreshState,
    Reported,
    SettingId,
    parse_selector,
    settings_from_json,
)
from csms.errors import AlreadyExists, NotFound
from csms.store.executor import Executor

_PROFILE_COLUMNS = """id, ocpp_version, settings, selector, priority, description,
    reapply_on_boot, created_by, created_at, updated_by, updated_at"""


def _profile(r: asyncpg.Record) -> ConfigProfile:
    return ConfigProfile(
        id=r["id"],
        ocpp_version=r["ocpp_version"],
        settings=settings_from_json(r["ocpp_version"], r["settings"]),
        selector=parse_selector(r["selector"]),
        priority=r["priority"],
        description=r["description"],
        reapply_on_boot=r["reapply_on_boot"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        updated_by=r["updated_by"],
        updated_at=r["updated_at"],
    )


async def add_profile(db: Executor, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO config_profiles (id, ocpp_version, settings, selector, priority,
                    description, reapply_on_boot, created_by, updated_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {_PROFILE_COLUMNS}""",
            spec.id,
            spec.ocpp_version,
            spec.settings_json(),
            spec.selector.as_json(),
            spec.priority,
            spec.description,
            spec.reapply_on_boot,
            by,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyExists(f"profile {spec.id} exists already") from None
    assert record is not None
    return _profile(record)


async def update_profile(db: Executor, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
    record = await db.fetchrow(
        f"""UPDATE config_profiles SET ocpp_version = $2, settings = $3, selector = $4,
                priority = $5, description = $6, reapply_on_boot = $7, updated_by = $8,
                updated_at = now()
            WHERE id = $1 RETURNING {_PROFILE_COLUMNS}""",
        spec.id,
        spec.ocpp_version,
        spec.settings_json(),
        spec.selector.as_json(),
        spec.priority,
        spec.description,
        spec.reapply_on_boot,
        by,
    )
    if record is None:
        raise NotFound(f"profile {spec.id} not found")
    return _profile(record)


async def get_profile(db: Executor, profile_id: str) -> ConfigProfile | None:
    record = await db.fetchrow(
        f"SELECT {_PROFILE_COLUMNS} FROM config_profiles WHERE id = $1", profile_id
    )
    return None if record is None else _profile(record)


async def list_profiles(db: Executor) -> list[ConfigProfile]:
    records = await db.fetch(
        f'SELECT {_PROFILE_COLUMNS} FROM config_profiles ORDER BY id COLLATE "C"'
    )
    return [_profile(r) for r in records]


async def remove_profile(db: Executor, profile_id: str) -> None:
    done = await db.execute("DELETE FROM config_profiles WHERE id = $1", profile_id)
    if done == "DELETE 0":
        raise NotFound(f"profile {profile_id} not found")


# -- what selectors and drift read ------------------------------------------------------------

_VERSIONS = "CASE {p} WHEN 'ocpp1.6' THEN '1.6' WHEN 'ocpp2.0.1' THEN '2.0.1' END"


async def charger_facts(
    db: Executor, charge_point_ids: Sequence[str] | None = None
) -> list[ChargerFacts]:
    """By charger id; the version from the connection, else the pin, else the last boot."""
    records = await db.fetch(
        f"""SELECT c.charge_point_id, c.site_id, c.vendor, c.model, c.firmware_version,
                c.connected_protocol IS NOT NULL AS connected,
                {_VERSIONS.format(p="coalesce(c.connected_protocol, c.ocpp_version, s.protocol)")}
                    AS ocpp_version
            FROM chargers c LEFT JOIN charger_config_state s USING (charge_point_id)
            WHERE $1::text[] IS NULL OR c.charge_point_id = ANY($1)
            ORDER BY c.charge_point_id COLLATE "C" """,
        None if charge_point_ids is None else list(charge_point_ids),
    )
    return [ChargerFacts(**dict(r)) for r in records]


async def reported(
    db: Executor, charge_point_ids: Sequence[str]
) -> dict[str, dict[SettingId, Reported]]:
    """What each charger reported (1.6 keys; 2.0.1 Actual attributes); a charger that never
    reported anything is absent."""
    found: dict[str, dict[SettingId, Reported]] = {}
    for r in await db.fetch(
        """SELECT charge_point_id, key, value, readonly FROM charger_configuration
           WHERE charge_point_id = ANY($1)""",
        list(charge_point_ids),
    ):
        found.setdefault(r["charge_point_id"], {})[SettingId(r["key"])] = Reported(
            r["value"], r["readonly"]
        )
    for r in await db.fetch(
        """SELECT charge_point_id, component, component_instance, evse_id, connector_id,
               variable, variable_instance, value, mutability
           FROM device_model_variables
           WHERE charge_point_id = ANY($1) AND attribute_type = 'Actual'""",
        list(charge_point_ids),
    ):
        component = r["component"] + (
            f"/{r['component_instance']}" if r["component_instance"] else ""
        )
        variable = r["variable"] + (f"/{r['variable_instance']}" if r["variable_instance"] else "")
        mutability = r["mutability"]
        setting = SettingId(f"{component}.{variable}", r["evse_id"], r["connector_id"])
        found.setdefault(r["charge_point_id"], {})[setting] = Reported(
            r["value"], None if mutability is None else mutability == "ReadOnly"
        )
    return found


# -- charger state: version and configuration reads --------------------------------------------

_STATE_COLUMNS = """charge_point_id, protocol, refresh_status, refresh_detail,
    refresh_request_id, refresh_requested_by, refresh_requested_at, refreshed_at"""


async def set_protocol(db: Executor, charge_point_id: str, protocol: str) -> None:
    """NotFound if the charger is gone (removed after its job was queued)."""
    try:
        await db.execute(
            """INSERT INTO charger_config_state (charge_point_id, protocol) VALUES ($1, $2)
               ON CONFLICT (charge_point_id) DO UPDATE SET protocol = excluded.protocol""",
            charge_point_id,
            protocol,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"charger {charge_point_id} not found") from None


async def refresh_requested(
    db: Executor, charge_point_id: str, *, request_id: int | None, by: str | None, at: datetime
) -> None:
    await db.execute(
        """INSERT INTO charger_config_state (charge_point_id, refresh_status, refresh_detail,
               refresh_request_id, refresh_requested_by, refresh_requested_at)
           VALUES ($1, 'Requested', '', $2, $3, $4)
           ON CONFLICT (charge_point_id) DO UPDATE SET refresh_status = 'Requested',
               refresh_detail = '', refresh_request_id = $2, refresh_requested_by = $3,
               refresh_requested_at = $4""",
        charge_point_id,
        request_id,
        by,
        at,
    )


async def refresh_status(
    db: Executor,
    charge_point_id: str,
    status: str,
    detail: str,
    *,
    at: datetime,
    request_id: int | None = None,
    from_status: str | None = None,
) -> bool:
    """Record what became of the read; with ``request_id``, only if it is still the one
    asked last, with ``from_status`` only from that status (False otherwise)."""
    done = await db.execute(
        """UPDATE charger_config_state SET refresh_status = $2, refresh_detail = $3,
               refreshed_at = CASE WHEN $2 = 'Complete' THEN $4 ELSE refreshed_at END
           WHERE charge_point_id = $1
             AND ($5::integer IS NULL OR refresh_request_id = $5)
             AND ($6::text IS NULL OR refresh_status = $6)""",
        charge_point_id,
        status,
        detail,
        at,
        request_id,
        from_status,
    )
    return done != "UPDATE 0"


async def refresh_state(db: Executor, charge_point_id: str) -> RefreshState | None:
    record = await db.fetchrow(
        f"SELECT {_STATE_COLUMNS} FROM charger_config_state WHERE charge_point_id = $1",
        charge_point_id,
    )
    return None if record is None else RefreshState(**dict(record))


# -- 2.0.1 reports ------------------------------------------------------------------------------


async def report_requested(
    db: Executor,
    charge_point_id: str,
    request_id: int,
    *,
    report_base: str,
    by: str | None,
    at: datetime,
) -> None:
    await db.execute(
        """INSERT INTO device_model_reports (charge_point_id, request_id, report_base,
               requested_by, requested_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (charge_point_id, request_id) DO UPDATE SET report_base = $3,
               requested_by = $4, requested_at = $5, seq_nos = '{}', last_seq_no = NULL,
               reported = '{}', completed_at = NULL""",
        charge_point_id,
        request_id,
        report_base,
        by,
        at,
    )


async def report_requester(db: Executor, charge_point_id: str, request_id: int) -> str | None:
    return await db.fetchval(  # type: ignore[no-any-return]
        """SELECT requested_by FROM device_model_reports
           WHERE charge_point_id = $1 AND request_id = $2""",
        charge_point_id,
        request_id,
    )


async def report_part(
    db: Executor,
    charge_point_id: str,
    request_id: int,
    *,
    seq_no: int,
    last: bool,
    settings: Sequence[str],
    at: datetime,
) -> tuple[str | None, list[str]] | None:
    """Record one NotifyReport part (B07.FR.10: seqNo 0, 1, ... per report; the last has tbc
    false). When this part completes the report (every seqNo up to the last seen, once):
    (its report base, every setting it reported); None otherwise."""
    record = await db.fetchrow(
        """INSERT INTO device_model_reports AS r (charge_point_id, request_id, seq_nos,
               last_seq_no, reported)
           VALUES ($1, $2, ARRAY[$3::integer], CASE WHEN $4 THEN $3::integer END, $5::text[])
           ON CONFLICT (charge_point_id, request_id) DO UPDATE SET
               seq_nos = CASE WHEN $3 = ANY(r.seq_nos) THEN r.seq_nos
                              ELSE r.seq_nos || $3::integer END,
               last_seq_no = CASE WHEN $4 THEN $3::integer ELSE r.last_seq_no END,
               reported = CASE WHEN $3 = ANY(r.seq_nos) THEN r.reported
                               ELSE r.reported || $5::text[] END
           RETURNING report_base, seq_nos, last_seq_no, reported, completed_at""",
        charge_point_id,
        request_id,
        seq_no,
        last,
        list(settings),
    )
    assert record is not None
    last_seq = record["last_seq_no"]
    if record["completed_at"] is not None or last_seq is None:
        return None
    if set(record["seq_nos"]) < set(range(last_seq + 1)):
        return None
    done = await db.execute(
        """UPDATE device_model_reports SET completed_at = $3
           WHERE charge_point_id = $1 AND request_id = $2 AND completed_at IS NULL""",
        charge_point_id,
        request_id,
        at,
    )
    if done == "UPDATE 0":  # another part completed it meanwhile
        return None
    return record["report_base"], list(record["reported"])


# -- applies ------------------------------------------------------------------------------------


async def create_apply(
    db: Executor,
    profile_id: str,
    *,
    reason: str,
    by: str | None,
    items: Sequence[NewItem],
    at: datetime,
) -> int:
    """A new apply with its items; earlier items still waiting for the same charger and
    setting are superseded by it (the newest apply decides what is sent)."""
    async with _transaction(db) as connection:
        apply_id: int = await connection.fetchval(
            """INSERT INTO config_applies (profile_id, reason, requested_by, requested_at)
               VALUES ($1, $2, $3, $4) RETURNING id""",
            profile_id,
            reason,
            by,
            at,
        )
        if items:
            columns: list[list[Any]] = [list(c) for c in zip(*items, strict=True)]
            await connection.execute(
                """UPDATE config_apply_items i SET outcome = $4, detail = $5, updated_at = $6
                   FROM unnest($2::text[], $3::text[]) AS n(charge_point_id, setting)
                   WHERE i.charge_point_id = n.charge_point_id AND i.setting = n.setting
                     AND i.apply_id <> $1 AND i.outcome IN ('Pending', 'Offline')""",
                apply_id,
                columns[0],
                columns[1],
                SUPERSEDED,
                f"apply {apply_id} decides it now",
                at,
            )
            await connection.execute(
                """INSERT INTO config_apply_items (apply_id, charge_point_id, setting, value,
                       outcome, detail, updated_at)
                   SELECT $1, * , $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
                       $6::text[])""",
                apply_id,
                *columns,
                at,
            )
    return apply_id


class _transaction:
    """``async with _transaction(db) as connection``: a transaction on a pool's connection,
    or on the connection given."""

    def __init__(self, db: Executor) -> None:
        self._db = db
        self._acquired: Any = None
        self._transaction: Any = None

    async def __aenter__(self) -> Any:
        connection: Any = self._db
        if isinstance(self._db, asyncpg.Pool):
            self._acquired = self._db.acquire()
            connection = await self._acquired.__aenter__()
        self._transaction = connection.transaction()
        await self._transaction.__aenter__()
        return connection

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._transaction.__aexit__(*exc)
        finally:
            if self._acquired is not None:
                await self._acquired.__aexit__(*exc)


_APPLY_COLUMNS = """a.id, a.profile_id, a.reason, a.requested_by, a.requested_at, a.finished_at,
    coalesce((SELECT jsonb_object_agg(outcome, n) FROM (
        SELECT outcome, count(*) AS n FROM config_apply_items WHERE apply_id = a.id
        GROUP BY outcome) o), '{}') AS outcomes"""


def _apply(r: asyncpg.Record) -> ConfigApply:
    return ConfigApply(**dict(r))


async def get_apply(db: Executor, apply_id: int) -> ConfigApply | None:
    record = await db.fetchrow(
        f"SELECT {_APPLY_COLUMNS} FROM config_applies a WHERE a.id = $1", apply_id
    )
    return None if record is None else _apply(record)


async def list_applies(
    db: Executor, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[ConfigApply]:
    """Newest first."""
    records = await db.fetch(
        f"""SELECT {_APPLY_COLUMNS} FROM config_applies a
            WHERE ($1::text IS NULL OR a.profile_id = $1) AND ($2::bigint IS NULL OR a.id < $2)
            ORDER BY a.id DESC LIMIT $3""",
        profile_id,
        before_id,
        limit,
    )
    return [_apply(r) for r in records]


_ITEM_COLUMNS = """apply_id, charge_point_id, setting, value, outcome, detail, rebooted_at,
    updated_at"""


async def apply_items(
    db: Executor,
    apply_id: int,
    *,
    charge_point_id: str | None = None,
    outcomes: Sequence[str] | None = None,
) -> list[ApplyItem]:
    """By charger, then setting."""
    records = await db.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM config_apply_items
            WHERE apply_id = $1 AND ($2::text IS NULL OR charge_point_id = $2)
              AND ($3::text[] IS NULL OR outcome = ANY($3))
            ORDER BY charge_point_id COLLATE "C", setting COLLATE "C" """,
        apply_id,
        charge_point_id,
        None if outcomes is None else list(outcomes),
    )
    return [ApplyItem(**dict(r)) for r in records]


async def waiting_items(db: Executor, charge_point_id: str) -> list[ApplyItem]:
    """The charger's items still to send (Pending, Offline), by apply, then setting."""
    records = await db.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM config_apply_items
            WHERE charge_point_id = $1 AND outcome IN ('Pending', 'Offline')
            ORDER BY apply_id, setting COLLATE "C" """,
        charge_point_id,
    )
    return [ApplyItem(**dict(r)) for r in records]


async def record_outcomes(
    db: Executor,
    apply_id: int,
    charge_point_id: str,
    outcomes: Sequence[tuple[str, str, str]],
    *,
    at: datetime,
) -> None:
    """(setting, outcome, detail) of items that were still waiting (a superseded item keeps
    its outcome)."""
    if not outcomes:
        return
    settings, results, details = (list(c) for c in zip(*outcomes, strict=True))
    await db.execute(
        """UPDATE config_apply_items i SET outcome = o.outcome, detail = o.detail,
               updated_at = $6
           FROM unnest($3::text[], $4::text[], $5::text[]) AS o(setting, outcome, detail)
           WHERE i.apply_id = $1 AND i.charge_point_id = $2 AND i.setting = o.setting
             AND i.outcome IN ('Pending', 'Offline')""",
        apply_id,
        charge_point_id,
        settings,
        results,
        details,
        at,
    )


async def finish_apply(db: Executor, apply_id: int, at: datetime) -> None:
    await db.execute(
        "UPDATE config_applies SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL",
        apply_id,
        at,
    )


async def reboot_pending(db: Executor, charge_point_id: str) -> list[ApplyItem]:
    """RebootRequired items whose reboot was not seen yet."""
    records = await db.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM config_apply_items
            WHERE charge_point_id = $1 AND outcome = $2 AND rebooted_at IS NULL
            ORDER BY apply_id, setting COLLATE "C" """,
        charge_point_id,
        REBOOT_REQUIRED,
    )
    return [ApplyItem(**dict(r)) for r in records]


async def mark_rebooted(
    db: Executor, charge_point_id: str, items: Sequence[tuple[int, str, str]], at: datetime
) -> None:
    """(apply id, setting, detail): the reboot was seen and the value read again."""
    if not items:
        return
    applies, settings, details = (list(c) for c in zip(*items, strict=True))
    await db.execute(
        """UPDATE config_apply_items i SET rebooted_at = $5, detail = o.detail, updated_at = $5
           FROM unnest($2::bigint[], $3::text[], $4::text[]) AS o(apply_id, setting, detail)
           WHERE i.charge_point_id = $1 AND i.apply_id = o.apply_id AND i.setting = o.setting
             AND i.rebooted_at IS NULL""",
        charge_point_id,
        applies,
        settings,
        details,
        at,
    )


async def latest_outcomes(
    db: Executor, charge_point_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Per charger and setting, the outcome of its newest apply item (a RebootRequired whose
    reboot was seen reads ``RebootRequired (rebooted)``)."""
    records = await db.fetch(
        """SELECT DISTINCT ON (charge_point_id, setting) charge_point_id, setting, outcome,
               rebooted_at
           FROM config_apply_items
           WHERE charge_point_id = ANY($1) AND outcome <> $2
           ORDER BY charge_point_id, setting, apply_id DESC""",
        list(charge_point_ids),
        SUPERSEDED,
    )
    found: dict[str, dict[str, str]] = {}
    for r in records:
        outcome = r["outcome"]
        if outcome == REBOOT_REQUIRED and r["rebooted_at"] is not None:
            outcome = f"{REBOOT_REQUIRED} (rebooted)"
        found.setdefault(r["charge_point_id"], {})[r["setting"]] = outcome
    return found


async def waiting_chargers(db: Executor, apply_id: int) -> list[str]:
    """Chargers of the apply with items still Pending."""
    records = await db.fetch(
        """SELECT DISTINCT charge_point_id FROM config_apply_items
           WHERE apply_id = $1 AND outcome = $2 ORDER BY charge_point_id""",
        apply_id,
        PENDING,
    )
    return [r["charge_point_id"] for r in records]


async def chargers_waiting(db: Executor) -> list[str]:
    """Chargers with items still to send (Pending, Offline), by id."""
    records = await db.fetch(
        """SELECT DISTINCT charge_point_id FROM config_apply_items
           WHERE outcome IN ('Pending', 'Offline') ORDER BY charge_point_id"""
    )
    return [r["charge_point_id"] for r in records]


# -- history -------------------------------------------------------------------------------------


async def history(
    db: Executor,
    charge_point_id: str,
    *,
    setting: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[HistoryEntry]:
    """Newest first."""
    records = await db.fetch(
        """SELECT id, charge_point_id, setting, old_value, new_value, source, changed_by,
               changed_at
           FROM config_history
           WHERE charge_point_id = $1 AND ($2::text IS NULL OR setting = $2)
             AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        charge_point_id,
        setting,
        before_id,
        limit,
    )
    return [HistoryEntry(**dict(r)) for r in records]
