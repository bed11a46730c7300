"""Currencies and the one rounding rule for money.

Money is :class:`~decimal.Decimal`, never float. An amount is rounded exactly once, to the
currency's minor unit (ISO 4217 as CLDR/babel knows it: JPY 0 decimals, EUR 2, KWD 3), by
:func:`round_to_minor_unit`; every other function that produces an amount calls it.

Pure: no I/O.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision

ROUNDING_MODES = frozenset(
    {
        decimal.ROUND_HALF_UP,
        decimal.ROUND_HALF_EVEN,
        decimal.ROUND_HALF_DOWN,
        decimal.ROUND_UP,
        decimal.ROUND_DOWN,
        decimal.ROUND_CEILING,
        decimal.ROUND_FLOOR,
    }
)
"""The rounding modes an operator may choose for amounts (``decimal`` constants)."""

# Enough digits that an exact ratio (Fraction) turned into a Decimal keeps every digit the
# later rounding to a minor unit can look at; ROUND_05UP makes that first step "sticky" (it
# never turns an inexact value into an exact one), so rounding twice equals rounding once.
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_05UP, Emax=999_999, Emin=-999_999)


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes of currencies that are (or were) legal tender in some territory.

    From CLDR through babel: funds, precious metals, ``XXX`` (no currency) and ``XTS``
    (testing) are not money and are not in it.
    """
    table: Mapping[str, list[tuple[str, object, object, bool]]] = get_global("territory_currencies")
    return frozenset(code for rows in table.values() for code, _, _, tender in rows if tender)


def is_currency(code: str) -> bool:
    return code in currencies()


def minor_unit_places(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


def exact_decimal(value: Fraction | Decimal | int) -> Decimal:
    """``value`` as a Decimal with enough digits for any later rounding to be exact."""
    if isinstance(value, Fraction):
        return _EXACT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return Decimal(value)


def round_to_minor_unit(
    amount: Fraction | Decimal, currency: str, rounding: str = decimal.ROUND_HALF_UP
) -> Decimal:
    """THE rounding rule for money: ``amount`` to the currency's minor unit with ``rounding``.

    ``amount`` may be an exact ratio (a volume x a unit price); it is rounded once, from its
    exact value.
    """
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    exponent = Decimal(1).scaleb(-minor_unit_places(currency))
    return exact_decimal(amount).quantize(exponent, rounding=rounding)


def format_amount(amount: Decimal, currency: str) -> str:
    """``amount`` printed with the currency's minor units ("0.25", "30", "1.250")."""
    return f"{round_to_minor_unit(amount, currency):f}"
