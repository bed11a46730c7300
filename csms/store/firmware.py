"""Firmware artifacts (bytes in PostgreSQL large objects or a directory), campaigns, their
waves and targets, and their history.

Files are streamed in both directions, one chunk at a time: an upload is written chunk by
chunk into a large object (``lo_put``) or a temporary file inside the same transaction that
records the artifact, so a refused upload (a wrong hash, too large) leaves nothing behind; a
download reads ``lo_get`` slices of the asked range.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from csms.domain.firmware import FINAL, IN_FLIGHT, Target
from csms.domain.firmware_campaigns import (
    Artifact,
    Campaign,
    CampaignEvent,
    CampaignOptions,
    CandidateCharger,
    ChargerUpdate,
    Dispatchable,
    NewArtifact,
    NewTarget,
    Selector,
    TargetRow,
    Wave,
    WavePlan,
    WaveProgress,
    parse_window,
)
from csms.errors import InvalidInput, NotFound
from csms.store.executor import Executor

LARGE_OBJECT = "large_object"
DIRECTORY = "directory"
READ_CHUNK = 256 * 1024
_INV_READ = 0x40000

_ARTIFACT_COLUMNS = """id, version, vendor, model, file_name, size_bytes, sha256, signature,
    signing_certificate, storage, description, created_by, created_at"""
_CAMPAIGN_COLUMNS = """c.id, c.name, c.artifact_id, a.version AS target_version,
    a.signature IS NOT NULL AS signed, c.status, c.selector, c.canary, c.waves,
    c.max_failure_rate, c.max_concurrent, c.windows, c.session_policy, c.retrieve_at,
    c.install_at, c.max_attempts, c.retry_delay, c.timeouts, c.current_wave, c.halted_reason,
    c.created_by, c.created_at, c.updated_at, c.finished_at"""
_TARGET_COLUMNS = """t.campaign_id, t.charge_point_id, t.wave, t.position, t.state, t.attempts,
    t.request_id, t.phase_deadline, t.not_before, t.last_status, t.failure,
    t.reported_version, t.revision, t.from_version, t.waiting, t.sent_at, t.updated_at,
    t.finished_at"""


def _artifact(record: asyncpg.Record) -> Artifact:
    return Artifact(**dict(record))


def _campaign(r: asyncpg.Record) -> Campaign:
    options = CampaignOptions(
        canary=r["canary"],
        waves=tuple(Decimal(w) for w in r["waves"]),
        max_failure_rate=Decimal(r["max_failure_rate"]),
        max_concurrent=r["max_concurrent"],
        windows=tuple(parse_window(w) for w in r["windows"]),
        session_policy=r["session_policy"],
        retrieve_at=r["retrieve_at"],
        install_at=r["install_at"],
        max_attempts=r["max_attempts"],
        retry_delay=r["retry_delay"],
        timeouts=dict(r["timeouts"]),
        name=r["name"],
    )
    return Campaign(
        id=r["id"],
        name=r["name"],
        artifact_id=r["artifact_id"],
        target_version=r["target_version"],
        signed=r["signed"],
        status=r["status"],
        selector=dict(r["selector"]),
        options=options,
        current_wave=r["current_wave"],
        halted_reason=r["halted_reason"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        finished_at=r["finished_at"],
    )


def _target_row(r: asyncpg.Record) -> TargetRow:
    target = Target(
        state=r["state"],
        attempts=r["attempts"],
        request_id=r["request_id"],
        phase_deadline=r["phase_deadline"],
        not_before=r["not_before"],
        last_status=r["last_status"],
        failure=r["failure"],
        reported_version=r["reported_version"],
    )
    return TargetRow(
        campaign_id=r["campaign_id"],
        charge_point_id=r["charge_point_id"],
        wave=r["wave"],
        position=r["position"],
        target=target,
        revision=r["revision"],
        from_version=r["from_version"],
        waiting=r["waiting"],
        sent_at=r["sent_at"],
        updated_at=r["updated_at"],
        finished_at=r["finished_at"],
    )


# -- artifacts ----------------------------------------------------------------------------------

Seal = Callable[[], tuple[int, str]]  # after the last chunk: (size, sha256), or raise


async def add_artifact(
    pool: asyncpg.Pool,
    new: NewArtifact,
    chunks: AsyncIterator[bytes],
    seal: Seal,
    *,
    directory: Path | None,
) -> Artifact:
    """Store the file and its row in one transaction; ``seal`` (called after the last chunk)
    may refuse it, and then nothing is kept."""
    async with pool.acquire() as connection, connection.transaction():
        if directory is None:
            oid = await connection.fetchval("SELECT lo_create(0)")
            offset = 0
            async for chunk in chunks:
                await connection.execute("SELECT lo_put($1, $2, $3)", oid, offset, chunk)
                offset += len(chunk)
            size, sha256 = seal()
            return await _insert_artifact(connection, new, size, sha256, LARGE_OBJECT, oid, None)
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".upload-{secrets.token_hex(8)}"
        final: Path | None = None
        try:
            handle = await asyncio.to_thread(partial.open, "wb")
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            finally:
                await asyncio.to_thread(handle.close)
            size, sha256 = seal()
            name = f"{sha256}-{secrets.token_hex(4)}.bin"
            artifact = await _insert_artifact(connection, new, size, sha256, DIRECTORY, None, name)
            final = directory / name
            await asyncio.to_thread(partial.rename, final)
            return artifact
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
                if final is not None:
                    final.unlink(missing_ok=True)
            raise


async def _insert_artifact(
    connection: Executor,
    new: NewArtifact,
    size: int,
    sha256: str,
    storage: str,
    oid: int | None,
    path: str | None,
) -> Artifact:
    try:
        record = await connection.fetchrow(
            f"""INSERT INTO firmware_artifacts (version, vendor, model, file_name, size_bytes,
                    sha256, signature, signing_certificate, storage, lo_oid, path, description,
                    created_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                RETURNING {_ARTIFACT_COLUMNS}""",
            new.version,
            new.vendor,
            new.model,
            new.file_name,
            size,
            sha256,
            new.signature,
            new.signing_certificate,
            storage,
            oid,
            path,
            new.description,
            new.created_by,
        )
    except asyncpg.UniqueViolationError:
        raise InvalidInput(
            f"version: {new.version} of vendor {new.vendor or '(any)'} model "
            f"{new.model or '(any)'} is uploaded already"
        ) from None
    assert record is not None
    return _artifact(record)


async def get_artifact(db: Executor, artifact_id: int) -> Artifact | None:
    record = await db.fetchrow(
        f"SELECT {_ARTIFACT_COLUMNS} FROM firmware_artifacts WHERE id = $1", artifact_id
    )
    return None if record is None else _artifact(record)


async def list_artifacts(db: Executor, *, after_id: int = 0, limit: int = 100) -> list[Artifact]:
    records = await db.fetch(
        f"""SELECT {_ARTIFACT_COLUMNS} FROM firmware_artifacts WHERE id > $1
            ORDER BY id LIMIT $2""",
        after_id,
        limit,
    )
    return [_artifact(r) for r in records]


async def remove_artifact(pool: asyncpg.Pool, artifact_id: int, directory: Path | None) -> None:
    """NotFound; InvalidInput when a campaign uses it."""
    async with pool.acquire() as connection, connection.transaction():
        record = await connection.fetchrow(
            "SELECT lo_oid, path FROM firmware_artifacts WHERE id = $1 FOR UPDATE", artifact_id
        )
        if record is None:
            raise NotFound(f"firmware artifact {artifact_id} not found")
        used = await connection.fetch(
            "SELECT id FROM firmware_campaigns WHERE artifact_id = $1 ORDER BY id", artifact_id
        )
        if used:
            ids = ", ".join(str(r["id"]) for r in used)
            raise InvalidInput(f"firmware artifact {artifact_id} is used by campaign {ids}")
        await connection.execute("DELETE FROM firmware_artifacts WHERE id = $1", artifact_id)
        if record["lo_oid"] is not None:
            await connection.execute("SELECT lo_unlink($1)", record["lo_oid"])
    if record["path"] is not None and directory is not None:
        with contextlib.suppress(OSError):
            (directory / record["path"]).unlink(missing_ok=True)


async def read_artifact(
    pool: asyncpg.Pool, artifact_id: int, start: int, length: int, directory: Path | None
) -> AsyncIterator[bytes]:
    """``length`` bytes from ``start``, in chunks (never the whole file at once)."""
    record = await pool.fetchrow(
        "SELECT lo_oid, path FROM firmware_artifacts WHERE id = $1", artifact_id
    )
    if record is None:
        raise NotFound(f"firmware artifact {artifact_id} not found")
    end = start + length
    if record["lo_oid"] is not None:
        oid = record["lo_oid"]
        position = start
        while position < end:
            size = min(READ_CHUNK, end - position)
            chunk: bytes = await pool.fetchval("SELECT lo_get($1, $2, $3)", oid, position, size)
            if not chunk:
                return
            yield chunk
            position += len(chunk)
        return
    if directory is None:
        raise NotFound(f"firmware artifact {artifact_id} is in a directory; none is configured")
    handle = await asyncio.to_thread((directory / record["path"]).open, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        position = start
        while position < end:
            data = await asyncio.to_thread(handle.read, min(READ_CHUNK, end - position))
            if not data:
                return
            yield data
            position += len(data)
    finally:
        await asyncio.to_thread(handle.close)


# -- campaigns ----------------------------------------------------------------------------------


async def candidates(db: Executor, selector: Selector) -> list[CandidateCharger]:
    """Registered chargers the selector picks."""
    records = await db.fetch(
        """SELECT charge_point_id, vendor, model, firmware_version, site_id FROM chargers
           WHERE ($1::text IS NULL OR site_id = $1)
             AND ($2::text IS NULL OR vendor = $2)
             AND ($3::text IS NULL OR model = $3)
             AND ($4::text IS NULL OR firmware_version = $4)
             AND (cardinality($5::text[]) = 0 OR charge_point_id = ANY($5::text[]))
           ORDER BY charge_point_id""",
        selector.site,
        selector.vendor,
        selector.model,
        selector.firmware_version,
        list(selector.chargers),
    )
    return [CandidateCharger(**dict(r)) for r in records]


async def active_elsewhere(db: Executor, charge_point_ids: Sequence[str]) -> dict[str, int]:
    """The chargers of ``charge_point_ids`` in a campaign not finished with them."""
    records = await db.fetch(
        """SELECT charge_point_id, campaign_id FROM firmware_targets
           WHERE active AND charge_point_id = ANY($1::text[])""",
        list(charge_point_ids),
    )
    return {r["charge_point_id"]: r["campaign_id"] for r in records}


async def create_campaign(
    pool: asyncpg.Pool,
    *,
    artifact_id: int,
    selector: dict[str, Any],
    options: CampaignOptions,
    waves: Sequence[WavePlan],
    targets: Sequence[NewTarget],
    created_by: str | None,
) -> int:
    """The campaign, its waves and targets, at once; InvalidInput when one of its chargers
    is taken by another campaign meanwhile."""
    async with pool.acquire() as connection, connection.transaction():
        campaign_id: int = await connection.fetchval(
            """INSERT INTO firmware_campaigns (name, artifact_id, status, selector, canary,
                   waves, max_failure_rate, max_concurrent, windows, session_policy,
                   retrieve_at, install_at, max_attempts, retry_delay, timeouts, created_by)
               VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                       $15)
               RETURNING id""",
            options.name,
            artifact_id,
            selector,
            options.canary,
            list(options.waves),
            options.max_failure_rate,
            options.max_concurrent,
            [str(w) for w in options.windows],
            options.session_policy,
            options.retrieve_at,
            options.install_at,
            options.max_attempts,
            options.retry_delay,
            options.timeouts,
            created_by,
        )
        await connection.executemany(
            """INSERT INTO firmware_campaign_waves (campaign_id, number, label, size, started_at)
               VALUES ($1, $2, $3, $4, CASE WHEN $2 = 0 THEN now() END)""",
            [(campaign_id, w.number, w.label, w.size) for w in waves],
        )
        try:
            await connection.execute(
                """INSERT INTO firmware_targets (campaign_id, charge_point_id, wave, position,
                       state, from_version)
                   SELECT $1, cp, wave, position, 'pending', version
                   FROM unnest($2::text[], $3::int[], $4::int[], $5::text[])
                       AS t(cp, wave, position, version)""",
                campaign_id,
                [t.charge_point_id for t in targets],
                [t.wave for t in targets],
                [t.position for t in targets],
                [t.from_version for t in targets],
            )
        except asyncpg.UniqueViolationError:
            raise InvalidInput(
                "target: a selected charger joined another campaign meanwhile; try again"
            ) from None
        await _event(connection, campaign_id, None, "created", "running", None, created_by)
        return campaign_id


async def _event(
    db: Executor,
    campaign_id: int,
    charge_point_id: str | None,
    kind: str,
    state: str | None,
    detail: str | None,
    actor: str | None,
) -> None:
    await db.execute(
        """INSERT INTO firmware_events (campaign_id, charge_point_id, kind, state, detail, actor)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        campaign_id,
        charge_point_id,
        kind,
        state,
        detail,
        actor,
    )


async def record_event(
    db: Executor,
    campaign_id: int,
    kind: str,
    *,
    charge_point_id: str | None = None,
    state: str | None = None,
    detail: str | None = None,
    actor: str | None = None,
) -> None:
    await _event(db, campaign_id, charge_point_id, kind, state, detail, actor)


async def get_campaign(db: Executor, campaign_id: int) -> Campaign | None:
    record = await db.fetchrow(
        f"""SELECT {_CAMPAIGN_COLUMNS} FROM firmware_campaigns c
            JOIN firmware_artifacts a ON a.id = c.artifact_id WHERE c.id = $1""",
        campaign_id,
    )
    return None if record is None else _campaign(record)


async def list_campaigns(
    db: Executor, *, status: str | None = None, after_id: int = 0, limit: int = 100
) -> list[Campaign]:
    records = await db.fetch(
        f"""SELECT {_CAMPAIGN_COLUMNS} FROM firmware_campaigns c
            JOIN firmware_artifacts a ON a.id = c.artifact_id
            WHERE c.id > $1 AND ($2::text IS NULL OR c.status = $2)
            ORDER BY c.id LIMIT $3""",
        after_id,
        status,
        limit,
    )
    return [_campaign(r) for r in records]


async def active_campaigns(db: Executor) -> list[int]:
    """Campaigns not finished (running, paused or halted): their timeouts still run."""
    records = await db.fetch(
        "SELECT id FROM firmware_campaigns WHERE status IN ('running', 'paused', 'halted')"
    )
    return [r["id"] for r in records]


async def set_status(
    db: Executor,
    campaign_id: int,
    status: str,
    *,
    only_from: Sequence[str],
    actor: str | None,
    detail: str | None = None,
    halted_reason: str | None = None,
) -> bool:
    """Change the status if it is one of ``only_from`` (False otherwise), with its event."""
    final = status in ("cancelled", "completed")
    changed = await db.fetchval(
        """UPDATE firmware_campaigns SET status = $2, updated_at = now(),
               halted_reason = CASE WHEN $2 = 'halted' THEN $4 ELSE NULL END,
               finished_at = CASE WHEN $5 THEN now() ELSE NULL END
           WHERE id = $1 AND status = ANY($3::text[]) RETURNING id""",
        campaign_id,
        status,
        list(only_from),
        halted_reason,
        final,
    )
    if changed is None:
        return False
    await _event(db, campaign_id, None, status, status, detail or halted_reason, actor)
    return True


async def start_wave(db: Executor, campaign_id: int, number: int) -> bool:
    changed = await db.fetchval(
        """UPDATE firmware_campaigns SET current_wave = $2, updated_at = now()
           WHERE id = $1 AND current_wave < $2 AND status = 'running' RETURNING id""",
        campaign_id,
        number,
    )
    if changed is None:
        return False
    await db.execute(
        """UPDATE firmware_campaign_waves SET started_at = now()
           WHERE campaign_id = $1 AND number = $2""",
        campaign_id,
        number,
    )
    await _event(db, campaign_id, None, "wave_started", None, f"wave {number}", None)
    return True


async def finish_waves(db: Executor, campaign_id: int, numbers: Sequence[int]) -> None:
    await db.execute(
        """UPDATE firmware_campaign_waves SET finished_at = now()
           WHERE campaign_id = $1 AND number = ANY($2::int[]) AND finished_at IS NULL""",
        campaign_id,
        list(numbers),
    )


async def accept_failures(db: Executor, campaign_id: int, up_to_wave: int) -> None:
    """Resuming a halted campaign: the failures of the waves started so far are accepted."""
    await db.execute(
        """UPDATE firmware_campaign_waves SET failures_accepted = true
           WHERE campaign_id = $1 AND number <= $2""",
        campaign_id,
        up_to_wave,
    )


async def waves(db: Executor, campaign_id: int) -> list[Wave]:
    records = await db.fetch(
        """SELECT number, label, size, failures_accepted, started_at, finished_at
           FROM firmware_campaign_waves WHERE campaign_id = $1 ORDER BY number""",
        campaign_id,
    )
    return [Wave(**dict(r)) for r in records]


async def wave_progress(db: Executor, campaign_id: int) -> list[WaveProgress]:
    records = await db.fetch(
        """SELECT w.number, w.size, w.failures_accepted,
                  count(*) FILTER (WHERE t.state = 'pending') AS pending,
                  count(*) FILTER (WHERE t.state = ANY($2::text[])) AS in_flight,
                  count(*) FILTER (WHERE t.state = 'succeeded') AS succeeded,
                  count(*) FILTER (WHERE t.state = 'failed') AS failed,
                  count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled
           FROM firmware_campaign_waves w
           LEFT JOIN firmware_targets t ON t.campaign_id = w.campaign_id AND t.wave = w.number
           WHERE w.campaign_id = $1
           GROUP BY w.number, w.size, w.failures_accepted ORDER BY w.number""",
        campaign_id,
        sorted(IN_FLIGHT),
    )
    return [WaveProgress(**dict(r)) for r in records]


async def state_counts(db: Executor, campaign_id: int) -> dict[str, int]:
    records = await db.fetch(
        """SELECT state, count(*) AS n FROM firmware_targets WHERE campaign_id = $1
           GROUP BY state""",
        campaign_id,
    )
    return {r["state"]: r["n"] for r in records}


# -- targets ------------------------------------------------------------------------------------


async def get_target(db: Executor, campaign_id: int, charge_point_id: str) -> TargetRow | None:
    record = await db.fetchrow(
        f"""SELECT {_TARGET_COLUMNS} FROM firmware_targets t
            WHERE t.campaign_id = $1 AND t.charge_point_id = $2""",
        campaign_id,
        charge_point_id,
    )
    return None if record is None else _target_row(record)


async def active_targets(db: Executor, charge_point_ids: Sequence[str]) -> list[TargetRow | None]:
    """Each charger's target in a campaign not finished with it (at most one; None: none),
    in one statement (asked at every boot)."""
    records = await db.fetch(
        f"""SELECT {_TARGET_COLUMNS} FROM firmware_targets t
            WHERE t.charge_point_id = ANY($1) AND t.active""",
        charge_point_ids,
    )
    found = {r["charge_point_id"]: _target_row(r) for r in records}
    return [found.get(cp) for cp in charge_point_ids]


async def update_target(
    db: Executor,
    row: TargetRow,
    target: Target,
    *,
    note: str | None,
    actor: str | None = None,
    waiting: str | None = None,
) -> bool:
    """Write ``target`` if the row is still at ``row.revision`` (False: someone changed it
    first; read it again), with its event."""
    changed = await db.fetchval(
        """UPDATE firmware_targets SET state = $4, attempts = $5, request_id = $6,
               phase_deadline = $7, not_before = $8, last_status = $9, failure = $10,
               reported_version = $11, waiting = $12, revision = revision + 1,
               sent_at = CASE WHEN $4 = 'sending' AND state <> 'sending' THEN NULL
                              ELSE sent_at END,
               updated_at = now(),
               finished_at = CASE WHEN $4 = ANY($13::text[]) THEN now() ELSE NULL END
           WHERE campaign_id = $1 AND charge_point_id = $2 AND revision = $3
           RETURNING revision""",
        row.campaign_id,
        row.charge_point_id,
        row.revision,
        target.state,
        target.attempts,
        target.request_id,
        target.phase_deadline,
        target.not_before,
        target.last_status,
        target.failure,
        target.reported_version,
        waiting,
        sorted(FINAL),
    )
    if changed is None:
        return False
    if target.state != row.target.state or note:
        await _event(db, row.campaign_id, row.charge_point_id, "target", target.state, note, actor)
    return True


async def mark_sent(db: Executor, campaign_id: int, charge_point_id: str, request_id: int) -> bool:
    """Claim the send of update ``request_id`` (once: False if it was sent already)."""
    found = await db.fetchval(
        """UPDATE firmware_targets SET sent_at = now()
           WHERE campaign_id = $1 AND charge_point_id = $2 AND request_id = $3
             AND state = 'sending' AND sent_at IS NULL
           RETURNING revision""",
        campaign_id,
        charge_point_id,
        request_id,
    )
    return found is not None


async def set_waiting(db: Executor, campaign_id: int, waiting: dict[str, str | None]) -> None:
    """Why pending chargers were not sent the update (shown to operators)."""
    if not waiting:
        return
    await db.execute(
        """UPDATE firmware_targets t SET waiting = w.reason
           FROM unnest($2::text[], $3::text[]) AS w(cp, reason)
           WHERE t.campaign_id = $1 AND t.charge_point_id = w.cp AND t.state = 'pending'
             AND t.waiting IS DISTINCT FROM w.reason""",
        campaign_id,
        list(waiting),
        list(waiting.values()),
    )


async def dispatchable(
    db: Executor, campaign_id: int, *, up_to_wave: int, now: datetime, limit: int
) -> list[Dispatchable]:
    """Pending targets of started waves whose retry delay has passed, in rollout order,
    with what decides whether to send now."""
    records = await db.fetch(
        f"""SELECT {_TARGET_COLUMNS}, c.connected_protocol, c.firmware_version AS current,
                   s.time_zone,
                   EXISTS (SELECT 1 FROM transactions x WHERE x.charge_point_id =
                           t.charge_point_id AND x.ended_at IS NULL) AS in_session
            FROM firmware_targets t
            JOIN chargers c ON c.charge_point_id = t.charge_point_id
            LEFT JOIN sites s ON s.id = c.site_id
            WHERE t.campaign_id = $1 AND t.state = 'pending' AND t.wave <= $2
              AND (t.not_before IS NULL OR t.not_before <= $3)
            ORDER BY t.wave, t.position LIMIT $4""",
        campaign_id,
        up_to_wave,
        now,
        limit,
    )
    return [
        Dispatchable(
            row=_target_row(r),
            connected_protocol=r["connected_protocol"],
            firmware_version=r["current"],
            time_zone=r["time_zone"],
            in_session=r["in_session"],
        )
        for r in records
    ]


async def in_flight(db: Executor, campaign_id: int) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM firmware_targets WHERE campaign_id = $1 AND state = ANY($2)",
        campaign_id,
        sorted(IN_FLIGHT),
    )
    return count


async def due(db: Executor, campaign_id: int, now: datetime) -> list[TargetRow]:
    """In-flight targets past their phase deadline."""
    records = await db.fetch(
        f"""SELECT {_TARGET_COLUMNS} FROM firmware_targets t
            WHERE t.campaign_id = $1 AND t.phase_deadline <= $2 AND t.state = ANY($3)""",
        campaign_id,
        now,
        sorted(IN_FLIGHT),
    )
    return [_target_row(r) for r in records]


async def targets(
    db: Executor,
    campaign_id: int,
    *,
    states: Sequence[str] | None = None,
    after_position: int = -1,
    limit: int = 100,
) -> list[TargetRow]:
    records = await db.fetch(
        f"""SELECT {_TARGET_COLUMNS} FROM firmware_targets t
            WHERE t.campaign_id = $1 AND ($2::text[] IS NULL OR t.state = ANY($2::text[]))
              AND t.position > $3
            ORDER BY t.position LIMIT $4""",
        campaign_id,
        None if states is None else list(states),
        after_position,
        limit,
    )
    return [_target_row(r) for r in records]


async def events(
    db: Executor,
    campaign_id: int,
    *,
    charge_point_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[CampaignEvent]:
    records = await db.fetch(
        """SELECT id, campaign_id, charge_point_id, at, kind, state, detail, actor
           FROM firmware_events WHERE campaign_id = $1 AND id > $2
             AND ($3::text IS NULL OR charge_point_id = $3)
           ORDER BY id LIMIT $4""",
        campaign_id,
        after_id,
        charge_point_id,
        limit,
    )
    return [CampaignEvent(**dict(r)) for r in records]


async def charger_updates(
    db: Executor, charge_point_id: str, *, limit: int = 100
) -> list[ChargerUpdate]:
    """The charger's updates in every campaign, newest first (by when it last changed)."""
    records = await db.fetch(
        """SELECT t.campaign_id, c.name AS campaign_name, c.status AS campaign_status,
                  c.artifact_id, a.version, t.state, t.last_status, t.failure, t.attempts,
                  t.from_version, t.reported_version, t.sent_at, t.updated_at, t.finished_at
           FROM firmware_targets t
           JOIN firmware_campaigns c ON c.id = t.campaign_id
           JOIN firmware_artifacts a ON a.id = c.artifact_id
           WHERE t.charge_point_id = $1
           ORDER BY t.updated_at DESC, t.campaign_id DESC LIMIT $2""",
        charge_point_id,
        limit,
    )
    return [ChargerUpdate(**dict(r)) for r in records]


async def cancel_targets(db: Executor, campaign_id: int, actor: str | None) -> int:
    """Every charger the campaign has not finished with is cancelled."""
    records = await db.fetch(
        """UPDATE firmware_targets SET state = 'cancelled', phase_deadline = NULL,
               not_before = NULL, revision = revision + 1, updated_at = now(),
               finished_at = now()
           WHERE campaign_id = $1 AND active RETURNING charge_point_id""",
        campaign_id,
    )
    await db.executemany(
        """INSERT INTO firmware_events (campaign_id, charge_point_id, kind, state, detail, actor)
           VALUES ($1, $2, 'target', 'cancelled', 'campaign cancelled', $3)""",
        [(campaign_id, r["charge_point_id"], actor) for r in records],
    )
    return len(records)


async def retry_failed(db: Executor, campaign_id: int, actor: str | None) -> tuple[int, int]:
    """Failed targets pending again with their attempts reset; (retried, skipped because
    the charger is in another campaign now)."""
    records = await db.fetch(
        """UPDATE firmware_targets t SET state = 'pending', attempts = 0, not_before = NULL,
               phase_deadline = NULL, revision = revision + 1, updated_at = now(),
               finished_at = NULL
           WHERE t.campaign_id = $1 AND t.state = 'failed'
             AND NOT EXISTS (SELECT 1 FROM firmware_targets o
                             WHERE o.charge_point_id = t.charge_point_id AND o.active)
           RETURNING charge_point_id""",
        campaign_id,
    )
    skipped: int = await db.fetchval(
        "SELECT count(*) FROM firmware_targets WHERE campaign_id = $1 AND state = 'failed'",
        campaign_id,
    )
    await db.execute(  # their waves are not finished any more
        """UPDATE firmware_campaign_waves SET finished_at = NULL
           WHERE campaign_id = $1 AND number IN (
               SELECT wave FROM firmware_targets WHERE campaign_id = $1 AND state = 'pending')""",
        campaign_id,
    )
    await db.executemany(
        """INSERT INTO firmware_events (campaign_id, charge_point_id, kind, state, detail, actor)
           VALUES ($1, $2, 'target', 'pending', 'retry requested', $3)""",
        [(campaign_id, r["charge_point_id"], actor) for r in records],
    )
    return len(records), skipped
