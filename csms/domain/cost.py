"""The cost engine: what a session costs under a tariff, line by line (OCPI 2.2.1 rules).

:func:`cost` cuts the session into periods (:mod:`csms.domain.cost_periods`) and, for each
period and each dimension it consumes, takes the FIRST element in list order that prices
that dimension and whose restrictions match at the period's start:

- ``ENERGY`` where energy flows (kWh), charging or not;
- ``TIME`` while charging, ``PARKING_TIME`` while not charging (hours), except the first
  ``idle_grace_minutes`` of each not-charging stretch, which are not billed at all;
- ``FLAT`` once per session: in the first period for which some element prices FLAT.

The volumes are summed per (dimension, element) into a :class:`CostLine`, in the order the
lines first occur. Then ``step_size`` (OCPI 2.2.1, CDR module, "Step_size"), once per
session on totals:

- ``ENERGY``: the session's total energy is rounded up to a multiple of the ``step_size`` of
  the last ENERGY line (the element that priced the last energy); the extra goes to that
  line. (4.3 kWh at 0.20 then 1.1 kWh at 0.27, steps 500 Wh: 5.4 -> 5.5 kWh, the extra
  0.1 kWh at 0.27.)
- ``TIME`` and ``PARKING_TIME`` combined, once: when the session has a PARKING_TIME line,
  only the total parking time is rounded up, with the step of the last PARKING_TIME line;
  charging time is billed exactly ("Note that the charging duration is not rounded up, as
  it is followed by another time based period"). Without parking, the total charging time
  is rounded with the step of the last TIME line. The extra goes to that last line.

Money, stated once: a line's amount excl. VAT is its exact billed volume x unit price,
rounded to the currency's minor unit with ``rounding``
(:func:`csms.domain.money.round_to_minor_unit`); its VAT is that amount x the component's VAT
percentage, rounded the same way; incl. VAT is the sum. A component without VAT has VAT 0
(and ``vat_rate`` None). Totals are sums of lines; then ``min_price``/``max_price`` clamp the
total excl. VAT against the cap's ``excl_vat`` and the total incl. VAT against its
``incl_vat`` (each rule on its own, as OCPI says), and the total VAT becomes the difference
of the two: the caps carry both amounts whenever VAT applies (parse refuses one without), so
the VAT of a capped total is exactly the cap's. Lines are never changed by a cap; ``capped``
names the cap(s) that changed a total.

A line shows its volumes to 9 decimals (1 µWh, 3.6 µs); its amounts come from the exact
volumes.

Pure: no I/O.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from csms.domain.cost_periods import (
    CurrentSample,
    Period,
    Reading,
    StateChange,
    Timeline,
    cut,
    moment,
)
from csms.domain.money import ROUNDING_MODES, exact_decimal, round_to_minor_unit
from csms.domain.tariffs import Dimension, PriceComponent, Restrictions, Tariff

__all__ = [
    "CostBreakdown",
    "CostLine",
    "CurrentSample",
    "Reading",
    "StateChange",
    "Timeline",
    "cost",
]

VOLUME_PLACES = 9
_VOLUME_EXPONENT = Decimal(1).scaleb(-VOLUME_PLACES)
_PER_UNIT = {Dimension.ENERGY: Fraction(1, 1000), Dimension.TIME: Fraction(1, 3600)}
_PER_UNIT[Dimension.PARKING_TIME] = _PER_UNIT[Dimension.TIME]  # step_size unit -> kWh or h
_LINE_ORDER = (Dimension.FLAT, Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)


@dataclass(frozen=True, slots=True)
class CostLine:
    """What one element charged for one dimension over the session.

    ``volume`` is what was consumed (kWh, hours, or 1 for FLAT), ``billed_volume`` that
    after ``step_size``; ``unit_price`` is excl. VAT per kWh / hour / session; ``vat_rate``
    is a percentage (None: no VAT applies). ``started_at``/``ended_at`` span the periods
    the line covers (it may skip periods priced by other elements in between).
    """

    dimension: Dimension
    element: int
    volume: Decimal
    billed_volume: Decimal
    unit_price: Decimal
    excl_vat: Decimal
    vat_rate: Decimal | None
    vat: Decimal
    incl_vat: Decimal
    started_at: datetime
    ended_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension.value,
            "element": self.element,
            "volume": _text(self.volume),
            "billed_volume": _text(self.billed_volume),
            "unit_price": _text(self.unit_price),
            "excl_vat": _text(self.excl_vat),
            "vat_rate": None if self.vat_rate is None else _text(self.vat_rate),
            "vat": _text(self.vat),
            "incl_vat": _text(self.incl_vat),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostLine:
        return cls(
            dimension=Dimension(data["dimension"]),
            element=int(data["element"]),
            volume=Decimal(data["volume"]),
            billed_volume=Decimal(data["billed_volume"]),
            unit_price=Decimal(data["unit_price"]),
            excl_vat=Decimal(data["excl_vat"]),
            vat_rate=None if data.get("vat_rate") is None else Decimal(data["vat_rate"]),
            vat=Decimal(data["vat"]),
            incl_vat=Decimal(data["incl_vat"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
        )


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """The cost of a session: its lines and totals; ``capped`` is ``"min_price"``,
    ``"max_price"`` (or both, comma separated) when a cap changed a total, else None."""

    currency: str
    lines: tuple[CostLine, ...]
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    capped: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "lines": [line.to_json() for line in self.lines],
            "total_excl_vat": _text(self.total_excl_vat),
            "total_vat": _text(self.total_vat),
            "total_incl_vat": _text(self.total_incl_vat),
            "capped": self.capped,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostBreakdown:
        return cls(
            currency=str(data["currency"]),
            lines=tuple(CostLine.from_json(line) for line in data["lines"]),
            total_excl_vat=Decimal(data["total_excl_vat"]),
            total_vat=Decimal(data["total_vat"]),
            total_incl_vat=Decimal(data["total_incl_vat"]),
            capped=data.get("capped"),
        )


def _text(value: Decimal) -> str:
    return f"{value:f}"


# ---------------------------------------------------------------------------- the matching


Bounds = tuple[Fraction | None, Fraction | None]


def _bounds(low: Decimal | int | None, high: Decimal | int | None) -> Bounds | None:
    if low is None and high is None:
        return None
    return (None if low is None else Fraction(low), None if high is None else Fraction(high))


def _in_range(value: Fraction | None, bounds: Bounds | None) -> bool:
    if bounds is None:
        return True
    if value is None:
        return False  # not known: a restriction on it cannot be shown to hold
    low, high = bounds
    return (low is None or value >= low) and (high is None or value < high)


@dataclass(frozen=True, slots=True)
class _Rule:
    """An element's restrictions, ready to be asked about many periods."""

    restrictions: Restrictions
    window: tuple[tuple[int, int], ...] | None
    weekdays: frozenset[int]
    kwh: Bounds | None
    duration: Bounds | None
    power: Bounds | None
    current: Bounds | None

    @classmethod
    def of(cls, r: Restrictions) -> _Rule:
        timed = r.start_time is not None or r.end_time is not None
        return cls(
            r,
            r.time_window() if timed else None,
            r.weekdays(),
            _bounds(r.min_kwh, r.max_kwh),
            _bounds(r.min_duration, r.max_duration),
            _bounds(r.min_power, r.max_power),
            _bounds(r.min_current, r.max_current),
        )

    def matches(self, period: Period) -> bool:
        local, r = period.local, self.restrictions
        if self.window is not None:
            second = local.hour * 3600 + local.minute * 60 + local.second
            if not any(a <= second < b for a, b in self.window):
                return False
        if r.start_date is not None and local.date() < r.start_date:
            return False
        if r.end_date is not None and local.date() >= r.end_date:
            return False
        return (
            local.weekday() in self.weekdays
            and _in_range(period.session_wh / 1000, self.kwh)
            and _in_range(period.start, self.duration)
            and _in_range(period.power_kw, self.power)
            and _in_range(period.current_a, self.current)
        )


def matches(restrictions: Restrictions | None, period: Period) -> bool:
    """Whether an element with ``restrictions`` applies during ``period``."""
    return restrictions is None or _Rule.of(restrictions).matches(period)


class _FirstMatch:
    """For a period and a dimension: the first element that prices it and matches."""

    def __init__(self, tariff: Tariff) -> None:
        self.candidates = {
            dimension: [
                (index, component, None if e.restrictions is None else _Rule.of(e.restrictions))
                for index, e in enumerate(tariff.elements)
                if (component := e.component(dimension)) is not None
            ]
            for dimension in Dimension
        }

    def __call__(
        self, dimension: Dimension, period: Period, seen: dict[int, bool]
    ) -> tuple[int, PriceComponent] | None:
        for index, component, rule in self.candidates[dimension]:
            if rule is None:
                return index, component
            matched = seen.get(index)
            if matched is None:
                matched = seen[index] = rule.matches(period)
            if matched:
                return index, component
        return None


# ------------------------------------------------------------------------------- the lines


@dataclass(slots=True)
class _Line:
    dimension: Dimension
    element: int
    component: PriceComponent
    volume: Fraction
    start: Fraction
    end: Fraction
    extra: Fraction = Fraction(0)


def _collect(tariff: Tariff, periods: list[Period]) -> dict[tuple[Dimension, int], _Line]:
    lines: dict[tuple[Dimension, int], _Line] = {}
    last: dict[Dimension, tuple[Dimension, int]] = {}
    first_match = _FirstMatch(tariff)

    def add(dimension: Dimension, period: Period, volume: Fraction, seen: dict[int, bool]) -> bool:
        found = first_match(dimension, period, seen)
        if found is None:
            return False
        index, component = found
        line = lines.get((dimension, index))
        if line is None:
            end = period.start if dimension is Dimension.FLAT else period.end  # a fee: a moment
            lines[(dimension, index)] = _Line(
                dimension, index, component, volume, period.start, end
            )
        else:
            line.volume += volume
            line.end = period.end
        last[dimension] = (dimension, index)
        return True

    flat_billed = False
    for period in periods:
        seen: dict[int, bool] = {}  # element index -> matches this period
        if not flat_billed:
            flat_billed = add(Dimension.FLAT, period, Fraction(1), seen)
        if period.energy_wh > 0:
            add(Dimension.ENERGY, period, period.energy_wh / 1000, seen)
        if period.end == period.start:
            continue  # the start of a session without periods: only FLAT
        if period.charging:
            add(Dimension.TIME, period, period.hours, seen)
        elif not period.in_grace:
            add(Dimension.PARKING_TIME, period, period.hours, seen)
    _apply_step_size(lines, last)
    return lines


def _round_up_total(
    lines: dict[tuple[Dimension, int], _Line], dimension: Dimension, last: tuple[Dimension, int]
) -> None:
    """Round the total volume of ``dimension`` up to the step of its last line, and bill the
    extra on that line."""
    step = lines[last].component.step_size * _PER_UNIT[dimension]
    volumes = (line.volume for line in lines.values() if line.dimension is dimension)
    total = sum(volumes, Fraction(0))
    lines[last].extra = math.ceil(total / step) * step - total


def _apply_step_size(
    lines: dict[tuple[Dimension, int], _Line], last: dict[Dimension, tuple[Dimension, int]]
) -> None:
    if Dimension.ENERGY in last:
        _round_up_total(lines, Dimension.ENERGY, last[Dimension.ENERGY])
    for dimension in (Dimension.PARKING_TIME, Dimension.TIME):
        if dimension in last:  # parking when there is any, else charging time: once
            _round_up_total(lines, dimension, last[dimension])
            break


# ------------------------------------------------------------------------------- the money


def _volume(value: Fraction) -> Decimal:
    shown = exact_decimal(value).quantize(_VOLUME_EXPONENT, rounding=decimal.ROUND_HALF_EVEN)
    shown = shown.normalize()  # no trailing zeros, but "20", never "2E+1"
    exponent = shown.as_tuple().exponent
    return shown.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else shown


def _instant(started: datetime, offset: Fraction) -> datetime:
    return started.astimezone(UTC) + timedelta(microseconds=int(offset * 1_000_000))


def _priced(line: _Line, tariff: Tariff, started: datetime, rounding: str) -> CostLine:
    billed = line.volume + line.extra
    component = line.component
    excl = round_to_minor_unit(billed * Fraction(component.price), tariff.currency, rounding)
    rate = component.vat if component.vat is not None else Decimal(0)
    vat = round_to_minor_unit(Fraction(excl) * Fraction(rate) / 100, tariff.currency, rounding)
    return CostLine(
        dimension=line.dimension,
        element=line.element,
        volume=_volume(line.volume),
        billed_volume=_volume(billed),
        unit_price=component.price,
        excl_vat=excl,
        vat_rate=component.vat,
        vat=vat,
        incl_vat=excl + vat,
        started_at=_instant(started, line.start),
        ended_at=_instant(started, line.end),
    )


def _capped(tariff: Tariff, excl: Decimal, incl: Decimal) -> tuple[Decimal, Decimal, str | None]:
    applied: list[str] = []
    low, high = tariff.min_price, tariff.max_price
    if low is not None:
        low_incl = low.incl_vat if low.incl_vat is not None else low.excl_vat
        if excl < low.excl_vat or incl < low_incl:
            excl, incl = max(excl, low.excl_vat), max(incl, low_incl)
            applied.append("min_price")
    if high is not None:
        high_incl = high.incl_vat if high.incl_vat is not None else high.excl_vat
        if excl > high.excl_vat or incl > high_incl:
            excl, incl = min(excl, high.excl_vat), min(incl, high_incl)
            applied.append("max_price")
    return excl, incl, ",".join(applied) or None


def cost(
    tariff: Tariff,
    timeline: Timeline,
    *,
    time_zone: ZoneInfo,
    rounding: str = decimal.ROUND_HALF_UP,
) -> CostBreakdown:
    """What ``timeline`` costs under ``tariff`` at a site in ``time_zone`` (see the module)."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    periods = cut(timeline, tariff, time_zone) or [moment(timeline, time_zone)]
    collected = _collect(tariff, periods)
    ordered = sorted(
        collected.values(), key=lambda line: (line.start, _LINE_ORDER.index(line.dimension))
    )
    lines = tuple(_priced(line, tariff, timeline.started_at, rounding) for line in ordered)
    excl = sum((line.excl_vat for line in lines), Decimal(0))
    incl = sum((line.incl_vat for line in lines), Decimal(0))
    excl, incl, capped = _capped(tariff, excl, incl)
    zero = round_to_minor_unit(Decimal(0), tariff.currency, rounding)
    excl, incl = excl + zero, incl + zero  # printed with the currency's places, always
    return CostBreakdown(tariff.currency, lines, excl, incl - excl, incl, capped)
