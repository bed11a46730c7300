"""Version-neutral meter samples and the energy arithmetic built on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ENERGY_REGISTER = "Energy.Active.Import.Register"
DEFAULT_MEASURAND = ENERGY_REGISTER

_WH_FACTOR = {"Wh": Decimal(1), "kWh": Decimal(1000)}


@dataclass(slots=True)  # not frozen: one per sampled value (transactions.HOT_PATH)
class MeterSample:
    sampled_at: datetime
    measurand: str
    phase: str
    location: str
    context: str
    unit: str
    value: Decimal | None
    raw_value: str | None
    signed: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """The samples of one message for one EVSE and connector of a charger (their session,
    if any, is the event they are recorded with)."""

    charge_point_id: str
    evse_id: int
    connector_id: int
    samples: Sequence[MeterSample]


# A sampled value further from 1 than 10^±38 is not a measurement (the register of the
# biggest charger in Wh is ~10^12): it is kept as text, never as a number the database would
# have to hold (numeric overflows, and one bad row must not fail others' rows).
MAX_EXPONENT = 38


def _plausible(value: Decimal) -> bool:
    return (
        value.is_finite()
        and abs(value.adjusted()) <= MAX_EXPONENT
        and (
            value.as_tuple().exponent >= -2 * MAX_EXPONENT  # type: ignore[operator]
        )
    )


def parse_decimal(text: str | float | int) -> Decimal | None:
    """A sampled value as a Decimal, or None when it is not a plain, plausible number (e.g.
    signed data, "NaN", "-1e999999")."""
    digits = str(text)
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    if value.is_zero():
        return Decimal(0)  # "0E-9999" would ask the database for 9,999 decimals
    if len(digits) <= _SHORT and "e" not in digits and "E" not in digits:
        # the common case, cheaply: a short plain number is within every bound (a sampled
        # value is ~2% of a 2.0.1 message's CPU); NaN and Infinity are not finite
        return value if value.is_finite() else None
    return value if _plausible(value) else None


# a plain number (no exponent) this long has at most this many digits either side of the
# point: within MAX_EXPONENT by far
_SHORT = 30


def scaled(value: Decimal, multiplier: int) -> Decimal | None:
    """``value`` times 10^``multiplier`` (2.0.1 UnitOfMeasure), None if not plausible."""
    if abs(multiplier) > 2 * MAX_EXPONENT:
        return None
    result = value.scaleb(multiplier)
    return result if _plausible(result) else None


def register_wh(sample: MeterSample) -> Decimal | None:
    """The energy import register in Wh, or None if ``sample`` is not one."""
    if sample.measurand != ENERGY_REGISTER or sample.value is None or sample.phase:
        return None
    factor = _WH_FACTOR.get(sample.unit or "Wh")
    return None if factor is None else sample.value * factor


def first_and_last_register_wh(
    samples: Iterable[MeterSample],
) -> tuple[Decimal | None, Decimal | None]:
    """The earliest and latest energy register readings (by sample time), in Wh."""
    readings = sorted((s.sampled_at, wh) for s in samples if (wh := register_wh(s)) is not None)
    if not readings:
        return None, None
    return readings[0][1], readings[-1][1]
