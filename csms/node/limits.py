"""Abuse limits of a node, without I/O: per source address (connection rate, handshakes in
progress) and per charger (message rate, then a close after sustained abuse).

Both are token buckets on a clock the caller passes in (``time.monotonic`` on a node, a fake
one in tests). What a refusal looks like on the wire (a TCP reset, a CALLERROR, a 1008
close) is decided by the server and the dispatcher; docs/topics/deployment.md lists the
limits and their settings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from csms.networks import Network

Clock = Callable[[], float]

# Limits that refuse something, as labels of the node's csms_node_limited_total metric.
CONNECTION_RATE = "connection_rate"
HANDSHAKES = "handshakes"
MESSAGE_RATE = "message_rate"
FLOOD_CLOSE = "flood_close"
PENDING_CALLS = "pending_calls"
LIMITS = (CONNECTION_RATE, HANDSHAKES, MESSAGE_RATE, FLOOD_CLOSE, PENDING_CALLS)

# An IPv6 client usually holds a whole /64: one source is one /64, or a flood could hop
# addresses at will.
IPV6_SOURCE_PREFIX = 64
# Source addresses remembered at most (a full bucket is forgotten anyway); past it they are
# all forgotten at once, which only ever errs on the side of admitting.
MAX_TRACKED_SOURCES = 100_000
PRUNE_SECONDS = 10.0
# Refused messages are counted over this window for the close after sustained abuse.
REFUSAL_WINDOW = 60.0


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; each admitted event takes one."""

    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float) -> bool:
        """Take a token if there is one (True), else refuse (False)."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def full(self, now: float) -> bool:
        """Whether the bucket is (back to) full: it remembers nothing then."""
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.burst


def source_of(address: str) -> str:
    """The key a connection from ``address`` is counted under: the address, or its /64
    for IPv6 (an IPv4-mapped IPv6 address counts as the IPv4 one)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)


class SourceLimits:
    """Per source address: new connections a second (``rate``, ``burst``) and WebSocket
    handshakes in progress at once (``max_handshakes``). A rate of 0 or a
    ``max_handshakes`` of 0 turns that limit off; ``exempt`` networks (load balancers,
    probes) are never limited.

    ``admit`` is called as a connection is accepted; an admitted connection is counted as
    a handshake in progress until ``done``.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_handshakes: int,
        exempt: Iterable[Network] = (),
        clock: Clock,
        max_tracked: int = MAX_TRACKED_SOURCES,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.max_handshakes = max_handshakes
        self.exempt = tuple(exempt)
        self.clock = clock
        self.max_tracked = max_tracked
        self._buckets: dict[str, TokenBucket] = {}
        self._handshakes: dict[str, int] = {}
        # _key's answers: parsing addresses was most of what the limits cost a connection
        self._keys: dict[str, str | None] = {}
        self._pruned_at = clock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 or self.max_handshakes > 0

    def tracked(self) -> int:
        """Sources remembered now (buckets not yet full, handshakes in progress)."""
        return len(self._buckets.keys() | self._handshakes.keys())

    def _key(self, address: str | None) -> str | None:
        """The source to count, or None when ``address`` is exempt (or unknown: a UNIX
        socket)."""
        if not address:
            return None
        try:
            return self._keys[address]
        except KeyError:
            pass
        if len(self._keys) >= self.max_tracked:
            self._keys.clear()
        key = self._keys[address] = self._parsed_key(address)
        return key

    def _parsed_key(self, address: str) -> str | None:
        if self.exempt:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                ip = None
            if ip is not None and any(ip in network for network in self.exempt):
                return None
        return source_of(address)

    def admit(self, address: str | None) -> str | None:
        """None if a connection from ``address`` may go on (it is now a handshake in
        progress), or the limit that refuses it (``CONNECTION_RATE``, ``HANDSHAKES``)."""
        if not self.enabled:
            return None
        key = self._key(address)
        if key is None:
            return None
        now = self.clock()
        self._prune(now)
        in_progress = self._handshakes.get(key, 0)
        if self.max_handshakes > 0 and in_progress >= self.max_handshakes:
            return HANDSHAKES
        if self.rate > 0:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
            if not bucket.take(now):
                return CONNECTION_RATE
        if self.max_handshakes > 0:
            self._handshakes[key] = in_progress + 1
        return None

    def done(self, address: str | None) -> None:
        """The handshake of an admitted connection from ``address`` ended (either way)."""
        if self.max_handshakes <= 0:
            return
        key = self._key(address)
        if key is None:
            return
        left = self._handshakes.get(key, 0) - 1
        if left > 0:
            self._handshakes[key] = left
        else:
            self._handshakes.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._buckets) >= self.max_tracked:
            self._buckets.clear()
        elif now - self._pruned_at < PRUNE_SECONDS:
            return
        self._pruned_at = now
        for key in [k for k, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class ChargerLimits:
    """What one charger connection may do (``csms.settings.NodeSettings``)."""

    message_rate: float = 0.0  # CALLs (and unreadable frames) a second; 0: no limit
    message_burst: float = 1.0
    refusals_before_close: int = 0  # refused in REFUSAL_WINDOW, then 1008; 0: never close
    max_pending_calls: int = 32  # CSMS calls queued or outstanding


class MessageLimit:
    """The message rate of one charger connection, and whether it abused it long enough
    to be closed: more than ``refusals_before_close`` refusals within ``REFUSAL_WINDOW``
    seconds of the first one."""

    __slots__ = ("limits", "clock", "_bucket", "_window_start", "_refused", "refused_total")

    def __init__(self, limits: ChargerLimits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        now = clock()
        self._bucket = TokenBucket(limits.message_rate, max(1.0, limits.message_burst), now)
        self._window_start = now
        self._refused = 0  # in the current window
        self.refused_total = 0

    def allow(self) -> bool:
        """Whether the frame received now may be handled (False: refuse it)."""
        if self.limits.message_rate <= 0:
            return True
        now = self.clock()
        if self._bucket.take(now):
            return True
        if self._refused == 0 or now - self._window_start > REFUSAL_WINDOW:
            self._window_start, self._refused = now, 0
        self._refused += 1
        self.refused_total += 1
        return False

    @property
    def first_refusal_of_window(self) -> bool:
        """The last refusal opened a new window (what is logged: one line per window)."""
        return self._refused == 1

    @property
    def abused(self) -> bool:
        """Refused more than ``refusals_before_close`` times in the current window."""
        limit = self.limits.refusals_before_close
        return limit > 0 and self._refused > limit

    @property
    def retry_after(self) -> float:
        """Seconds until the next frame would be admitted."""
        missing = 1.0 - self._bucket.tokens
        rate = self.limits.message_rate
        return 0.0 if missing <= 0 or rate <= 0 else missing / rate
