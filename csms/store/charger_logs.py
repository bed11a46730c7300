"""Diagnostics / log upload requests and the uploads themselves (in PostgreSQL, chunked)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.domain.charger_logs import GET_DIAGNOSTICS, LogRequest
from csms.errors import AlreadyExists, NotFound
from csms.store.executor import Executor

_COLUMNS = """id, charge_point_id, log_type, action, request_id, expires_at, oldest_at,
    latest_at, requested_by, requested_at, file_name, status, status_at, statuses,
    upload_name, content_type, size_bytes, sha256, stored_in, uploaded_at"""
_FINAL = (
    "'Uploaded', 'UploadFailed', 'UploadFailure', 'BadMessage', 'NotSupportedOperation', "
    "'PermissionDenied', 'AcceptedCanceled', 'Rejected'"
)


def _request(r: asyncpg.Record) -> LogRequest:
    return LogRequest(**dict(r))


async def create_request(
    db: Executor,
    charge_point_id: str,
    *,
    log_type: str,
    action: str,
    request_id: int,
    token_hash: bytes,
    expires_at: datetime,
    oldest_at: datetime | None,
    latest_at: datetime | None,
    by: str | None,
    at: datetime,
) -> LogRequest:
    try:
        record = await db.fetchrow(
            f"""INSERT INTO charger_log_requests (charge_point_id, log_type, action, request_id,
                    token_hash, expires_at, oldest_at, latest_at, requested_by, requested_at,
                    status_at, statuses)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $10::timestamptz,
                        jsonb_build_array(jsonb_build_object('status', 'Requested',
                                                             'at', $10::timestamptz)))
                RETURNING {_COLUMNS}""",
            charge_point_id,
            log_type,
            action,
            request_id,
            token_hash,
            expires_at,
            oldest_at,
            latest_at,
            by,
            at,
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound(f"charger {charge_point_id} not found") from None
    except asyncpg.UniqueViolationError:
        raise AlreadyExists("a log request with this token or requestId exists") from None
    assert record is not None
    return _request(record)


async def remove_request(db: Executor, log_id: int) -> None:
    await db.execute("DELETE FROM charger_log_requests WHERE id = $1", log_id)


async def set_file_name(db: Executor, log_id: int, file_name: str | None) -> None:
    await db.execute(
        "UPDATE charger_log_requests SET file_name = $2 WHERE id = $1", log_id, file_name
    )


async def record_status(
    db: Executor,
    charge_point_id: str,
    status: str,
    *,
    request_id: int | None,
    at: datetime,
) -> int | None:
    """A status of the request with this requestId, or (None: 1.6 DiagnosticsStatus-
    Notification, which has none) of the charger's newest GetDiagnostics request still
    open. The request's id, or None when no request matches."""
    return await db.fetchval(  # type: ignore[no-any-return]
        f"""UPDATE charger_log_requests r SET status = $2, status_at = $4,
                statuses = r.statuses || jsonb_build_array(
                    jsonb_build_object('status', $2::text, 'at', $4::timestamptz))
            WHERE r.id = (
                SELECT id FROM charger_log_requests
                WHERE charge_point_id = $1
                  AND CASE WHEN $3::integer IS NULL
                           THEN action = '{GET_DIAGNOSTICS}' AND status NOT IN ({_FINAL})
                           ELSE request_id = $3 END
                ORDER BY id DESC LIMIT 1)
            RETURNING r.id""",
        charge_point_id,
        status,
        request_id,
        at,
    )


async def get_request(db: Executor, log_id: int) -> LogRequest | None:
    record = await db.fetchrow(f"SELECT {_COLUMNS} FROM charger_log_requests WHERE id = $1", log_id)
    return None if record is None else _request(record)


async def by_token(db: Executor, token_hash: bytes) -> LogRequest | None:
    record = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM charger_log_requests WHERE token_hash = $1", token_hash
    )
    return None if record is None else _request(record)


async def list_requests(
    db: Executor, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
) -> list[LogRequest]:
    """Newest first."""
    records = await db.fetch(
        f"""SELECT {_COLUMNS} FROM charger_log_requests
            WHERE charge_point_id = $1 AND ($2::bigint IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3""",
        charge_point_id,
        before_id,
        limit,
    )
    return [_request(r) for r in records]


async def save_chunk(db: Executor, log_id: int, seq: int, data: bytes) -> None:
    await db.execute(
        "INSERT INTO charger_log_chunks (log_id, seq, data) VALUES ($1, $2, $3)",
        log_id,
        seq,
        data,
    )


async def finish_upload(
    db: Executor,
    log_id: int,
    *,
    upload_name: str | None,
    content_type: str | None,
    size_bytes: int,
    sha256: str,
    stored_in: str,
    at: datetime,
) -> bool:
    """Mark the request uploaded, once (False: it was already)."""
    done = await db.execute(
        """UPDATE charger_log_requests SET upload_name = $2, content_type = $3,
               size_bytes = $4, sha256 = $5, stored_in = $6, uploaded_at = $7
           WHERE id = $1 AND uploaded_at IS NULL""",
        log_id,
        upload_name,
        content_type,
        size_bytes,
        sha256,
        stored_in,
        at,
    )
    return done != "UPDATE 0"


async def read_chunks(pool: asyncpg.Pool, log_id: int) -> AsyncIterator[bytes]:
    """The upload stored in PostgreSQL, chunk by chunk (one chunk in memory at a time)."""
    seq = -1
    while True:
        record = await pool.fetchrow(
            """SELECT seq, data FROM charger_log_chunks WHERE log_id = $1 AND seq > $2
               ORDER BY seq LIMIT 1""",
            log_id,
            seq,
        )
        if record is None:
            return
        seq = record["seq"]
        yield bytes(record["data"])


__all__: Sequence[Any] = ["read_chunks", "save_chunk"]
