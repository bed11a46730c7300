"""Currencies and the one rounding rule."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain.money import is_currency, minor_unit_places, round_to_minor_unit


@pytest.mark.parametrize(("code", "places"), [("EUR", 2), ("JPY", 0), ("KWD", 3), ("USD", 2)])
def test_minor_units(code: str, places: int) -> None:
    assert is_currency(code)
    assert minor_unit_places(code) == places


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "eur", "EURO", "", "ABC"])
def test_not_money(code: str) -> None:
    assert not is_currency(code)


def test_an_exact_ratio_is_rounded_once() -> None:
    # 1/3 h x 0.015 EUR/h = 0.005 exactly: half up is 0.01, never the 0.00 that rounding
    # 0.333333333 h first would give
    assert round_to_minor_unit(Fraction(1, 3) * Fraction("0.015"), "EUR") == Decimal("0.01")
    assert round_to_minor_unit(Fraction(1, 3), "EUR", decimal.ROUND_UP) == Decimal("0.34")
    assert round_to_minor_unit(Fraction(1, 3), "KWD") == Decimal("0.333")
    assert round_to_minor_unit(Decimal("2.5"), "JPY", decimal.ROUND_HALF_EVEN) == Decimal(2)


def test_an_unknown_rounding_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="rounding"):
        round_to_minor_unit(Decimal(1), "EUR", "half-up")


@given(
    st.fractions(min_value=0, max_value=10**9, max_denominator=10**12),
    st.sampled_from(["EUR", "JPY", "KWD"]),
    st.sampled_from([decimal.ROUND_HALF_UP, decimal.ROUND_HALF_EVEN, decimal.ROUND_HALF_DOWN]),
)
def test_half_rounding_moves_an_amount_at_most_half_a_minor_unit(
    amount: Fraction, currency: str, rounding: str
) -> None:
    rounded = round_to_minor_unit(amount, currency, rounding)
    half = Fraction(1, 2 * 10 ** minor_unit_places(currency))
    assert abs(Fraction(rounded) - amount) <= half
    assert rounded.as_tuple().exponent == -minor_unit_places(currency)
