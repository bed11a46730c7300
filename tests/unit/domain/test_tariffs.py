"""The tariff model: parsing with errors that name the field, the dead-element rule, JSON,
the display text."""

from __future__ import annotations

import copy
import json
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cost_helpers import component
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from csms.domain.tariffs import (
    MAX_TEXT,
    Dimension,
    DisplayText,
    Price,
    PriceComponent,
    Restrictions,
    Tariff,
    TariffElement,
    covers,
    display_text,
    parse_tariff,
    tariff_to_json,
)
from csms.errors import InvalidInput


def energy_tariff(**extra: Any) -> dict[str, Any]:
    return {
        "currency": "EUR",
        "elements": [{"price_components": [component("ENERGY", 0.25)]}],
        **extra,
    }


def test_a_full_tariff_parses_into_the_model() -> None:
    tariff = parse_tariff(
        {
            "currency": "EUR",
            "min_price": {"excl_vat": "0.50", "incl_vat": 0.6},
            "tariff_alt_text": [{"language": "NL", "text": "0,25 per kWh"}],
            "idle_grace_minutes": 30,
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.1, "vat": "20", "step_size": "1"}
                    ],
                    "restrictions": {
                        "start_time": "22:00",
                        "end_time": "06:00",
                        "start_date": "2025-01-01",
                        "end_date": "2026-01-01",
                        "min_power": 0,
                        "max_power": "11.5",
                        "min_duration": 60,
                        "day_of_week": ["SUNDAY", "MONDAY"],
                    },
                },
                {
                    "price_components": [
                        {"type": "ENERGY", "price": "0.30", "vat": 20, "step_size": 1}
                    ]
                },
            ],
        }
    )
    assert tariff == Tariff(
        currency="EUR",
        elements=(
            TariffElement(
                (PriceComponent(Dimension.ENERGY, Decimal("0.1"), Decimal(20), 1),),
                Restrictions(
                    start_time=time(22, 0),
                    end_time=time(6, 0),
                    start_date=date(2025, 1, 1),
                    end_date=date(2026, 1, 1),
                    min_power=Decimal(0),
                    max_power=Decimal("11.5"),
                    min_duration=60,
                    day_of_week=frozenset({6, 0}),
                ),
            ),
            TariffElement(
                (PriceComponent(Dimension.ENERGY, Decimal("0.30"), Decimal(20), 1),), None
            ),
        ),
        min_price=Price(Decimal("0.50"), Decimal("0.6")),
        max_price=None,
        texts=(DisplayText("nl", "0,25 per kWh"),),
        idle_grace_minutes=30,
    )


def test_a_float_becomes_the_decimal_it_prints_as() -> None:
    tariff = parse_tariff(
        energy_tariff(elements=[{"price_components": [component("ENERGY", 0.1 + 0.2)]}])
    )
    assert tariff.elements[0].price_components[0].price == Decimal("0.30000000000000004")
    assert parse_tariff(energy_tariff()).elements[0].price_components[0].price == Decimal("0.25")


def test_empty_restrictions_are_none() -> None:
    data = energy_tariff(
        elements=[
            {"price_components": [component("ENERGY", 1)], "restrictions": {"day_of_week": []}}
        ]
    )
    assert parse_tariff(data).elements[0].restrictions is None


def with_component(**fields: Any) -> dict[str, Any]:
    return energy_tariff(elements=[{"price_components": [{**component("ENERGY", 0.25), **fields}]}])


def with_restrictions(**fields: Any) -> dict[str, Any]:
    return energy_tariff(
        elements=[
            {"price_components": [component("ENERGY", 0.25)], "restrictions": fields},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )


def with_elements(*elements: dict[str, Any]) -> dict[str, Any]:
    return energy_tariff(elements=list(elements))


def restricted(kind: str, **restrictions: Any) -> dict[str, Any]:
    return {"price_components": [component(kind, 1)], "restrictions": restrictions}


def unrestricted(*kinds: str) -> dict[str, Any]:
    return {"price_components": [component(kind, 1) for kind in kinds]}


VAT_COMPONENT = [{"price_components": [component("ENERGY", 0.25, 1, 20)]}]

INVALID: list[tuple[Any, str]] = [
    ([], "tariff: must be an object"),
    (energy_tariff(currency="EUE"), "currency: must be an ISO 4217 currency code"),
    (energy_tariff(currency="eur"), "currency: must be an ISO 4217"),
    (energy_tariff(currency="XXX"), "currency: must be an ISO 4217"),
    (energy_tariff(currency=978), "currency: must be an ISO 4217"),
    (energy_tariff(id="12"), "id: unknown field"),
    (energy_tariff(elements=[]), "elements: at least one element is required"),
    (energy_tariff(elements=None), "elements: must be a list"),
    (
        energy_tariff(elements=[{"price_components": []}]),
        "elements[0].price_components: at least one",
    ),
    (energy_tariff(elements=[{}]), "elements[0].price_components: must be a list"),
    (energy_tariff(elements=[[]]), "elements[0]: must be an object"),
    (
        energy_tariff(elements=[{"price_components": [component("ENERGY", 1)], "restriction": {}}]),
        "elements[0].restriction: unknown field",
    ),
    (with_component(price=-0.01), "elements[0].price_components[0].price: must not be negative"),
    (with_component(price="abc"), "elements[0].price_components[0].price: must be a number"),
    (with_component(price=True), "elements[0].price_components[0].price: must be a number"),
    (with_component(price=float("nan")), "elements[0].price_components[0].price: must be a number"),
    (with_component(price=float("inf")), "elements[0].price_components[0].price: must be a number"),
    (with_component(price="1_000"), "elements[0].price_components[0].price: must be a number"),
    (with_component(price="\u0661"), "elements[0].price_components[0].price: must be a number"),
    (with_component(price="1e99"), "elements[0].price_components[0].price: out of range"),
    (with_component(price=None), "elements[0].price_components[0].price: required"),
    (with_component(vat=100.5), "elements[0].price_components[0].vat: must be between 0 and 100"),
    (with_component(vat=-1), "elements[0].price_components[0].vat: must be between 0 and 100"),
    (with_component(step_size=0), "elements[0].price_components[0].step_size: must be at least 1"),
    (
        with_component(step_size=1.5),
        "elements[0].price_components[0].step_size: must be a whole number",
    ),
    (
        with_component(type="KWH"),
        "elements[0].price_components[0].type: must be one of ENERGY, FLAT",
    ),
    (with_component(tax=1), "elements[0].price_components[0].tax: unknown field"),
    (
        with_restrictions(start_time="7:00"),
        'elements[0].restrictions.start_time: must be a time "HH:MM"',
    ),
    (
        with_restrictions(end_time="24:00"),
        'elements[0].restrictions.end_time: must be a time "HH:MM"',
    ),
    (
        with_restrictions(start_time="08:00", end_time="08:00"),
        "elements[0].restrictions.end_time: must differ from start_time",
    ),
    (
        with_restrictions(start_date="2024-02-30"),
        'elements[0].restrictions.start_date: must be a date "YYYY-MM-DD"',
    ),
    (
        with_restrictions(end_date="1/1/2025"),
        'elements[0].restrictions.end_date: must be a date "YYYY-MM-DD"',
    ),
    (
        with_restrictions(start_date="2025-01-01", end_date="2024-12-31"),
        "elements[0].restrictions.end_date: must be after start_date",
    ),
    (
        with_restrictions(start_date="2025-01-01", end_date="2025-01-01"),
        "elements[0].restrictions.end_date: must be after start_date",
    ),
    (
        with_restrictions(min_kwh=10, max_kwh=5),
        "elements[0].restrictions.min_kwh: must be less than max_kwh",
    ),
    (
        with_restrictions(min_current=32, max_current=16),
        "elements[0].restrictions.min_current: must be less than max_current",
    ),
    (
        with_restrictions(min_power=22, max_power=22),
        "elements[0].restrictions.min_power: must be less than max_power",
    ),
    (
        with_restrictions(min_duration=3600, max_duration=60),
        "elements[0].restrictions.min_duration: must be less than max_duration",
    ),
    (
        with_restrictions(min_duration=1.5),
        "elements[0].restrictions.min_duration: must be a whole number",
    ),
    (with_restrictions(max_kwh=-1), "elements[0].restrictions.max_kwh: must not be negative"),
    (
        with_restrictions(day_of_week=["MONDAY", "FUNDAY"]),
        "elements[0].restrictions.day_of_week[1]: must be MONDAY ... SUNDAY",
    ),
    (
        with_restrictions(day_of_week="MONDAY"),
        "elements[0].restrictions.day_of_week: must be a list",
    ),
    (with_restrictions(start_tme="08:00"), "elements[0].restrictions.start_tme: unknown field"),
    (
        with_restrictions(reservation="RESERVATION"),
        "elements[0].restrictions.reservation: unknown field",
    ),
    (energy_tariff(min_price={"excl_vat": -1}), "min_price.excl_vat: must not be negative"),
    (energy_tariff(min_price={"incl_vat": 1}), "min_price.excl_vat: required"),
    (
        energy_tariff(max_price={"excl_vat": "10.001"}),
        "max_price.excl_vat: must have at most 2 decimals (EUR)",
    ),
    (energy_tariff(max_price={"excl_vat": 10, "incl": 11}), "max_price.incl: unknown field"),
    (
        energy_tariff(max_price={"excl_vat": 10, "incl_vat": 11}),
        "max_price.incl_vat: must equal excl_vat: no component has VAT",
    ),
    (
        energy_tariff(elements=VAT_COMPONENT, max_price={"excl_vat": 10}),
        "max_price.incl_vat: required when price components carry VAT",
    ),
    (
        energy_tariff(elements=VAT_COMPONENT, max_price={"excl_vat": 10, "incl_vat": 9}),
        "max_price.incl_vat: must not be less than excl_vat",
    ),
    (
        energy_tariff(min_price={"excl_vat": 5}, max_price={"excl_vat": 4}),
        "min_price.excl_vat: must not exceed max_price.excl_vat",
    ),
    (
        energy_tariff(
            elements=VAT_COMPONENT,
            min_price={"excl_vat": 1, "incl_vat": 5},
            max_price={"excl_vat": 4, "incl_vat": 4.8},
        ),
        "min_price.incl_vat: must not exceed max_price.incl_vat",
    ),
    (
        energy_tariff(tariff_alt_text=[{"language": "eng", "text": "x"}]),
        "tariff_alt_text[0].language: must be a two-letter ISO 639-1 code",
    ),
    (
        energy_tariff(tariff_alt_text=[{"language": "en", "text": " "}]),
        "tariff_alt_text[0].text: must be a non-empty text",
    ),
    (
        energy_tariff(tariff_alt_text=[{"language": "en", "text": "x" * 513}]),
        "tariff_alt_text[0].text: must be at most 512 characters",
    ),
    (energy_tariff(tariff_alt_text={"language": "en"}), "tariff_alt_text: must be a list"),
    (energy_tariff(idle_grace_minutes=-5), "idle_grace_minutes: must not be negative"),
    (energy_tariff(idle_grace_minutes="x"), "idle_grace_minutes: must be a number"),
    # dead elements and components
    (
        with_elements(unrestricted("ENERGY"), restricted("ENERGY", start_time="08:00")),
        "elements[1]: never applies: elements[0] prices ENERGY unrestricted before it",
    ),
    (
        with_elements(
            restricted("TIME", start_time="08:00", end_time="20:00"),
            restricted("TIME", start_time="09:00", end_time="17:00", day_of_week=["MONDAY"]),
        ),
        "elements[1]: never applies: elements[0] prices TIME wherever it applies before it",
    ),
    (
        with_elements(
            restricted("TIME", start_time="22:00", end_time="06:00"),
            restricted("TIME", start_time="23:00", end_time="05:00"),
        ),
        "elements[1]: never applies: elements[0] prices TIME wherever it applies",
    ),
    (
        with_elements(
            restricted("ENERGY", max_kwh=50), restricted("ENERGY", min_kwh=10, max_kwh=20)
        ),
        "elements[1]: never applies: elements[0] prices ENERGY wherever it applies",
    ),
    (
        with_elements(
            restricted("FLAT", start_date="2025-01-01"),
            restricted("FLAT", start_date="2025-06-01", end_date="2025-07-01"),
        ),
        "elements[1]: never applies: elements[0] prices FLAT wherever it applies",
    ),
    (
        with_elements(
            unrestricted("ENERGY"),
            {
                "price_components": [component("TIME", 1), component("ENERGY", 2)],
                "restrictions": {"max_power": 11},
            },
        ),
        "elements[1].price_components[1]: never applies: elements[0] prices ENERGY unrestricted",
    ),
    (
        with_elements({"price_components": [component("ENERGY", 1), component("ENERGY", 2)]}),
        "elements[0].price_components[1]: never applies: ENERGY is priced twice in this element",
    ),
]


@pytest.mark.parametrize(("data", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_tariffs_are_refused_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_tariff(data)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "elements",
    [
        # the fallback after the specific: the way OCPI advises
        (restricted("ENERGY", start_time="08:00"), unrestricted("ENERGY")),
        # overlapping, neither contains the other
        (
            restricted("TIME", start_time="22:00", end_time="06:00"),
            restricted("TIME", start_time="05:00", end_time="07:00"),
        ),
        (
            restricted("ENERGY", max_power=16),
            restricted("ENERGY", max_power=32),
            unrestricted("ENERGY"),
        ),
        (restricted("ENERGY", max_duration=1800), restricted("ENERGY", max_duration=3600)),
        # a power restriction, even from 0 kW, does not match where power is unknown
        (restricted("ENERGY", min_power=0), unrestricted("ENERGY")),
        # other dimensions do not shadow
        (
            unrestricted("TIME"),
            unrestricted("ENERGY"),
            restricted("PARKING_TIME", day_of_week=["MONDAY"]),
        ),
        (
            restricted("ENERGY", day_of_week=["MONDAY"]),
            restricted("ENERGY", day_of_week=["MONDAY", "TUESDAY"]),
        ),
    ],
)
def test_elements_that_can_apply_are_accepted(elements: tuple[dict[str, Any], ...]) -> None:
    assert len(parse_tariff(with_elements(*elements)).elements) == len(elements)


def test_the_free_of_charge_example_has_a_flat_step_size_of_zero() -> None:
    tariff = parse_tariff(
        {"currency": "EUR", "elements": [{"price_components": [component("FLAT", 0, 0)]}]}
    )
    assert tariff.elements[0].price_components[0].step_size == 0


def test_covers_is_field_by_field() -> None:
    day = Restrictions(start_time=time(8, 0), end_time=time(20, 0))
    assert covers(None, day)
    assert covers(
        day, Restrictions(start_time=time(9, 0), end_time=time(10, 0), min_kwh=Decimal(1))
    )
    assert not covers(day, None)
    assert not covers(day, Restrictions(start_time=time(19, 0), end_time=time(21, 0)))
    until_midnight = Restrictions(start_time=time(18, 0), end_time=time(0, 0))
    assert covers(until_midnight, Restrictions(start_time=time(23, 0)))
    assert not covers(until_midnight, Restrictions(start_time=time(23, 0), end_time=time(1, 0)))


# ---- JSON -------------------------------------------------------------------------------

numbers = st.one_of(
    st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False),
).map(lambda x: str(x) if isinstance(x, Decimal) else x)
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
days = st.lists(
    st.sampled_from(["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]),
    unique=True,
)
restriction_fields = st.fixed_dictionaries(
    {},
    optional={
        "start_time": hhmm,
        "end_time": hhmm,
        "start_date": st.dates(date(2020, 1, 1), date(2030, 1, 1)).map(str),
        "min_kwh": numbers,
        "max_power": numbers,
        "min_current": numbers,
        "max_duration": st.integers(1, 10**6),
        "day_of_week": days,
    },
)
components = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["ENERGY", "FLAT", "PARKING_TIME", "TIME"]),
            "price": numbers,
            "step_size": st.integers(1, 3600),
        },
        optional={"vat": st.decimals(min_value=0, max_value=100, places=2).map(str)},
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda c: c["type"],
)
elements = st.lists(
    st.fixed_dictionaries(
        {"price_components": components}, optional={"restrictions": restriction_fields}
    ),
    min_size=1,
    max_size=5,
)
tariff_data = st.fixed_dictionaries(
    {"currency": st.sampled_from(["EUR", "JPY", "KWD", "USD"]), "elements": elements},
    optional={
        "tariff_alt_text": st.lists(
            st.fixed_dictionaries(
                {
                    "language": st.sampled_from(["en", "nl", "de"]),
                    "text": st.text(min_size=1, max_size=40).filter(str.strip),
                }
            ),
            max_size=2,
        ),
        "idle_grace_minutes": st.integers(0, 120),
        "max_price": st.builds(lambda x: {"excl_vat": x, "incl_vat": x * 2}, st.integers(0, 100)),
    },
)


def parsed_or_reject(data: dict[str, Any]) -> Tariff:
    try:
        return parse_tariff(data)
    except InvalidInput:
        reject()


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(tariff_data)
def test_json_round_trip(data: dict[str, Any]) -> None:
    tariff = parsed_or_reject(data)
    original = copy.deepcopy(data)
    assert parse_tariff(tariff_to_json(tariff)) == tariff
    assert data == original  # parsing does not touch its input


@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(tariff_data, st.sampled_from([None, "en", "fr"]))
def test_display_text_is_short_and_never_empty(data: dict[str, Any], language: str | None) -> None:
    text = display_text(parsed_or_reject(data), language)
    assert 0 < len(text) <= MAX_TEXT


# ---- display text -----------------------------------------------------------------------


def display(data: dict[str, Any], language: str | None = None) -> str:
    return display_text(parse_tariff(data), language)


def test_display_energy_and_idle_fee_after_grace() -> None:
    data = {
        "currency": "EUR",
        "idle_grace_minutes": 30,
        "elements": [
            {"price_components": [component("ENERGY", 0.25), component("PARKING_TIME", 1)]}
        ],
    }
    assert display(data) == "0.25 EUR/kWh + 1.00 EUR/h idle after 30 min"


def test_display_shows_prices_incl_vat_with_the_digits_they_need() -> None:
    data = {
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    component("FLAT", 0.50, 1, 20),
                    component("TIME", 1.90, 300, 5.2),
                ]
            }
        ],
    }
    # 0.50 x 1.2 = 0.60; 1.90 x 1.052 = 1.9988
    assert display(data) == "0.60 EUR start + 1.9988 EUR/h"


def test_display_in_yen() -> None:
    data = {"currency": "JPY", "elements": [{"price_components": [component("ENERGY", 30)]}]}
    assert display(data) == "30 JPY/kWh"


def test_display_prefers_the_operators_text_in_the_language() -> None:
    data = energy_tariff(tariff_alt_text=[{"language": "nl", "text": "0,25 euro per kWh"}])
    assert display(data, "NL") == "0,25 euro per kWh"
    assert display(data, "de") == "0.25 EUR/kWh"
    assert display(data) == "0.25 EUR/kWh"


def test_display_of_prices_that_vary() -> None:
    data = with_elements(
        {
            "price_components": [component("ENERGY", 0.40)],
            "restrictions": {"start_time": "17:00", "end_time": "21:00"},
        },
        {
            "price_components": [component("ENERGY", 0.30)],
            "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]},
        },
    )
    assert display(data) == "0.40 EUR/kWh (varies)"


def test_display_of_a_free_tariff() -> None:
    assert (
        display({"currency": "EUR", "elements": [{"price_components": [component("FLAT", 0, 0)]}]})
        == "Free"
    )


def test_the_tariff_in_the_docs_parses() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "topics" / "tariffs-and-cost.md"
    block = doc.read_text(encoding="utf-8").split("```json\n", 1)[1].split("```", 1)[0]
    tariff = parse_tariff(json.loads(block))
    assert display_text(tariff) == "0.363 EUR/kWh + 2.42 EUR/h idle after 30 min (varies)"
    assert display_text(tariff, "en") == "0.30 EUR/kWh, 0.40 EUR/kWh 17-21h"
