"""Diagnostics and log uploads: what a station uploads when the CSMS asks (1.6 GetDiagnostics,
GetLog of the 1.6 security extension and of 2.0.1, N01), over HTTP(S) to the location given.

The file is made up (its lines name the station, the log type and the request) and sent as
``multipart/form-data`` with a file name (POST, N01.FR.19) or as the body of a PUT
(``StationConfig.log_upload_method``). What was uploaded is kept in
``StationState.uploads`` so a test can compare it with what the CSMS stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from simulators.context import StationContext

UPLOAD_TIMEOUT = 30.0


@dataclass(frozen=True)
class Upload:
    location: str
    file_name: str
    content: bytes
    status_code: int | None  # None: no answer (connection failed)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def log_content(ctx: StationContext, log_type: str, request_id: int | None) -> bytes:
    """``StationConfig.log_bytes`` bytes of plausible log lines."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    head = f"{now} {ctx.config.charge_point_id} {log_type} request {request_id}\n"
    lines = [head.encode()]
    size = len(lines[0])
    n = 0
    while size < ctx.config.log_bytes:
        line = f"{now} [{n:06d}] {ctx.config.vendor} {ctx.config.model} all well\n".encode()
        lines.append(line)
        size += len(line)
        n += 1
    return b"".join(lines)[: ctx.config.log_bytes]


async def upload(ctx: StationContext, location: str, file_name: str, content: bytes) -> Upload:
    """Send the file; what happened (kept in the station's state)."""
    method = ctx.config.log_upload_method
    status: int | None
    try:
        async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT) as client:
            if method == "POST":
                files = {"uploadfile": (file_name, content, "application/octet-stream")}
                response = await client.post(location, files=files)
            else:
                headers = {"Content-Type": "application/octet-stream"}
                response = await client.put(location, content=content, headers=headers)
        status = response.status_code
    except httpx.HTTPError as exc:
        ctx.log.warning("log upload to %s failed: %s", location, exc)
        status = None
    done = Upload(location, file_name, content, status)
    ctx.state.uploads.append(done)
    ctx.log.info("log upload %s: %s", file_name, status)
    return done


def send_log(ctx: StationContext, payload: dict[str, Any]) -> dict[str, Any]:
    """GetLog (2.0.1 N01, 1.6 security extension): Accepted with the file name, then
    Uploading, the upload, and Uploaded or UploadFailure (N01.FR.07-10, same requestId)."""
    request_id = payload["requestId"]
    log_type = payload["logType"]
    file_name = f"{log_type}-{request_id}.log"

    async def send() -> None:
        await ctx.call("LogStatusNotification", {"status": "Uploading", "requestId": request_id})
        content = log_content(ctx, log_type, request_id)
        done = await upload(ctx, payload["log"]["remoteLocation"], file_name, content)
        status = "Uploaded" if done.ok else "UploadFailure"
        await ctx.call("LogStatusNotification", {"status": status, "requestId": request_id})

    ctx.after(send)
    return {"status": "Accepted", "filename": file_name}
