"""The audit log's rules, with no I/O: what is redacted, how an outcome is named, what an
action's target is, and an entry as a CSV row (docs/topics/audit.md).

Redaction is by key name, at any depth: a key that names a password, a secret, a bearer or
refresh token, a private key, card data or a credential has its value replaced by
:data:`REDACTED` (RFID ``id_token`` values are identifiers, kept so the log says which token
was registered or removed). A setting written by name (OCPP ``ChangeConfiguration``
``{"key": "AuthorizationKey", "value": ...}``, ``SetVariables`` of ``BasicAuthPassword``)
has its value redacted when the name is sensitive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from csms.domain.cdr_csv import csv_line, safe_cell
from csms.errors import InvalidInput

REDACTED = "[redacted]"

SOURCES = ("api", "cli", "worker")
OUTCOMES = ("ok", "refused", "failed", "error")

# identifiers with a secret-looking word in their name that are not secrets: kept
_KEPT = frozenset(
    {
        "id_token",
        "parent_id_token",
        "group_id_token",
        "id_tag",
        "parent_id_tag",
        "id_token_type",
        "token_type",
        "password_changed",
    }
)
_SENSITIVE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "private",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "otp",
        "cvv",
        "cvc",
        "pan",
        "iban",
        "pin",
        "hash",
        "salt",
    }
)
# "<word>_key" pairs: auth_key, api_key, access_key, signing_key (a bare "key" is a name)
_SENSITIVE_KEY_PREFIXES = frozenset(
    {"auth", "authorization", "api", "access", "private", "signing", "encryption", "secret"}
)
_CARD = ("card_number", "cardnumber", "card_data")
# names of settings whose value is a secret (OCPP 1.6 keys, 2.0.1 variables, any vendor's)
_SENSITIVE_SETTING = re.compile(r"authorizationkey|password|secret|privatekey", re.IGNORECASE)
_SETTING_NAME_KEYS = ("key", "name")
_SETTING_VALUE_KEYS = ("value", "attributeValue", "attribute_value")
MAX_TEXT = 2000  # a longer string value is cut (a PEM, a base64 blob)


def _words(key: str) -> list[str]:
    """``refreshToken`` / ``refresh-token`` / ``REFRESH_TOKEN`` -> ``["refresh", "token"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def sensitive_key(key: str) -> bool:
    """Whether a value under ``key`` is never recorded."""
    words = _words(key)
    joined = "_".join(words)
    if joined in _KEPT:
        return False
    if any(word in _SENSITIVE_WORDS for word in words):
        return True
    if any(
        word == "key" and index > 0 and words[index - 1] in _SENSITIVE_KEY_PREFIXES
        for index, word in enumerate(words)
    ):
        return True
    compact = joined.replace("_", "")
    return any(c.replace("_", "") in compact for c in _CARD) or any(
        w in compact for w in ("password", "secret", "authorizationkey", "privatekey")
    )


def _setting_is_sensitive(value: Mapping[str, Any]) -> bool:
    for key in _SETTING_NAME_KEYS:
        name = value.get(key)
        if isinstance(name, str) and _SENSITIVE_SETTING.search(name):
            return True
    variable = value.get("variable")
    if isinstance(variable, Mapping):
        name = variable.get("name")
        if isinstance(name, str) and _SENSITIVE_SETTING.search(name):
            return True
    return False


def redact(value: Any) -> Any:
    """``value`` (JSON-like) with every secret replaced by :data:`REDACTED`; long strings
    cut to :data:`MAX_TEXT` characters. A new object: ``value`` is not changed."""
    if isinstance(value, Mapping):
        secret_setting = _setting_is_sensitive(value)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = storable(str(key))
            if sensitive_key(name) or (secret_setting and name in _SETTING_VALUE_KEYS):
                out[name] = REDACTED
            else:
                out[name] = redact(item)
        return out
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return storable(value[:MAX_TEXT] + "..." if len(value) > MAX_TEXT else value)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)  # JSON can hold it, orjson cannot write it
    if value is None or isinstance(value, bool | int | float):
        return value
    return storable(str(value))


def storable(text: str) -> str:
    """``text`` as PostgreSQL can store it (text and jsonb refuse NUL): each NUL and lone
    surrogate becomes U+FFFD, so a hostile request is still recorded."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def outcome_of(status: int | None, *, failed: bool = False) -> str:
    """``ok`` (2xx/3xx), ``refused`` (401/403: who may not), ``failed`` (another 4xx, or an
    action that did not succeed), ``error`` (5xx)."""
    if status is None:
        return "failed" if failed else "ok"
    if status >= 500:
        return "error"
    if status in (401, 403):
        return "refused"
    if status >= 400 or failed:
        return "failed"
    return "ok"


# body fields that name what a create acts on, when the path has no id (first one wins)
TARGET_KEYS = (
    "charge_point_id",
    "id_token",
    "username",
    "user_id",
    "tariff_id",
    "site_id",
    "profile_id",
    "campaign_id",
    "artifact_id",
    "account_id",
    "invoice_id",
    "transaction_pk",
    "id",
    "name",
)


def target_of(path_params: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    """What an action acts on: the path's ids joined with ``/`` (``CP1/Reset``), else the
    first identifying field of the body (``charge_point_id`` of a new charger)."""
    if path_params:
        return "/".join(str(v) for v in path_params.values())
    body = params.get("body")
    sources = [body] if isinstance(body, Mapping) else []
    sources.append(params)
    for source in sources:
        for key in TARGET_KEYS:
            value = source.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                text = str(value)
                return None if text == REDACTED else text[:200]
    return None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of ``audit_log``."""

    id: int
    at: datetime
    source: str
    actor_user_id: int | None
    actor: str | None
    actor_role: str | None
    action: str
    method: str | None
    route: str | None
    target: str | None
    target_params: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    outcome: str = "ok"
    result: Any = None
    client: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """What is recorded (``id`` and ``at`` are the database's)."""

    source: str
    action: str
    outcome: str
    actor_user_id: int | None = None
    actor: str | None = None
    actor_role: str | None = None
    method: str | None = None
    route: str | None = None
    target: str | None = None
    target_params: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    result: Any = None
    client: str | None = None
    request_id: str | None = None


CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "at",
    "source",
    "actor_user_id",
    "actor",
    "actor_role",
    "action",
    "method",
    "route",
    "target",
    "status",
    "outcome",
    "client",
    "request_id",
    "params",
    "result",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def csv_header() -> str:
    return csv_line(list(CSV_COLUMNS))


def csv_row(entry: AuditEntry) -> str:
    """One CRLF-terminated CSV line; every cell formula-safe (see :mod:`csms.domain.cdr_csv`)."""
    cells: Sequence[str] = [safe_cell(_cell(getattr(entry, name))) for name in CSV_COLUMNS]
    return csv_line(cells)


_RELATIVE = re.compile(r"(\d{1,6})\s*(s|m|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(text: str, now: datetime, field_name: str) -> datetime:
    """A search bound: a duration before ``now`` (``90s``, ``15m``, ``1h``, ``7d``, ``2w``) or
    an instant (``2026-11-01``, ``2026-11-01T06:00:00Z``, ``...+01:00``; naive is UTC).
    InvalidInput names ``field_name`` otherwise."""
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative is not None:
        seconds = int(relative.group(1)) * _UNIT_SECONDS[relative.group(2).lower()]
        return now - timedelta(seconds=seconds)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        instant = datetime.fromisoformat(value.upper() if "T" in value.upper() else value)
    except ValueError:
        raise InvalidInput(
            f"{field_name}: {text!r} is neither a duration (15m, 1h, 7d) nor a date and time "
            "(2026-11-01, 2026-11-01T06:00:00Z)"
        ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{field_name}: {text!r} is out of range") from None
