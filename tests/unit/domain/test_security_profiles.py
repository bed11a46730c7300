"""The security profile a connection proves and the minimum that only goes up
(OCPP 2.0.1 A05.FR.07, 1.6 security whitepaper A05.FR.09)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from csms.domain.security_profiles import (
    COMPLETED,
    PENDING,
    SecurityState,
    Upgrade,
    admit,
    connection_profile,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_what_a_connection_proves() -> None:
    assert connection_profile(tls=True, certificate=True, basic=False) == 3
    assert connection_profile(tls=True, certificate=True, basic=True) == 3
    assert connection_profile(tls=True, certificate=False, basic=True) == 2
    assert connection_profile(tls=False, certificate=False, basic=True) == 1
    assert connection_profile(tls=True, certificate=False, basic=False) == 0
    assert connection_profile(tls=False, certificate=True, basic=False) == 0


@given(st.lists(st.integers(0, 3), max_size=20))
def test_the_minimum_is_the_highest_profile_admitted_and_never_goes_down(
    profiles: list[int],
) -> None:
    state = SecurityState("CP-1")
    highest = 0
    for second, profile in enumerate(profiles):
        state, admission = admit(state, profile, T0 + timedelta(seconds=second))
        assert admission.admitted == (profile >= highest)
        highest = max(highest, profile)
        assert state.minimum == admission.minimum == highest


def test_a_refused_connection_changes_nothing() -> None:
    state = SecurityState("CP-1", minimum=3, last_profile=3, last_connected_at=T0)
    after, admission = admit(state, 2, T0 + timedelta(seconds=5))
    assert after is state and not admission.admitted


def test_reaching_the_target_completes_the_pending_upgrade() -> None:
    upgrade = Upgrade("U", 3, PENDING, T0, T0 + timedelta(minutes=5))
    state = SecurityState("CP-1", minimum=1, last_profile=1, upgrade=upgrade)
    state, admission = admit(state, 2, T0)
    assert admission.completed is None and state.upgrade == upgrade
    state, admission = admit(state, 3, T0 + timedelta(seconds=1))
    assert admission.completed is not None and admission.completed.state == COMPLETED
    assert state.upgrade == admission.completed
    assert state.upgrade.finished_at == T0 + timedelta(seconds=1)
