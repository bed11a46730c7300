"""The authorization decision for an id token (1.6 section 7.2 AuthorizationStatus, 2.0.1
AuthorizationStatusEnumType), pure: a token, a time, the count of other active sessions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from csms.domain.id_tokens import Authorization, IdToken, TokenStatus, authorize

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def token(**changes: object) -> IdToken:
    base = IdToken(
        id_token="TAG-1",
        token_type="ISO14443",
        status="Accepted",
        expiry_date=None,
        parent_id_token=None,
        allow_concurrent=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_unknown_token() -> None:
    decision = authorize(None, NOW)
    assert decision == Authorization(TokenStatus.UNKNOWN)
    assert not decision.accepted


def test_unknown_token_is_unknown_even_when_starting() -> None:
    assert authorize(None, NOW, starting=True, other_active_sessions=3).status is (
        TokenStatus.UNKNOWN
    )


def test_accepted_token() -> None:
    decision = authorize(token(), NOW)
    assert decision.status is TokenStatus.ACCEPTED
    assert decision.accepted


@pytest.mark.parametrize("status", ["Blocked", "Expired", "Invalid"])
def test_registered_status_is_kept(status: str) -> None:
    decision = authorize(token(status=status), NOW)
    assert decision.status is TokenStatus(status)
    assert not decision.accepted


def test_expired_by_date() -> None:
    decision = authorize(token(expiry_date=NOW - timedelta(seconds=1)), NOW)
    assert decision.status is TokenStatus.EXPIRED


def test_expiry_date_equal_to_now_is_expired() -> None:
    assert authorize(token(expiry_date=NOW), NOW).status is TokenStatus.EXPIRED


def test_expiry_date_in_the_future_is_accepted_and_reported() -> None:
    expiry = NOW + timedelta(days=30)
    decision = authorize(token(expiry_date=expiry, parent_id_token="GROUP-1"), NOW)
    assert decision == Authorization(TokenStatus.ACCEPTED, expiry, "GROUP-1")


def test_expiry_compares_instants_not_wall_clocks() -> None:
    """13:30+02:00 is 11:30 UTC: before NOW although its wall clock is later."""
    plus_two = timezone(timedelta(hours=2))
    assert authorize(
        token(expiry_date=datetime(2025, 6, 1, 13, 30, tzinfo=plus_two)), NOW
    ).status is (TokenStatus.EXPIRED)
    assert authorize(token(expiry_date=datetime(2025, 6, 1, 14, 30, tzinfo=plus_two)), NOW).accepted


def test_blocked_token_past_its_expiry_stays_blocked() -> None:
    decision = authorize(token(status="Blocked", expiry_date=NOW - timedelta(days=1)), NOW)
    assert decision.status is TokenStatus.BLOCKED


def test_other_active_session_gives_concurrent_tx_only_when_starting() -> None:
    """1.6 7.2 ConcurrentTx: "Only relevant for a StartTransaction.req"."""
    assert authorize(token(), NOW, other_active_sessions=1, starting=True).status is (
        TokenStatus.CONCURRENT_TX
    )
    assert authorize(token(), NOW, other_active_sessions=1).status is TokenStatus.ACCEPTED


def test_no_other_session_is_accepted_when_starting() -> None:
    assert authorize(token(), NOW, other_active_sessions=0, starting=True).accepted


def test_allow_concurrent_ignores_other_sessions() -> None:
    decision = authorize(token(allow_concurrent=True), NOW, other_active_sessions=5, starting=True)
    assert decision.status is TokenStatus.ACCEPTED


def test_expired_wins_over_concurrent_tx() -> None:
    expired = token(expiry_date=NOW - timedelta(minutes=1))
    decision = authorize(expired, NOW, other_active_sessions=1, starting=True)
    assert decision.status is TokenStatus.EXPIRED


def test_blocked_wins_over_concurrent_tx() -> None:
    decision = authorize(token(status="Blocked"), NOW, other_active_sessions=1, starting=True)
    assert decision.status is TokenStatus.BLOCKED


def test_decision_carries_expiry_and_parent_whatever_the_status() -> None:
    expiry = NOW - timedelta(days=1)
    decision = authorize(token(expiry_date=expiry, parent_id_token="P"), NOW)
    assert (decision.expiry_date, decision.parent_id_token) == (expiry, "P")
