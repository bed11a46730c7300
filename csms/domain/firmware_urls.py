"""Expiring signed URLs of firmware files, and byte ranges. Pure: no I/O.

The worker gives each charger a URL of the backoffice's ``/firmware/{artifact_id}/{file}``
route that carries the charger id, an expiry (Unix seconds) and an HMAC-SHA256 over the
three with ``CSMS_FIRMWARE_URL_SECRET``. The backoffice serves the file only for a URL whose
signature verifies and whose expiry has not passed; anything else is 403. No secret ever
appears in a URL, a log line or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlencode

DOWNLOAD_PREFIX = "/firmware"


def _mac(secret: str, artifact_id: int, charge_point_id: str, expires: int) -> str:
    message = f"{artifact_id}\n{charge_point_id}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_url(
    base_url: str,
    secret: str,
    *,
    artifact_id: int,
    file_name: str,
    charge_point_id: str,
    expires: int,
) -> str:
    """``{base_url}/firmware/{id}/{file_name}?cp=..&exp=..&sig=..``."""
    query = urlencode(
        {
            "cp": charge_point_id,
            "exp": str(expires),
            "sig": _mac(secret, artifact_id, charge_point_id, expires),
        }
    )
    path = f"{DOWNLOAD_PREFIX}/{artifact_id}/{quote(file_name, safe='')}"
    return f"{base_url.rstrip('/')}{path}?{query}"


def url_valid(
    secret: str,
    *,
    artifact_id: int,
    charge_point_id: str,
    expires: int,
    signature: str,
    now: float,
) -> bool:
    """The signature is ours for these values and ``expires`` has not passed."""
    expected = _mac(secret, artifact_id, charge_point_id, expires)
    return hmac.compare_digest(expected, signature) and now < expires


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class UnsatisfiableRange(ValueError):
    """A Range header no byte of the file satisfies (HTTP 416)."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range of ``Range: bytes=a-b`` (RFC 9110 14.1.2) in a file of ``size`` bytes.

    None: serve the whole file (no header, another unit, several ranges, or one that cannot
    be read: RFC 9110 lets a server ignore those). Raises UnsatisfiableRange when it starts
    past the end."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        suffix = int(last) if first == "" else None  # the last N bytes
        start = 0 if suffix is not None else int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if suffix is not None:
        if suffix <= 0:
            raise UnsatisfiableRange(header)
        return ByteRange(max(0, size - suffix), size - 1) if size else None
    if start < 0:
        return None
    if start >= size:
        raise UnsatisfiableRange(header)
    if end < start:
        return None
    return ByteRange(start, min(end, size - 1))
