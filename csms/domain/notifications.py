"""Notifications without I/O: the catalogue of event types, which subscriptions an event
matches, webhook signatures, the retry schedule and the rules a webhook URL must follow
(docs/how-to/get-alarms-by-webhook-and-email.md).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from csms.errors import InvalidInput

# The event types a notification may carry, and what each means. Subscriptions name event
# types from this list, or a family (``alarm.*``), or ``*`` for all of them.
EVENT_TYPES: Mapping[str, str] = {
    "alarm.raised": "An alarm was raised (or raised again while flapping).",
    "alarm.acknowledged": "An operator acknowledged an alarm.",
    "alarm.cleared": "An alarm cleared (its condition ended, or by hand).",
    "charger.offline": "A charger went offline.",
    "charger.online": "A charger came back online.",
    "charger.faulted": "A charger or one of its connectors reported a fault.",
    "session.started": "A charging session started.",
    "session.ended": "A charging session ended.",
    "firmware.campaign_halted": "A firmware campaign halted (too many failures).",
    "notification.test": "A test event an operator sent to check a subscription.",
}

SIGNATURE_HEADER = "X-CSMS-Signature"
# What a webhook signing secret is sealed for at rest (csms.secretbox: its associated data)
WEBHOOK_SECRET_PURPOSE = "notification_subscriptions.secret"
EVENT_ID_HEADER = "X-CSMS-Event-Id"
EVENT_TYPE_HEADER = "X-CSMS-Event-Type"
DELIVERY_ID_HEADER = "X-CSMS-Delivery-Id"
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between the signed timestamp and now

MAX_URL_LENGTH = 2000


def check_event_type(event_type: str) -> str:
    """An event type of the catalogue (InvalidInput otherwise)."""
    if event_type not in EVENT_TYPES:
        raise InvalidInput(
            f"unknown event type {event_type!r}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return event_type


def check_subscribed_types(event_types: Iterable[str]) -> list[str]:
    """What a subscription may name: catalogue types, ``family.*`` of a known family, ``*``.
    Duplicates are dropped, order kept."""
    families = {name.split(".", 1)[0] for name in EVENT_TYPES}
    chosen: list[str] = []
    for name in event_types:
        if name == "*" or name in EVENT_TYPES:
            pass
        elif name.endswith(".*") and name[:-2] in families:
            pass
        else:
            raise InvalidInput(
                f"unknown event type {name!r}; known: {', '.join(sorted(EVENT_TYPES))}, "
                f"a family ({', '.join(sorted(f + '.*' for f in families))}) or *"
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidInput("event_types: at least one event type")
    return chosen


def patterns_for(event_type: str) -> list[str]:
    """The subscription entries that match ``event_type``: itself, its family, ``*``."""
    return [event_type, event_type.split(".", 1)[0] + ".*", "*"]


# -- signatures --------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``{timestamp}.{body}`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex>[,v1=<hex>]``: one v1 per secret (two while a rotated
    secret is still honoured), like Stripe's."""
    parts = [f"t={timestamp}"]
    parts.extend(f"v1={signature(secret, timestamp, body)}" for secret in secrets)
    return ",".join(parts)


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """What a receiver does: one of the header's v1 values is the HMAC of ``t.body`` and
    ``t`` is within ``tolerance`` seconds of ``now``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# -- retries -----------------------------------------------------------------------------------


def retry_delay(attempt: int, *, base: float, maximum: float, jitter: float) -> float:
    """Seconds before try ``attempt + 1`` after try ``attempt`` (1-based) failed: ``base``
    doubled each try, capped at ``maximum``, then "equal jitter": half of it fixed, the
    other half scaled by ``jitter`` (a uniform random number in [0, 1), passed in)."""
    delay: float = min(maximum, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + delay / 2 * jitter


# -- webhook URLs ------------------------------------------------------------------------------

Origin = tuple[str, int]  # (host or address, port)


def url_origin(url: str) -> Origin:
    """``(host, port)`` of an http(s) URL (InvalidInput if it is not one)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url: at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"url: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url: a webhook URL must start with http:// or https://")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput("url: a webhook URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url: credentials in a webhook URL are not allowed (it is signed)")
    if parts.fragment:
        raise InvalidInput("url: a webhook URL may not have a #fragment")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return host, port


def check_webhook_url(
    url: str,
    addresses: Iterable[str],
    *,
    allow_private: bool,
    platform: Iterable[Origin],
) -> None:
    """Refuse (InvalidInput) a webhook URL that is not http(s), points at the platform
    itself (an origin in ``platform``: the backoffice's own host and port, its public URLs)
    or, unless ``allow_private``, at a loopback, private, link-local or otherwise not
    globally routable address. ``addresses`` are what the URL's host resolves to."""
    host, port = url_origin(url)
    resolved = [_unmapped(ipaddress.ip_address(a)) for a in addresses]
    if not resolved:
        raise InvalidInput(f"url: the host {host!r} does not resolve")
    for platform_host, platform_port in platform:
        if platform_port != port:
            continue
        platform_host = platform_host.lower().strip("[]")
        if platform_host == host or _same_address(platform_host, resolved):
            raise InvalidInput("url: a webhook may not point at this platform (the backoffice)")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise InvalidInput("url: a webhook may not point at localhost (CSMS_WEBHOOK_ALLOW_PRIVATE)")
    for address in resolved:
        if not address.is_global or address.is_multicast:
            raise InvalidInput(
                f"url: {host} resolves to {address}, a loopback, private or reserved address "
                "(allowed only with CSMS_WEBHOOK_ALLOW_PRIVATE=true)"
            )


def _unmapped(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """``::ffff:10.0.0.1`` is ``10.0.0.1``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _same_address(
    platform_host: str, resolved: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
) -> bool:
    try:
        platform_address = _unmapped(ipaddress.ip_address(platform_host))
    except ValueError:
        return False
    if platform_address.is_unspecified:  # bound to every address: every local one is it
        return any(a.is_loopback or a.is_unspecified for a in resolved)
    return any(a == platform_address or a.is_unspecified for a in resolved)
