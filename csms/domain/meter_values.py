"""Version-neutral meter samples and the energy arithmetic built on them."""

from __future__ import annotations

from collections.abc import Iterable
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


def parse_decimal(text: str | float | int) -> Decimal | None:
    """A sampled value as a Decimal, or None when it is not a plain number (e.g. signed)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


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
