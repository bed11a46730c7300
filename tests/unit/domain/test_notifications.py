"""Notifications without I/O: catalogue, matching, signatures, backoff, URL rules."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from csms.domain.notifications import (
    EVENT_TYPES,
    check_event_type,
    check_subscribed_types,
    check_webhook_url,
    patterns_for,
    retry_delay,
    signature_header,
    verify_signature,
)
from csms.errors import InvalidInput

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"alarm.raised"}'


def test_catalogue_has_the_alarm_events() -> None:
    assert {"alarm.raised", "alarm.acknowledged", "alarm.cleared"} <= set(EVENT_TYPES)
    assert check_event_type("alarm.raised") == "alarm.raised"
    with pytest.raises(InvalidInput, match="unknown event type 'alarm.boom'"):
        check_event_type("alarm.boom")


def test_subscribed_types() -> None:
    assert check_subscribed_types(["alarm.*", "session.ended", "alarm.*"]) == [
        "alarm.*",
        "session.ended",
    ]
    assert check_subscribed_types(["*"]) == ["*"]
    for bad in (["alarms.*"], ["ALARM.RAISED"], ["alarm."], [""]):
        with pytest.raises(InvalidInput):
            check_subscribed_types(bad)
    with pytest.raises(InvalidInput, match="at least one"):
        check_subscribed_types([])
    assert patterns_for("alarm.cleared") == ["alarm.cleared", "alarm.*", "*"]


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = signature_header([SECRET], 1_700_000_000, BODY)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify_signature(SECRET, header, BODY, now=1_700_000_100)


def test_verification_refuses_tampering_old_timestamps_and_other_secrets() -> None:
    header = signature_header([SECRET], 1_700_000_000, BODY)
    assert not verify_signature(SECRET, header, BODY + b"x", now=1_700_000_000)
    assert not verify_signature("whsec_other", header, BODY, now=1_700_000_000)
    assert not verify_signature(SECRET, header, BODY, now=1_700_000_301)  # 5 min tolerance
    assert not verify_signature(SECRET, header, BODY, now=1_699_999_699)
    assert verify_signature(SECRET, header, BODY, now=1_700_000_999, tolerance=1000)
    assert not verify_signature(SECRET, "v1=abc", BODY, now=0)
    assert not verify_signature(SECRET, "", BODY, now=0)
    # a timestamp moved to now invalidates the signature
    moved = header.replace("t=1700000000", "t=1700000500")
    assert not verify_signature(SECRET, moved, BODY, now=1_700_000_500)


def test_rotation_signs_with_both_secrets() -> None:
    header = signature_header(["whsec_new", "whsec_old"], 1_700_000_000, BODY)
    assert header.count("v1=") == 2
    for secret in ("whsec_new", "whsec_old"):
        assert verify_signature(secret, header, BODY, now=1_700_000_000)


def test_backoff_doubles_caps_and_jitters() -> None:
    fixed = [retry_delay(n, base=10, maximum=3600, jitter=1.0) for n in range(1, 11)]
    assert fixed[:5] == [10, 20, 40, 80, 160]
    assert fixed[-1] == 3600
    assert retry_delay(3, base=10, maximum=3600, jitter=0.0) == 20  # half of 40
    assert retry_delay(3, base=10, maximum=3600, jitter=0.5) == 30


PLATFORM = [("127.0.0.1", 8000), ("csms.example.com", 443)]


@pytest.mark.parametrize(
    ("url", "addresses", "message"),
    [
        ("ftp://h.example/x", ["93.184.215.14"], "http:// or https://"),
        ("file:///etc/passwd", [], "http:// or https://"),
        ("https://a:b@h.example/", ["93.184.215.14"], "credentials"),
        ("https://h.example/#x", ["93.184.215.14"], "fragment"),
        ("https://nowhere.invalid/", [], "does not resolve"),
        ("https://csms.example.com/hook", ["93.184.215.14"], "this platform"),
        ("http://127.0.0.1:8000/api", ["127.0.0.1"], "this platform"),
        ("http://localhost:8000/api", ["127.0.0.1", "::1"], "this platform"),
        ("http://[::ffff:7f00:1]:8000/", ["::ffff:7f00:1"], "this platform"),
        ("http://localhost/x", ["127.0.0.1"], "localhost"),
        ("http://10.0.0.5/x", ["10.0.0.5"], "private"),
        ("http://h.example/x", ["93.184.215.14", "192.168.1.1"], "private"),
        ("http://169.254.169.254/latest/meta-data/", ["169.254.169.254"], "private"),
        ("http://[fd00::1]/x", ["fd00::1"], "private"),
        ("http://[::ffff:10.0.0.1]/x", ["::ffff:10.0.0.1"], "private"),
        ("http://0.0.0.0/x", ["0.0.0.0"], "private"),
        ("http://224.0.0.1/x", ["224.0.0.1"], "private"),
    ],
)
def test_refused_urls(url: str, addresses: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_webhook_url(url, addresses, allow_private=False, platform=PLATFORM)


def test_private_allowed_in_dev_but_never_the_platform() -> None:
    check_webhook_url(
        "http://127.0.0.1:9999/x", ["127.0.0.1"], allow_private=True, platform=PLATFORM
    )
    with pytest.raises(InvalidInput, match="this platform"):
        check_webhook_url(
            "http://127.0.0.1:8000/x", ["127.0.0.1"], allow_private=True, platform=PLATFORM
        )
    # a backoffice bound to every address is every local address on its port
    with pytest.raises(InvalidInput, match="this platform"):
        check_webhook_url(
            "http://127.0.0.2:8000/x",
            ["127.0.0.2"],
            allow_private=True,
            platform=[("0.0.0.0", 8000)],
        )


def test_public_url_passes() -> None:
    check_webhook_url(
        "https://hooks.example.org/csms?x=1",
        ["93.184.215.14"],
        allow_private=False,
        platform=PLATFORM,
    )
