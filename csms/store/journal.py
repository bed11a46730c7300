"""The per-charger OCPP message journal (every frame in and out), written in batches.

A row keeps the frame as text (``frame``: exactly as received or sent, a password-setting
CALL redacted by the node). Rows from before migration 0015_journal have a jsonb ``payload`` and no
``frame``; ``list_messages`` gives every row both, deriving the missing one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from csms.store import partitions
from csms.store.batching import Row
from csms.store.executor import Executor
from csms.store.meter_values import MISSING_PARTITION

COLUMNS = ("charge_point_id", "at", "direction", "message_type", "message_id", "action", "frame")


async def insert_rows(db: Executor, rows: Sequence[Row]) -> None:
    """One COPY per batch: the frames travel as they are (binary COPY, no JSON around them,
    nothing for PostgreSQL to parse). A day without its partition yet (the worker makes them
    ahead) is created on demand."""
    try:
        await db.copy_records_to_table("charger_messages", records=rows, columns=COLUMNS)
    except asyncpg.CheckViolationError as exc:
        if MISSING_PARTITION not in str(exc):
            raise
        days = {row[1].astimezone(UTC).date() for row in rows}
        await partitions.ensure(db, "charger_messages", days)
        await db.copy_records_to_table("charger_messages", records=rows, columns=COLUMNS)


async def list_messages(
    db: Executor,
    charge_point_id: str,
    *,
    limit: int = 100,
    since: datetime | None = None,
    action: str | None = None,
    containing: str | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` frames of a charger (oldest first), of one ``action`` and/or
    whose text contains ``containing`` (case-insensitive) if given. Each has ``frame`` (the
    text) and ``payload`` (its parsed payload; an error's code, description and details; an
    unparseable frame's ``{"raw": text}``)."""
    records = await db.fetch(
        """SELECT * FROM (
             SELECT id, at, direction, message_type, message_id, action, frame, payload
             FROM charger_messages
             WHERE charge_point_id = $1 AND ($2::timestamptz IS NULL OR at >= $2)
               AND ($4::text IS NULL OR action = $4)
               AND ($5::text IS NULL OR coalesce(frame, payload::text) ILIKE $5)
             ORDER BY at DESC, id DESC LIMIT $3) newest
           ORDER BY at, id""",
        charge_point_id,
        since,
        limit,
        action,
        None if containing is None else f"%{_like_escaped(containing)}%",
    )
    return [_both(dict(r)) for r in records]


def _both(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its ``frame`` and its ``payload``: the one stored gives the other."""
    if row["frame"] is None:
        row["frame"] = frame_of(
            row["message_type"], row["message_id"], row["action"], row["payload"]
        )
    else:
        row["payload"] = payload_of(row["message_type"], row["frame"])
    return row


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def payload_of(message_type: int, frame: str) -> Any:
    """What a frame carries: a CALL's or CALLRESULT's payload, a CALLERROR's code,
    description and details, an unparseable frame's ``{"raw": frame}``."""
    try:
        message = orjson.loads(frame) if message_type in (2, 3, 4) else None
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, list):
        return {"raw": frame}
    if message_type == 2 and len(message) > 3:
        return message[3]
    if message_type == 3 and len(message) > 2:
        return message[2]
    if message_type == 4 and len(message) > 4:
        return {"errorCode": message[2], "errorDescription": message[3], "errorDetails": message[4]}
    return {"raw": frame}


def frame_of(message_type: int, message_id: str, action: str | None, payload: Any) -> str:
    """The frame of a row journaled before frames were kept (its payload re-serialised)."""
    if message_type == 2:
        return orjson.dumps([2, message_id, action, payload]).decode()
    if message_type == 3:
        return orjson.dumps([3, message_id, payload]).decode()
    if message_type == 4 and isinstance(payload, dict):
        error = [
            payload.get("errorCode"),
            payload.get("errorDescription"),
            payload.get("errorDetails"),
        ]
        return orjson.dumps([4, message_id, *error]).decode()
    if isinstance(payload, dict) and isinstance(payload.get("raw"), str):
        return str(payload["raw"])
    return orjson.dumps(payload).decode()


async def purge_older_than(pool: asyncpg.Pool, cutoff: datetime) -> list[str]:
    """Drop the journal's days before ``cutoff`` (whole partitions, no DELETE)."""
    return await partitions.drop_older_than(pool, "charger_messages", cutoff)


async def search_messages(
    db: Executor,
    charge_point_id: str,
    *,
    search: str | None = None,
    action: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """A charger's frames newest first, before ``before_id``: of ``action``, and with
    ``search`` in the action, message id or frame text (case-insensitive). Each has
    ``frame`` and ``payload``, as from :func:`list_messages`."""
    like = None
    if search:
        like = f"%{_like_escaped(search)}%"
    records = await db.fetch(
        """SELECT id, at, direction, message_type, message_id, action, frame, payload
           FROM charger_messages
           WHERE charge_point_id = $1
             AND ($2::bigint IS NULL OR id < $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::text IS NULL OR action ILIKE $4 OR message_id ILIKE $4
                  OR coalesce(frame, payload::text) ILIKE $4)
           ORDER BY id DESC LIMIT $5""",
        charge_point_id,
        before_id,
        action,
        like,
        limit,
    )
    return [_both(dict(r)) for r in records]
