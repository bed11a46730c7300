"""What a charger shows a driver about prices and costs, either OCPP version. Pure: no I/O.

- :class:`DisplayCapability`: whether a charger can show them, read from what it reported
  (1.6 ``CustomDisplayCostAndPrice``, California Pricing; 2.0.1 ``TariffCostCtrlr``
  ``Enabled[Tariff]`` / ``Enabled[Cost]``, functional block I).
- :func:`unit_prices`: the prices that apply at a moment of a session (the 1.6
  ``RunningCost`` chargingPrice / idlePrice, ``DefaultPrice``), by the same first-match rule
  the cost engine prices with.
- :func:`receipt_text`: the final cost as one line (1.6 ``FinalCost.priceText``).
- :func:`utc_offset` / :func:`next_offset_change`: the 1.6 ``TimeOffset`` keys of a site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from csms.domain.cost import CostBreakdown, matches
from csms.domain.cost_periods import Period
from csms.domain.money import format_amount
from csms.domain.tariffs import Dimension, PriceComponent, Tariff

TRUE_VALUES = frozenset({"true", "1"})  # older libocpp reports booleans as 1/0
COSTMSG = "org.openchargealliance.costmsg"  # the California Pricing DataTransfer vendorId
CUSTOM_DISPLAY_KEY = "CustomDisplayCostAndPrice"
LANGUAGE_KEY = "Language"
SUPPORTED_LANGUAGES_KEY = "SupportedLanguages"
DECIMALS_KEY = "NumberOfDecimalsForCostValues"
MULTI_LANGUAGE_KEY = "CustomMultiLanguageMessages"
TARIFF_COST_CTRLR = "TariffCostCtrlr"
MAX_2_0_1_FALLBACK = 255  # TariffFallbackMessage, TotalCostFallbackMessage


@dataclass(frozen=True, slots=True)
class DisplayCapability:
    """What a charger said about its price display (``known`` False: it said nothing yet:
    nothing is sent until a push has asked it)."""

    known: bool
    tariff: bool = False  # shows prices (2.0.1 Enabled[Tariff]; 1.6 the extension)
    cost: bool = False  # shows costs (2.0.1 Enabled[Cost]; 1.6 the extension)
    language: str = "en"
    languages: tuple[str, ...] = ()  # others it can show (1.6 SupportedLanguages)
    multi_language: bool = False
    decimals: int | None = None  # 1.6 NumberOfDecimalsForCostValues (libocpp)

    @property
    def shows_anything(self) -> bool:
        return self.tariff or self.cost


UNKNOWN = DisplayCapability(known=False)


def capability_v16(keys: dict[str, str | None]) -> DisplayCapability:
    """From 1.6 configuration keys read from the charger (key -> value)."""
    if CUSTOM_DISPLAY_KEY not in keys:
        return UNKNOWN
    enabled = (keys[CUSTOM_DISPLAY_KEY] or "").strip().lower() in TRUE_VALUES
    languages = tuple(
        part.strip().lower()
        for part in (keys.get(SUPPORTED_LANGUAGES_KEY) or "").split(",")
        if part.strip()
    )
    decimals = (keys.get(DECIMALS_KEY) or "").strip()
    return DisplayCapability(
        known=True,
        tariff=enabled,
        cost=enabled,
        language=(keys.get(LANGUAGE_KEY) or "en").strip().lower() or "en",
        languages=languages,
        multi_language=(keys.get(MULTI_LANGUAGE_KEY) or "").strip().lower() in TRUE_VALUES,
        decimals=int(decimals) if decimals.isdigit() else None,
    )


def capability_v201(enabled: dict[str, str | None]) -> DisplayCapability:
    """From 2.0.1 ``TariffCostCtrlr.Enabled`` actual values by instance (``Tariff``,
    ``Cost``); an empty mapping: not reported."""
    if not enabled:
        return UNKNOWN
    return DisplayCapability(
        known=True,
        tariff=(enabled.get("Tariff") or "").strip().lower() in TRUE_VALUES,
        cost=(enabled.get("Cost") or "").strip().lower() in TRUE_VALUES,
    )


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """Prices incl. VAT (what a driver pays) that apply at one moment; None: not priced."""

    kwh: Decimal | None
    hour: Decimal | None  # charging
    flat: Decimal | None
    idle_hour: Decimal | None  # not charging (PARKING_TIME)
    grace_minutes: int

    @property
    def has_idle_fee(self) -> bool:
        return bool(self.idle_hour)


def _incl_vat(component: PriceComponent | None) -> Decimal | None:
    if component is None:
        return None
    price = component.price
    if component.vat is not None:
        price = price * (100 + component.vat) / 100
    return price.quantize(Decimal("0.0001")).normalize()


def unit_prices(
    tariff: Tariff,
    at: datetime,
    *,
    zone: ZoneInfo,
    started_at: datetime | None = None,
    session_wh: Decimal = Decimal(0),
    charging: bool = True,
) -> UnitPrices:
    """The first element of each dimension that applies at ``at`` (time of day, date and
    weekday in ``zone``; duration since ``started_at``; ``session_wh`` so far; power and
    current are not known here: elements restricted on them do not apply)."""
    elapsed = Fraction(0) if started_at is None else Fraction((at - started_at).total_seconds())
    period = Period(
        start=elapsed,
        end=elapsed + 1,
        local=at.astimezone(zone),
        charging=charging,
        in_grace=False,
        energy_wh=Fraction(0),
        session_wh=Fraction(session_wh),
        power_kw=None,
        current_a=None,
    )

    def first(dimension: Dimension) -> Decimal | None:
        for element in tariff.elements:
            component = element.component(dimension)
            if component is not None and matches(element.restrictions, period):
                return _incl_vat(component)
        return None

    return UnitPrices(
        kwh=first(Dimension.ENERGY),
        hour=first(Dimension.TIME),
        flat=first(Dimension.FLAT),
        idle_hour=first(Dimension.PARKING_TIME),
        grace_minutes=tariff.idle_grace_minutes,
    )


def receipt_text(breakdown: CostBreakdown, energy_wh: Decimal | None) -> str:
    """ "12.34 EUR incl. VAT: 23.40 kWh, 1:05 h (energy 10.00, time 2.34)" -- the final
    cost in one line, as short as a display needs."""
    currency = breakdown.currency
    parts = [f"{format_amount(breakdown.total_incl_vat, currency)} {currency} incl. VAT"]
    facts: list[str] = []
    if energy_wh is not None:
        facts.append(f"{(energy_wh / 1000).quantize(Decimal('0.01'))} kWh")
    if breakdown.lines:
        span = max(line.ended_at for line in breakdown.lines) - min(
            line.started_at for line in breakdown.lines
        )
        minutes = int(span.total_seconds() // 60)
        facts.append(f"{minutes // 60}:{minutes % 60:02d} h")
    if facts:
        parts.append(": " + ", ".join(facts))
    by_dimension: dict[str, Decimal] = {}
    for line in breakdown.lines:
        name = _LINE_NAMES[line.dimension]
        by_dimension[name] = by_dimension.get(name, Decimal(0)) + line.incl_vat
    shown = [f"{name} {format_amount(amount, currency)}" for name, amount in by_dimension.items()]
    if len(shown) > 1:
        parts.append(f" ({', '.join(shown)})")
    return "".join(parts)


_LINE_NAMES = {
    Dimension.FLAT: "start",
    Dimension.ENERGY: "energy",
    Dimension.TIME: "time",
    Dimension.PARKING_TIME: "idle",
}


def utc_offset(zone: ZoneInfo, at: datetime) -> str:
    """``+01:00``: the 1.6 ``TimeOffset`` of ``zone`` at ``at``."""
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def next_offset_change(zone: ZoneInfo, at: datetime, *, days: int = 400) -> datetime | None:
    """The next instant after ``at`` (within ``days``) at which ``zone``'s UTC offset
    changes (daylight saving time), to the minute; None: none."""
    current = at.astimezone(zone).utcoffset()
    step = timedelta(hours=1)
    moment = at.astimezone(UTC).replace(second=0, microsecond=0)
    end = moment + timedelta(days=days)
    while moment < end:
        later = moment + step
        if later.astimezone(zone).utcoffset() != current:
            low, high = moment, later  # the change is in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if middle.astimezone(zone).utcoffset() != current:
                    high = middle
                else:
                    low = middle
            return high
        moment = later
    return None


def languages_of(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.lower() for t in texts))
