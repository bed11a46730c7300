"""Tariffs, shaped after the OCPI 2.2.1 Tariff module: the model, its JSON, its display text.

A :class:`Tariff` is a currency and an ordered list of :class:`TariffElement`; each element
has price components (one per :class:`Dimension` at most) and optional
:class:`Restrictions` saying when the element applies. For every stretch of a session and
every dimension, the FIRST element in list order that prices the dimension and whose
restrictions match applies (OCPI: "only the first valid element of each"); with none, that
dimension is free. :mod:`csms.domain.cost` prices a session with these rules.

Restriction semantics (all ranges are ``[min, max)``: the minimum inclusive, the maximum
exclusive, as OCPI words min/max_duration):

- ``start_time``/``end_time``: the site's local wall-clock time of day; ``end_time`` before
  ``start_time`` wraps over midnight (22:00-06:00), ``end_time`` 00:00 means midnight at the
  end of the day; equal times are refused (all day or never?).
- ``start_date``/``end_date``: local dates, the end exclusive.
- ``day_of_week``: the local date's weekday (0=Monday); each restriction is checked on its
  own, so 22:00-06:00 with MONDAY matches Monday 23:00 but not Tuesday 02:00.
- ``min/max_kwh``: the session's energy so far; ``min/max_duration``: seconds since start;
  ``min/max_power``: kW over the stretch; ``min/max_current``: A, summed over phases. An
  element restricted on power or current does not match where that is not known.

Ambiguity. Two elements that match at the same moment and price the same dimension are not
ambiguous (the first wins). What :func:`parse_tariff` refuses is an element (or one of its
price components) that can NEVER apply: a component for dimension D at ``elements[j]`` is
dead when an earlier ``elements[i]`` prices D and matches wherever ``elements[j]`` matches,
which is proved field by field: ``elements[i]`` has no restriction, or each restriction it
has contains ``elements[j]``'s restriction of the same field (time window, date range,
weekdays, each ``[min, max)`` range). This is sufficient, not necessary: a tariff whose dead
element hides behind a combination of fields is accepted (and priced by the first-match
rule). A dimension priced twice in one element is refused the same way.

Validation refuses, naming the field path (``elements[1].price_components[0].price: must not
be negative``): an unknown currency, a negative price, a VAT rate outside 0..100, a
``step_size`` below 1 (``FLAT`` may have 0: it has no unit), malformed times and dates, an
empty or reversed range, no elements, an element without components, unknown keys (typos are
errors; OCPI fields this model does not hold, such as ``id`` or ``start_date_time``, too), a
price cap without ``incl_vat`` when components carry VAT, and dead elements.

Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

from csms.domain.money import is_currency, minor_unit_places
from csms.errors import InvalidInput


class Dimension(Enum):
    """What a price component prices (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"  # per kWh; step_size in Wh
    FLAT = "FLAT"  # per session; no unit
    PARKING_TIME = "PARKING_TIME"  # per hour not charging; step_size in seconds
    TIME = "TIME"  # per hour charging; step_size in seconds


WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(frozen=True, slots=True)
class Price:
    excl_vat: Decimal
    incl_vat: Decimal | None


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str  # ISO 639-1, lower case
    text: str


@dataclass(frozen=True, slots=True)
class PriceComponent:
    type: Dimension
    price: Decimal  # excl. VAT, per kWh / per hour / per session
    vat: Decimal | None  # percent; None: no VAT applies (not the same as 0 %)
    step_size: int  # Wh for ENERGY, seconds for TIME and PARKING_TIME


@dataclass(frozen=True, slots=True)
class Restrictions:
    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None  # seconds
    max_duration: int | None = None  # seconds
    day_of_week: frozenset[int] = frozenset()  # 0=Monday; empty: every day

    def time_window(self) -> tuple[tuple[int, int], ...]:
        """The time-of-day window as ``[start, end)`` second ranges within one day."""
        start = _seconds_of_day(self.start_time) if self.start_time is not None else 0
        end = _seconds_of_day(self.end_time) if self.end_time is not None else 0
        end = end or _DAY  # 00:00 as an end is midnight at the end of the day
        if start < end:
            return ((start, end),)
        return ((start, _DAY), (0, end))

    def weekdays(self) -> frozenset[int]:
        return self.day_of_week or _ALL_DAYS


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None

    def component(self, dimension: Dimension) -> PriceComponent | None:
        """This element's price for ``dimension`` (at most one; validation sees to it)."""
        for component in self.price_components:
            if component.type is dimension:
                return component
        return None


@dataclass(frozen=True, slots=True)
class Tariff:
    currency: str  # ISO 4217
    elements: tuple[TariffElement, ...]
    min_price: Price | None
    max_price: Price | None
    texts: tuple[DisplayText, ...]  # OCPI tariff_alt_text
    idle_grace_minutes: int = 0  # not-charging minutes before PARKING_TIME is billed

    def has_vat(self) -> bool:
        return any(c.vat is not None for e in self.elements for c in e.price_components)


_DAY = 24 * 3600
_ALL_DAYS = frozenset(range(7))


def _seconds_of_day(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


# ---------------------------------------------------------------------------------- parsing

_TARIFF_KEYS = frozenset(
    {"currency", "elements", "min_price", "max_price", "tariff_alt_text", "idle_grace_minutes"}
)
_ELEMENT_KEYS = frozenset({"price_components", "restrictions"})
_COMPONENT_KEYS = frozenset({"type", "price", "vat", "step_size"})
_PRICE_KEYS = frozenset({"excl_vat", "incl_vat"})
_TEXT_KEYS = frozenset({"language", "text"})
_RANGES = (
    ("min_kwh", "max_kwh"),
    ("min_current", "max_current"),
    ("min_power", "max_power"),
    ("min_duration", "max_duration"),
)
_RESTRICTION_KEYS = frozenset(
    {"start_time", "end_time", "start_date", "end_date", "day_of_week"}
    | {name for pair in _RANGES for name in pair}
)
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")  # ASCII digits only
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LANGUAGE = re.compile(r"[A-Za-z]{2}")
_MAX_EXPONENT = 15  # |a number| within 10^±15: enough for any price, energy or duration
MAX_TEXT = 512  # OCPI DisplayText.text, and the limit of a 2.0.1 personalMessage


def _fail(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}" if path else message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _object(value: object, path: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path or "tariff", "must be an object")
    for key in value:
        if key not in keys:
            raise _fail(_join(path, str(key)), "unknown field")
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise _fail(path, "must be a list")
    return value


def _decimal(value: object, path: str) -> Decimal:
    """A JSON number or a numeric string, exactly (a float goes through its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise _fail(path, "must be a number")
    text = value if isinstance(value, str) else str(value)
    if not _NUMBER.fullmatch(text):
        raise _fail(path, "must be a number")
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise _fail(path, "must be a number") from None
    if not number.is_zero() and abs(number.adjusted()) > _MAX_EXPONENT:
        raise _fail(path, "out of range")
    return number + 0 if number.is_zero() else number  # -0 is 0


def _integer(value: object, path: str) -> int:
    number = _decimal(value, path)
    if number != number.to_integral_value():
        raise _fail(path, "must be a whole number")
    return int(number)


def _non_negative(number: Decimal, path: str) -> Decimal:
    if number < 0:
        raise _fail(path, "must not be negative")
    return number


def _time_of_day(value: object, path: str) -> time:
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise _fail(path, 'must be a time "HH:MM" (00:00-23:59)')
    return time(int(value[:2]), int(value[3:]))


def _date(value: object, path: str) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail(path, 'must be a date "YYYY-MM-DD"')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(path, 'must be a date "YYYY-MM-DD"') from None


def _amount(value: object, path: str, currency: str) -> Decimal:
    amount = _non_negative(_decimal(value, path), path)
    places = minor_unit_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise _fail(path, f"must have at most {places} decimals ({currency})")
    return amount


def _price(value: object, path: str, currency: str, has_vat: bool) -> Price:
    data = _object(value, path, _PRICE_KEYS)
    if data.get("excl_vat") is None:
        raise _fail(_join(path, "excl_vat"), "required")
    excl = _amount(data["excl_vat"], _join(path, "excl_vat"), currency)
    incl = None
    if data.get("incl_vat") is not None:
        incl = _amount(data["incl_vat"], _join(path, "incl_vat"), currency)
        if incl < excl:
            raise _fail(_join(path, "incl_vat"), "must not be less than excl_vat")
        if not has_vat and incl != excl:
            raise _fail(_join(path, "incl_vat"), "must equal excl_vat: no component has VAT")
    elif has_vat:
        # with it, a capped total has both amounts and its VAT is their difference
        raise _fail(_join(path, "incl_vat"), "required when price components carry VAT")
    return Price(excl, incl)


def _component(value: object, path: str) -> PriceComponent:
    data = _object(value, path, _COMPONENT_KEYS)
    for key in ("type", "price", "step_size"):
        if data.get(key) is None:
            raise _fail(_join(path, key), "required")
    try:
        dimension = Dimension(data["type"])
    except ValueError:
        names = ", ".join(d.value for d in Dimension)
        raise _fail(_join(path, "type"), f"must be one of {names}") from None
    price = _non_negative(_decimal(data["price"], _join(path, "price")), _join(path, "price"))
    vat = None
    if data.get("vat") is not None:
        vat = _decimal(data["vat"], _join(path, "vat"))
        if not 0 <= vat <= 100:
            raise _fail(_join(path, "vat"), "must be between 0 and 100 (percent)")
    step_size = _integer(data["step_size"], _join(path, "step_size"))
    if step_size < (0 if dimension is Dimension.FLAT else 1):
        raise _fail(_join(path, "step_size"), "must be at least 1")
    return PriceComponent(dimension, price, vat, step_size)


def _restrictions(value: object, path: str) -> Restrictions | None:
    data = _object(value, path, _RESTRICTION_KEYS)
    fields: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        if data.get(key) is not None:
            fields[key] = _time_of_day(data[key], _join(path, key))
    if fields.get("start_time") is not None and fields.get("start_time") == fields.get("end_time"):
        raise _fail(_join(path, "end_time"), "must differ from start_time")
    for key in ("start_date", "end_date"):
        if data.get(key) is not None:
            fields[key] = _date(data[key], _join(path, key))
    if (
        "start_date" in fields
        and "end_date" in fields
        and fields["end_date"] <= fields["start_date"]
    ):
        raise _fail(_join(path, "end_date"), "must be after start_date (it is exclusive)")
    for low, high in _RANGES:
        for key in (low, high):
            if data.get(key) is not None:
                number = _non_negative(_decimal(data[key], _join(path, key)), _join(path, key))
                fields[key] = _integer(number, _join(path, key)) if "duration" in key else number
        if low in fields and high in fields and fields[low] >= fields[high]:
            raise _fail(_join(path, low), f"must be less than {high}")
    if data.get("day_of_week") is not None:
        days: set[int] = set()
        for index, name in enumerate(_list(data["day_of_week"], _join(path, "day_of_week"))):
            if name not in WEEKDAYS:
                raise _fail(f"{path}.day_of_week[{index}]", "must be MONDAY ... SUNDAY")
            days.add(WEEKDAYS.index(name))
        fields["day_of_week"] = frozenset(days)
    restrictions = Restrictions(**fields)
    return None if restrictions == Restrictions() else restrictions


def _element(value: object, path: str) -> TariffElement:
    data = _object(value, path, _ELEMENT_KEYS)
    raw = _list(data.get("price_components"), _join(path, "price_components"))
    if not raw:
        raise _fail(_join(path, "price_components"), "at least one price component is required")
    components = tuple(
        _component(item, f"{path}.price_components[{i}]") for i, item in enumerate(raw)
    )
    seen: set[Dimension] = set()
    for index, component in enumerate(components):
        if component.type in seen:
            raise _fail(
                f"{path}.price_components[{index}]",
                f"never applies: {component.type.value} is priced twice in this element",
            )
        seen.add(component.type)
    restrictions = None
    if data.get("restrictions") is not None:
        restrictions = _restrictions(data["restrictions"], _join(path, "restrictions"))
    return TariffElement(components, restrictions)


def _text(value: object, path: str) -> DisplayText:
    data = _object(value, path, _TEXT_KEYS)
    language, text = data.get("language"), data.get("text")
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise _fail(_join(path, "language"), "must be a two-letter ISO 639-1 code")
    if not isinstance(text, str) or not text.strip():
        raise _fail(_join(path, "text"), "must be a non-empty text")
    if len(text) > MAX_TEXT:
        raise _fail(_join(path, "text"), f"must be at most {MAX_TEXT} characters")
    return DisplayText(language.lower(), text)


def parse_tariff(data: Mapping[str, Any]) -> Tariff:
    """The tariff an operator posted, validated; :class:`InvalidInput` names the bad field."""
    data = _object(data, "", _TARIFF_KEYS)
    currency = data.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        raise _fail("currency", "must be an ISO 4217 currency code (e.g. EUR)")
    raw = _list(data.get("elements"), "elements")
    if not raw:
        raise _fail("elements", "at least one element is required")
    elements = tuple(_element(item, f"elements[{i}]") for i, item in enumerate(raw))
    _refuse_dead_components(elements)
    has_vat = any(c.vat is not None for e in elements for c in e.price_components)
    caps = {
        key: _price(data[key], key, currency, has_vat) if data.get(key) is not None else None
        for key in ("min_price", "max_price")
    }
    low, high = caps["min_price"], caps["max_price"]
    if low is not None and high is not None:
        if low.excl_vat > high.excl_vat:
            raise _fail("min_price.excl_vat", "must not exceed max_price.excl_vat")
        if low.incl_vat is not None and high.incl_vat is not None and low.incl_vat > high.incl_vat:
            raise _fail("min_price.incl_vat", "must not exceed max_price.incl_vat")
    texts = tuple(
        _text(item, f"tariff_alt_text[{i}]")
        for i, item in enumerate(_list(data.get("tariff_alt_text", []), "tariff_alt_text"))
    )
    grace = _integer(data.get("idle_grace_minutes", 0), "idle_grace_minutes")
    if grace < 0:
        raise _fail("idle_grace_minutes", "must not be negative")
    return Tariff(currency, elements, low, high, texts, grace)


# --------------------------------------------------------------------------------- ambiguity


def covers(outer: Restrictions | None, inner: Restrictions | None) -> bool:
    """Whether ``outer`` matches wherever ``inner`` does, provably field by field."""
    if outer is None:
        return True
    if inner is None:
        inner = Restrictions()
    if (outer.start_time, outer.end_time) != (None, None) and not all(
        any(o_start <= start and end <= o_end for o_start, o_end in outer.time_window())
        for start, end in inner.time_window()
    ):
        return False
    if outer.start_date is not None and (
        inner.start_date is None or inner.start_date < outer.start_date
    ):
        return False
    if outer.end_date is not None and (inner.end_date is None or inner.end_date > outer.end_date):
        return False
    if not inner.weekdays() <= outer.weekdays():
        return False
    for low, high in _RANGES:
        o_low, o_high = getattr(outer, low), getattr(outer, high)
        if o_low is None and o_high is None:
            continue
        i_low, i_high = getattr(inner, low), getattr(inner, high)
        if i_low is None and i_high is None:
            return False  # inner also matches where the quantity is not known
        if o_low is not None and (i_low is None or i_low < o_low):
            return False
        if o_high is not None and (i_high is None or i_high > o_high):
            return False
    return True


def _refuse_dead_components(elements: tuple[TariffElement, ...]) -> None:
    for j, element in enumerate(elements):
        dead: list[tuple[int, PriceComponent, int]] = []
        for k, component in enumerate(element.price_components):
            for i in range(j):
                if elements[i].component(component.type) is not None and covers(
                    elements[i].restrictions, element.restrictions
                ):
                    dead.append((k, component, i))
                    break
        if not dead:
            continue
        k, component, i = dead[0]
        how = "unrestricted" if elements[i].restrictions is None else "wherever it applies"
        why = f"never applies: elements[{i}] prices {component.type.value} {how} before it"
        if len(dead) == len(element.price_components):
            raise _fail(f"elements[{j}]", why)
        raise _fail(f"elements[{j}].price_components[{k}]", why)


# ------------------------------------------------------------------------------------- JSON


def _number(value: Decimal) -> str:
    return str(value)


def _price_json(price: Price) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": _number(price.excl_vat)}
    if price.incl_vat is not None:
        out["incl_vat"] = _number(price.incl_vat)
    return out


def _restrictions_json(r: Restrictions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("start_time", "end_time"):
        value = getattr(r, key)
        if value is not None:
            out[key] = value.strftime("%H:%M")
    for key in ("start_date", "end_date"):
        value = getattr(r, key)
        if value is not None:
            out[key] = value.isoformat()
    for low, high in _RANGES:
        for key in (low, high):
            value = getattr(r, key)
            if value is not None:
                out[key] = value if isinstance(value, int) else _number(value)
    if r.day_of_week:
        out["day_of_week"] = [WEEKDAYS[d] for d in sorted(r.day_of_week)]
    return out


def tariff_to_json(tariff: Tariff) -> dict[str, Any]:
    """The JSON :func:`parse_tariff` reads (Decimals as strings): parse(to_json(t)) == t."""
    elements = []
    for element in tariff.elements:
        item: dict[str, Any] = {
            "price_components": [
                {
                    "type": c.type.value,
                    "price": _number(c.price),
                    **({"vat": _number(c.vat)} if c.vat is not None else {}),
                    "step_size": c.step_size,
                }
                for c in element.price_components
            ]
        }
        if element.restrictions is not None:
            item["restrictions"] = _restrictions_json(element.restrictions)
        elements.append(item)
    out: dict[str, Any] = {"currency": tariff.currency, "elements": elements}
    if tariff.min_price is not None:
        out["min_price"] = _price_json(tariff.min_price)
    if tariff.max_price is not None:
        out["max_price"] = _price_json(tariff.max_price)
    if tariff.texts:
        out["tariff_alt_text"] = [{"language": t.language, "text": t.text} for t in tariff.texts]
    if tariff.idle_grace_minutes:
        out["idle_grace_minutes"] = tariff.idle_grace_minutes
    return out


# ---------------------------------------------------------------------------------- display

_UNITS = {
    Dimension.FLAT: " start",
    Dimension.ENERGY: "/kWh",
    Dimension.TIME: "/h",
    Dimension.PARKING_TIME: "/h idle",
}
_DISPLAY_ORDER = (Dimension.FLAT, Dimension.ENERGY, Dimension.TIME, Dimension.PARKING_TIME)
_MAX_UNIT_PRICE_PLACES = 4  # 0.2975 EUR/kWh stays 0.2975; more digits only clutter a display


def _display_price(component: PriceComponent, currency: str) -> str:
    """A unit price incl. VAT (what a driver pays) with the currency's minor units, or up to
    four decimals when a per-unit price needs them."""
    price = component.price
    if component.vat is not None:
        price = price * (100 + component.vat) / 100
    places = minor_unit_places(currency)
    exact = price.quantize(Decimal(1).scaleb(-_MAX_UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP)
    shown = exact.normalize()
    exponent = shown.as_tuple().exponent
    digits = max(places, -exponent if isinstance(exponent, int) else 0)
    return f"{exact.quantize(Decimal(1).scaleb(-digits)):f}"


def display_text(tariff: Tariff, language: str | None = None) -> str:
    """A short price text for a charger's display, e.g. "0.25 EUR/kWh + 1.00 EUR/h idle after
    30 min".

    The operator's ``tariff_alt_text`` in ``language`` when there is one; else derived from
    the first unrestricted price component of each dimension (prices incl. VAT, a FLAT as
    "start", free components left out), or the first non-zero one where every price of the
    dimension is restricted; "(varies)" follows when some price of a shown dimension has
    restrictions; "Free" when nothing costs. At most :data:`MAX_TEXT` characters (the 2.0.1
    personalMessage limit); a simple tariff fits in 40.
    """
    if language is not None:
        for alternative in tariff.texts:
            if alternative.language == language.lower():
                return alternative.text
    parts: list[str] = []
    varies = False
    for dimension in _DISPLAY_ORDER:
        candidates = [e for e in tariff.elements if e.component(dimension) is not None]
        element = next((e for e in candidates if e.restrictions is None), None)
        if element is None:
            element = next((e for e in candidates if _price_of(e, dimension) > 0), None)
        varies = varies or any(e.restrictions is not None for e in candidates)
        if element is None or _price_of(element, dimension) == 0:
            continue
        component = element.component(dimension)
        assert component is not None
        text = f"{_display_price(component, tariff.currency)} {tariff.currency}"
        text += _UNITS[dimension]
        if dimension is Dimension.PARKING_TIME and tariff.idle_grace_minutes:
            text += f" after {tariff.idle_grace_minutes} min"
        parts.append(text)
    text = " + ".join(parts) or "Free"
    text += " (varies)" if varies else ""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def _price_of(element: TariffElement, dimension: Dimension) -> Decimal:
    component = element.component(dimension)
    return component.price if component is not None else Decimal(0)
