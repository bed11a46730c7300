"""The abuse limits without I/O, on a fake clock: token buckets, per source address limits
(connection rate, handshakes in progress, exempt networks, IPv6 /64s) and the per charger
message rate with its close after sustained abuse."""

from __future__ import annotations

import pytest

from csms.networks import parse_networks
from csms.node.limits import (
    CONNECTION_RATE,
    HANDSHAKES,
    REFUSAL_WINDOW,
    ChargerLimits,
    MessageLimit,
    SourceLimits,
    TokenBucket,
    source_of,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.4)  # 0.8 of a token
    assert bucket.take(0.5)  # one token after half a second at 2/s
    assert not bucket.full(0.5)
    assert bucket.full(2.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]  # capped


def test_connection_rate_per_source_address() -> None:
    clock = FakeClock()
    limits = SourceLimits(rate=1.0, burst=3, max_handshakes=0, clock=clock)
    assert [limits.admit("192.0.2.1") for _ in range(4)] == [None, None, None, CONNECTION_RATE]
    assert limits.admit("192.0.2.2") is None  # another address has its own bucket
    clock.advance(1.0)
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") == CONNECTION_RATE


def test_handshakes_in_progress_per_source_address() -> None:
    limits = SourceLimits(rate=0, burst=1, max_handshakes=2, clock=FakeClock())
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") == HANDSHAKES
    assert limits.admit("192.0.2.9") is None
    limits.done("192.0.2.1")
    assert limits.admit("192.0.2.1") is None
    for _ in range(3):
        limits.done("192.0.2.1")  # more done than admitted never goes below zero
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") == HANDSHAKES


def test_a_refused_handshake_is_not_counted_as_in_progress() -> None:
    clock = FakeClock()
    limits = SourceLimits(rate=1.0, burst=1, max_handshakes=1, clock=clock)
    assert limits.admit("192.0.2.1") is None
    assert limits.admit("192.0.2.1") == HANDSHAKES
    limits.done("192.0.2.1")
    assert limits.admit("192.0.2.1") == CONNECTION_RATE  # the bucket is empty
    clock.advance(1.0)
    assert limits.admit("192.0.2.1") is None


def test_exempt_networks_and_unknown_peers_are_never_limited() -> None:
    limits = SourceLimits(
        rate=1.0,
        burst=1,
        max_handshakes=1,
        exempt=parse_networks("10.0.0.0/8, 2001:db8::1"),
        clock=FakeClock(),
    )
    for address in ("10.1.2.3", "2001:db8::1", None, ""):
        assert [limits.admit(address) for _ in range(5)] == [None] * 5
    assert limits.tracked() == 0
    assert limits.admit("2001:db8::2") is None
    assert limits.admit("2001:db8::3") == HANDSHAKES  # the same /64, not exempt


def test_ipv6_sources_are_their_64_and_mapped_ipv4_is_ipv4() -> None:
    assert source_of("2001:db8:1:2:aaaa::1") == source_of("2001:db8:1:2:bbbb::9")
    assert source_of("2001:db8:1:2::1") != source_of("2001:db8:1:3::1")
    assert source_of("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_of("fe80::1%eth0") == "fe80::/64"
    assert source_of("not an address") == "not an address"


def test_limits_turned_off_admit_everything() -> None:
    limits = SourceLimits(rate=0, burst=1, max_handshakes=0, clock=FakeClock())
    assert not limits.enabled
    assert all(limits.admit("192.0.2.1") is None for _ in range(1000))
    assert limits.tracked() == 0


def test_full_buckets_are_forgotten_and_the_table_is_bounded() -> None:
    clock = FakeClock()
    limits = SourceLimits(rate=10.0, burst=2, max_handshakes=0, clock=clock, max_tracked=50)
    for i in range(40):
        assert limits.admit(f"192.0.2.{i}") is None
    assert limits.tracked() == 40
    clock.advance(60.0)  # every bucket full again: nothing to remember
    limits.admit("198.51.100.1")
    assert limits.tracked() == 1
    for i in range(200):  # a flood from many addresses never holds more than max_tracked
        limits.admit(f"203.0.113.{i % 250}")
        assert len(limits._buckets) <= 50
        assert len(limits._keys) <= 50  # nor as many parsed addresses


def test_an_address_is_keyed_the_same_from_the_cache() -> None:
    # the parsed key of each address is remembered (a storm admits and releases every
    # connection): the second answer must be the first one, exempt or not
    limits = SourceLimits(
        rate=1.0, burst=1, max_handshakes=1, clock=FakeClock(),
        exempt=parse_networks("10.0.0.0/8"),
    )  # fmt: skip
    for _ in range(2):
        assert limits._key("2001:db8::1%eth0") == "2001:db8::/64"
        assert limits._key("::ffff:192.0.2.7") == "192.0.2.7"
        assert limits._key("10.1.2.3") is None
    assert limits.admit("192.0.2.7") is None
    assert limits.admit("::ffff:192.0.2.7") == HANDSHAKES  # the same source, in progress
    limits.done("::ffff:192.0.2.7")
    assert limits.tracked() == 1  # its bucket is empty, no handshake in progress


def test_parse_networks_names_a_bad_entry() -> None:
    assert parse_networks(" ") == ()
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_networks("10.0.0.0/8,10.0.0.300")


def test_message_rate_refuses_then_closes_after_sustained_abuse() -> None:
    clock = FakeClock()
    limit = MessageLimit(
        ChargerLimits(message_rate=10.0, message_burst=5, refusals_before_close=3), clock
    )
    assert [limit.allow() for _ in range(5)] == [True] * 5
    assert not limit.allow()
    assert limit.first_refusal_of_window and not limit.abused
    assert limit.retry_after == pytest.approx(0.1)
    clock.advance(0.1)
    assert limit.allow()  # a charger that slows down is served again
    assert [limit.allow() for _ in range(3)] == [False, False, False]
    assert not limit.first_refusal_of_window
    assert limit.abused  # four refusals within the window: more than three
    assert limit.refused_total == 4


def test_refusals_spread_over_more_than_a_window_never_close() -> None:
    clock = FakeClock()
    limit = MessageLimit(
        ChargerLimits(message_rate=1.0, message_burst=1, refusals_before_close=2), clock
    )
    for _ in range(10):
        assert limit.allow()
        assert not limit.allow()  # one refusal, then quiet until the next window
        assert not limit.abused
        clock.advance(REFUSAL_WINDOW + 1)
    assert limit.refused_total == 10


def test_message_limits_turned_off() -> None:
    limit = MessageLimit(ChargerLimits(message_rate=0, refusals_before_close=1), FakeClock())
    assert all(limit.allow() for _ in range(10_000))
    assert not limit.abused
