"""Where chargers upload diagnostics and logs: ``PUT`` or ``POST`` (multipart/form-data, the
file part) to ``/uploads/logs/{token}`` (N01.FR.18/19).

The token is random and made for one request (``POST /api/v1/chargers/{id}/logs``); an
unknown token is answered 401, one that expired or was used 403, a body above
``CSMS_LOG_UPLOAD_MAX_BYTES`` 413, and nothing is kept. The body is streamed to
PostgreSQL in chunks within one transaction (or to a file under ``CSMS_LOG_UPLOAD_DIR``,
renamed into place when complete): never the whole file in memory, never half of it
stored. An upload into PostgreSQL holds a pooled connection while it streams: at most half
of ``CSMS_DB_POOL_MAX`` run at once, more are answered 503 with Retry-After. These routes are
for chargers, not operators: they are not in the OpenAPI document and take no bearer token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from backoffice.errors import problem
from backoffice.state import State
from csms.domain.charger_logs import UPLOAD_PATH, LogRequest, token_hash
from csms.domain.clock import utc_now
from csms.store import charger_logs

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024  # what one charger_log_chunks row holds
MULTIPART_SLACK = 64 * 1024  # headers and boundaries around the file part of a POST
MAX_TOKEN = 128
RETRY_AFTER = 30  # seconds, when too many uploads are being stored at once
DATABASE = "database"
DIRECTORY = "directory"


class TooLarge(Exception):
    pass


class BadUpload(Exception):
    pass


def upload_file_path(directory: Path, log_id: int) -> Path:
    return directory / f"log-{log_id}"


async def _raw(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


class _FilePart:
    """The file part of a multipart/form-data body, parsed as it streams."""

    def __init__(self, boundary: bytes) -> None:
        self.name: str | None = None
        self.content_type: str | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._data: list[bytes] = []
        self._in_file = False
        self._done = False  # the first file part ended: later parts are ignored
        self.found = False
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if self._done or self.found or filename is None:
            return
        self._in_file = self.found = True
        self.name = filename.decode("utf-8", "replace")
        content_type = self._headers.get(b"content-type")
        self.content_type = None if content_type is None else content_type.decode("latin-1")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._data.append(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._done = True

    def feed(self, chunk: bytes) -> bytes:
        self.parser.write(chunk)
        data, self._data = b"".join(self._data), []
        return data


async def _multipart(request: Request, part: _FilePart) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        data = part.feed(chunk)
        if data:
            yield data
    part.parser.finalize()
    if not part.found:
        raise BadUpload("the multipart body has no file part (Content-Disposition filename)")


async def _limited(source: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``source`` in chunks of ``CHUNK_BYTES`` (the last shorter); TooLarge past ``limit``."""
    buffer = bytearray()
    size = 0
    async for data in source:
        size += len(data)
        if size > limit:
            raise TooLarge()
        buffer += data
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


Describe = Callable[[], tuple[str | None, str | None]]  # the upload's (file name, type)


async def _to_database(
    state: State, found: LogRequest, chunks: AsyncIterator[bytes], describe: Describe
) -> None:
    digest = hashlib.sha256()
    size = 0
    async with state.pool.acquire() as connection, connection.transaction():
        seq = 0
        async for chunk in chunks:
            await charger_logs.save_chunk(connection, found.id, seq, chunk)
            digest.update(chunk)
            size += len(chunk)
            seq += 1
        name, kind = describe()
        done = await charger_logs.finish_upload(
            connection,
            found.id,
            upload_name=name,
            content_type=kind,
            size_bytes=size,
            sha256=digest.hexdigest(),
            stored_in=DATABASE,
            at=utc_now(),
        )
        if not done:
            raise BadUpload("this upload token was used")  # rolls the chunks back


async def _to_directory(
    state: State,
    directory: Path,
    found: LogRequest,
    chunks: AsyncIterator[bytes],
    describe: Describe,
) -> None:
    digest = hashlib.sha256()
    size = 0
    final = upload_file_path(directory, found.id)
    partial = final.with_suffix(f".part-{os.getpid()}-{id(chunks)}")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as handle:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                digest.update(chunk)
                size += len(chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        name, kind = describe()
        done = await charger_logs.finish_upload(
            state.pool,
            found.id,
            upload_name=name,
            content_type=kind,
            size_bytes=size,
            sha256=digest.hexdigest(),
            stored_in=DIRECTORY,
            at=utc_now(),
        )
        if not done:
            raise BadUpload("this upload token was used")
        os.replace(partial, final)  # the upload is this request's now
    finally:
        partial.unlink(missing_ok=True)


async def receive(request: Request) -> Response:
    state: State = request.app.state.backoffice
    settings = state.settings
    path = request.url.path
    token = request.path_params["token"]
    found = None
    if 0 < len(token) <= MAX_TOKEN:
        found = await charger_logs.by_token(state.pool, token_hash(token))
    if found is None:
        return problem(401, "this upload URL is not valid", instance=UPLOAD_PATH)
    if found.uploaded:
        return problem(403, "this upload URL was used already", instance=UPLOAD_PATH)
    if found.expires_at <= utc_now():
        return problem(403, "this upload URL has expired", instance=UPLOAD_PATH)
    limit = settings.log_upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        return problem(413, f"uploads are limited to {limit} bytes", instance=UPLOAD_PATH)
    media, options = parse_options_header(request.headers.get("content-type", ""))
    name: str | None = found.file_name
    kind: str | None = media.decode("latin-1") or None
    part: _FilePart | None = None
    if request.method == "POST" and media == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            return problem(400, "multipart/form-data without a boundary", instance=UPLOAD_PATH)
        part = _FilePart(boundary)
        source = _multipart(request, part)
    else:
        source = _raw(request)
    chunks = _limited(source, limit)

    def describe() -> tuple[str | None, str | None]:
        if part is not None:
            return part.name or name, part.content_type
        return name, kind

    directory = settings.log_upload_dir
    if directory is None and state.uploads.locked():
        return problem(
            503,
            "too many uploads at once; retry later",
            instance=UPLOAD_PATH,
            headers={"Retry-After": str(RETRY_AFTER)},
        )
    try:
        if directory is None:
            async with state.uploads:
                await _to_database(state, found, chunks, describe)
        else:
            await _to_directory(state, directory, found, chunks, describe)
    except TooLarge:
        log.warning(
            "log upload %d of %s refused: above %d bytes", found.id, found.charge_point_id, limit
        )
        return problem(413, f"uploads are limited to {limit} bytes", instance=UPLOAD_PATH)
    except BadUpload as exc:
        return problem(400 if "multipart" in str(exc) else 403, str(exc), instance=UPLOAD_PATH)
    except ClientDisconnect:
        log.warning("log upload %d of %s: the charger went away", found.id, found.charge_point_id)
        return Response(status_code=400)
    log.info("log upload %d of %s stored (%s)", found.id, found.charge_point_id, path)
    return Response(status_code=201)


def install(app: FastAPI) -> None:
    """The upload routes (plain Starlette routes: no OpenAPI, no bearer token)."""
    app.router.routes.append(
        Route(UPLOAD_PATH + "{token}", receive, methods=["PUT", "POST"], name="log_upload")
    )
