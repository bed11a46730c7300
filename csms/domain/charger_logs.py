"""Diagnostics and log uploads asked of chargers (1.6 GetDiagnostics, GetLog of the 1.6
security extension and of 2.0.1, N01): the request, its upload token and its statuses.
No I/O.

The charger uploads to a URL of the backoffice that carries a random token made for that
request only; the CSMS keeps the token's SHA-256, never the token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DIAGNOSTICS = "diagnostics"
SECURITY = "security"
LOG_TYPES = (DIAGNOSTICS, SECURITY)
GET_DIAGNOSTICS = "GetDiagnostics"
GET_LOG = "GetLog"
REQUESTED = "Requested"  # asked; the charger has not said more
UPLOAD_PATH = "/uploads/logs/"  # + token, on the backoffice
TOKEN_BYTES = 32

# Statuses after which the charger uploads nothing more for the request (1.6
# DiagnosticsStatus / UploadLogStatus, 2.0.1 UploadLogStatusEnumType; and our Rejected).
FINAL_STATUSES = frozenset(
    {
        "Uploaded",
        "UploadFailed",
        "UploadFailure",
        "BadMessage",
        "NotSupportedOperation",
        "PermissionDenied",
        "AcceptedCanceled",
        "Rejected",
    }
)


@dataclass(frozen=True, slots=True)
class LogRequest:
    id: int
    charge_point_id: str
    log_type: str
    action: str  # GetDiagnostics / GetLog
    request_id: int
    expires_at: datetime
    oldest_at: datetime | None
    latest_at: datetime | None
    requested_by: str | None
    requested_at: datetime
    file_name: str | None  # what the charger said it would upload
    status: str
    status_at: datetime
    statuses: list[dict[str, Any]]  # [{"status", "at"}], oldest first
    upload_name: str | None  # the name the upload carried
    content_type: str | None
    size_bytes: int | None
    sha256: str | None
    stored_in: str | None  # database / directory
    uploaded_at: datetime | None

    @property
    def uploaded(self) -> bool:
        return self.uploaded_at is not None


def new_token() -> str:
    """A random URL-safe token for one upload."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def upload_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + UPLOAD_PATH + token
