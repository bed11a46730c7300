"""Chargers' recorded security profiles and their last upgrade (charger_security_profiles).

A registered charger without a row has the defaults (minimum 0, never connected). The
ratchet rule itself is :func:`csms.domain.security_profiles.admit`, applied here to rows
locked for the length of one short transaction, so two handshakes of one charger (a
secure one and a weak one racing it) are decided one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.security_profiles import Admission, SecurityState, Upgrade, admit
from csms.errors import NotFound
from csms.store.batching import BatchCall
from csms.store.executor import Executor

_COLUMNS = """c.charge_point_id, coalesce(s.minimum_profile, 0) AS minimum_profile,
    s.last_profile, s.last_connected_at, s.upgrade_id, s.upgrade_target, s.upgrade_state,
    s.upgrade_started_at, s.upgrade_deadline, s.upgrade_finished_at,
    coalesce(s.upgrade_detail, '') AS upgrade_detail,
    coalesce(s.upgrade_restore, '{}'::jsonb) AS upgrade_restore"""
_FROM = "FROM chargers c LEFT JOIN charger_security_profiles s USING (charge_point_id)"
# after _locked's INSERT every registered charger has a row: an inner join can lock it
_LOCKED_FROM = "FROM chargers c JOIN charger_security_profiles s USING (charge_point_id)"


def _state(record: asyncpg.Record) -> SecurityState:
    upgrade = None
    if record["upgrade_id"] is not None:
        upgrade = Upgrade(
            id=record["upgrade_id"],
            target=record["upgrade_target"],
            state=record["upgrade_state"],
            started_at=record["upgrade_started_at"],
            deadline=record["upgrade_deadline"],
            detail=record["upgrade_detail"],
            restore=dict(record["upgrade_restore"]),
            finished_at=record["upgrade_finished_at"],
        )
    return SecurityState(
        charge_point_id=record["charge_point_id"],
        minimum=record["minimum_profile"],
        last_profile=record["last_profile"],
        last_connected_at=record["last_connected_at"],
        upgrade=upgrade,
    )


async def get_state(db: Executor, charge_point_id: str) -> SecurityState | None:
    record = await db.fetchrow(
        f"SELECT {_COLUMNS} {_FROM} WHERE c.charge_point_id = $1", charge_point_id
    )
    return _state(record) if record else None


def _row(state: SecurityState) -> tuple[Any, ...]:
    upgrade = state.upgrade
    return (
        state.charge_point_id,
        state.minimum,
        state.last_profile,
        state.last_connected_at,
        None if upgrade is None else upgrade.id,
        None if upgrade is None else upgrade.target,
        None if upgrade is None else upgrade.state,
        None if upgrade is None else upgrade.started_at,
        None if upgrade is None else upgrade.deadline,
        None if upgrade is None else upgrade.finished_at,
        "" if upgrade is None else upgrade.detail,
        {} if upgrade is None else upgrade.restore,
    )


_UPSERT = """INSERT INTO charger_security_profiles (charge_point_id, minimum_profile,
        last_profile, last_connected_at, upgrade_id, upgrade_target, upgrade_state,
        upgrade_started_at, upgrade_deadline, upgrade_finished_at, upgrade_detail,
        upgrade_restore)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    ON CONFLICT (charge_point_id) DO UPDATE SET minimum_profile = excluded.minimum_profile,
        last_profile = excluded.last_profile, last_connected_at = excluded.last_connected_at,
        upgrade_id = excluded.upgrade_id, upgrade_target = excluded.upgrade_target,
        upgrade_state = excluded.upgrade_state, upgrade_started_at = excluded.upgrade_started_at,
        upgrade_deadline = excluded.upgrade_deadline,
        upgrade_finished_at = excluded.upgrade_finished_at,
        upgrade_detail = excluded.upgrade_detail, upgrade_restore = excluded.upgrade_restore,
        updated_at = now()"""


async def _locked(connection: Executor, ids: Sequence[str]) -> dict[str, SecurityState]:
    """The states of registered chargers among ``ids``, their rows locked until commit."""
    await connection.execute(
        """INSERT INTO charger_security_profiles (charge_point_id)
           SELECT c.charge_point_id FROM chargers c WHERE c.charge_point_id = ANY($1::text[])
           ON CONFLICT (charge_point_id) DO NOTHING""",
        list(ids),
    )
    records = await connection.fetch(
        f"""SELECT {_COLUMNS} {_LOCKED_FROM} WHERE c.charge_point_id = ANY($1::text[])
            ORDER BY c.charge_point_id FOR UPDATE OF s""",
        list(ids),
    )
    return {r["charge_point_id"]: _state(r) for r in records}


async def admit_many(
    pool: asyncpg.Pool, items: Sequence[tuple[str, int, datetime]]
) -> list[Admission | None]:
    """Apply the connections ``(charge_point_id, profile, at)`` in order; None for a charger
    that is not registered."""
    async with pool.acquire() as connection, connection.transaction():
        states = await _locked(connection, sorted({item[0] for item in items}))
        changed: dict[str, SecurityState] = {}
        answers: list[Admission | None] = []
        for charge_point_id, profile, at in items:
            state = states.get(charge_point_id)
            if state is None:
                answers.append(None)
                continue
            new, admission = admit(state, profile, at)
            if admission.admitted:
                states[charge_point_id] = changed[charge_point_id] = new
            answers.append(admission)
        if changed:
            await connection.executemany(_UPSERT, [_row(s) for s in changed.values()])
    return answers


async def set_minimum(pool: asyncpg.Pool, charge_point_id: str, minimum: int) -> SecurityState:
    """The operator's minimum, higher or lower (NotFound)."""
    async with pool.acquire() as connection, connection.transaction():
        state = (await _locked(connection, [charge_point_id])).get(charge_point_id)
        if state is None:
            raise NotFound(f"charger {charge_point_id} not found")
        new = SecurityState(
            state.charge_point_id, minimum, state.last_profile, state.last_connected_at,
            state.upgrade,
        )  # fmt: skip
        await connection.execute(_UPSERT, *_row(new))
    return new


async def start_upgrade(
    pool: asyncpg.Pool, charge_point_id: str, upgrade: Upgrade
) -> SecurityState:
    """Record ``upgrade`` as the charger's last one (replacing any earlier) (NotFound)."""
    async with pool.acquire() as connection, connection.transaction():
        state = (await _locked(connection, [charge_point_id])).get(charge_point_id)
        if state is None:
            raise NotFound(f"charger {charge_point_id} not found")
        new = SecurityState(
            state.charge_point_id, state.minimum, state.last_profile, state.last_connected_at,
            upgrade,
        )  # fmt: skip
        await connection.execute(_UPSERT, *_row(new))
    return new


async def finish_upgrade(
    db: Executor,
    charge_point_id: str,
    upgrade_id: str,
    state: str,
    detail: str,
    at: datetime,
) -> bool:
    """End the upgrade ``upgrade_id`` if it is still pending; False otherwise."""
    result = await db.execute(
        """UPDATE charger_security_profiles SET upgrade_state = $3, upgrade_detail = $4,
               upgrade_finished_at = $5, updated_at = now()
           WHERE charge_point_id = $1 AND upgrade_id = $2 AND upgrade_state = 'pending'""",
        charge_point_id,
        upgrade_id,
        state,
        detail,
        at,
    )
    return result == "UPDATE 1"


async def note_upgrade(
    db: Executor,
    charge_point_id: str,
    upgrade_id: str,
    detail: str,
    restore: dict[str, Any] | None = None,
) -> None:
    """Replace the detail (and what a rollback restores) of upgrade ``upgrade_id``."""
    await db.execute(
        """UPDATE charger_security_profiles SET upgrade_detail = $3,
               upgrade_restore = coalesce($4, upgrade_restore), updated_at = now()
           WHERE charge_point_id = $1 AND upgrade_id = $2""",
        charge_point_id,
        upgrade_id,
        detail,
        restore,
    )


class PostgresSecurityProfiles:
    """The SecurityProfileStore port; handshakes' admissions are batched across chargers."""

    def __init__(self, pool: asyncpg.Pool, *, max_items: int = 500) -> None:
        self._pool = pool

        async def run(items: Sequence[tuple[str, int, datetime]]) -> list[Admission | None]:
            return await admit_many(pool, items)

        # one batch at a time: two batches would lock rows against each other
        self._admit = BatchCall(run, max_items=max_items, max_inflight=1)

    async def get(self, charge_point_id: str) -> SecurityState | None:
        return await get_state(self._pool, charge_point_id)

    async def admit(self, charge_point_id: str, profile: int, at: datetime) -> Admission:
        admission = await self._admit((charge_point_id, profile, at))
        if admission is None:
            raise NotFound(f"charger {charge_point_id} not found")
        return admission

    async def set_minimum(self, charge_point_id: str, minimum: int) -> SecurityState:
        return await set_minimum(self._pool, charge_point_id, minimum)

    async def start_upgrade(self, charge_point_id: str, upgrade: Upgrade) -> SecurityState:
        return await start_upgrade(self._pool, charge_point_id, upgrade)

    async def finish_upgrade(
        self, charge_point_id: str, upgrade_id: str, state: str, detail: str, at: datetime
    ) -> bool:
        return await finish_upgrade(self._pool, charge_point_id, upgrade_id, state, detail, at)

    async def note_upgrade(
        self,
        charge_point_id: str,
        upgrade_id: str,
        detail: str,
        *,
        restore: dict[str, Any] | None = None,
    ) -> None:
        await note_upgrade(self._pool, charge_point_id, upgrade_id, detail, restore)

    async def drain(self) -> None:
        await self._admit.drain()
