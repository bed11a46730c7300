"""Session energy from meter start and stop: flagged, never negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.transactions import (
    FLAG_METER_STOP_BELOW_START,
    FLAG_NO_METER_READING,
    Energy,
    session_energy,
)


def test_energy_is_stop_minus_start() -> None:
    assert session_energy(Decimal(1000), Decimal(8500)) == Energy(Decimal(7500), ())


def test_equal_readings_are_zero_without_flag() -> None:
    assert session_energy(Decimal(42), Decimal(42)) == Energy(Decimal(0), ())


def test_fractional_readings_are_exact() -> None:
    energy = session_energy(Decimal("0.1"), Decimal("0.3"))
    assert energy.energy_wh == Decimal("0.2")


def test_stop_below_start_is_flagged_and_counts_zero() -> None:
    """A meter replaced or reset mid-session must not bill negative energy."""
    energy = session_energy(Decimal(5000), Decimal(4999))
    assert energy == Energy(Decimal(0), (FLAG_METER_STOP_BELOW_START,))


@pytest.mark.parametrize(("start", "stop"), [(None, Decimal(1)), (Decimal(1), None), (None, None)])
def test_missing_reading_gives_no_energy_and_a_flag(
    start: Decimal | None, stop: Decimal | None
) -> None:
    assert session_energy(start, stop) == Energy(None, (FLAG_NO_METER_READING,))


def test_zero_start_is_a_reading_not_a_missing_one() -> None:
    assert session_energy(Decimal(0), Decimal(10)) == Energy(Decimal(10), ())


@given(
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=3),
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=3),
)
def test_energy_is_never_negative(start: Decimal, stop: Decimal) -> None:
    energy = session_energy(start, stop)
    assert energy.energy_wh is not None and energy.energy_wh >= 0
    assert (FLAG_METER_STOP_BELOW_START in energy.flags) == (stop < start)
    if stop >= start:
        assert energy.energy_wh == stop - start
