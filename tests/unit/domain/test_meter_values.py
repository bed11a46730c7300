"""Meter samples: parsing sampled values and reading the energy import register."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import pytest

from csms.domain.meter_values import (
    DEFAULT_MEASURAND,
    ENERGY_REGISTER,
    MeterSample,
    _plausible,
    first_and_last_register_wh,
    parse_decimal,
    register_wh,
)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def sample(**changes: object) -> MeterSample:
    base = MeterSample(
        sampled_at=T0,
        measurand=ENERGY_REGISTER,
        phase="",
        location="Outlet",
        context="Sample.Periodic",
        unit="Wh",
        value=Decimal(1000),
        raw_value=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_default_measurand_is_the_energy_import_register() -> None:
    """1.6 SampledValue.measurand and 2.0.1 MeasurandEnumType default."""
    assert DEFAULT_MEASURAND == ENERGY_REGISTER == "Energy.Active.Import.Register"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234", Decimal(1234)),
        ("12.5", Decimal("12.5")),
        ("-3", Decimal(-3)),
        ("1e3", Decimal(1000)),
        (42, Decimal(42)),
        (0.5, Decimal("0.5")),
        ("", None),
        ("abc", None),
        ("NaN", None),
        ("Infinity", None),
        ("-inf", None),
        ("0x10", None),
    ],
)
def test_parse_decimal(text: str | float | int, expected: Decimal | None) -> None:
    assert parse_decimal(text) == expected


def test_float_is_parsed_from_its_shortest_repr() -> None:
    """A 2.0.1 numeric value 0.1 is 0.1, not 0.1000000000000000055511151231257827."""
    assert parse_decimal(0.1) == Decimal("0.1")


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("Wh", Decimal(1000)), ("", Decimal(1000)), ("kWh", Decimal(1000000))],
)
def test_register_in_wh(unit: str, expected: Decimal) -> None:
    assert register_wh(sample(unit=unit)) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"measurand": "Power.Active.Import"},
        {"measurand": "Energy.Active.Export.Register"},
        {"phase": "L1"},
        {"value": None, "raw_value": "signed"},
        {"unit": "varh"},
        {"unit": "W"},
    ],
    ids=["power", "export", "phase", "no-value", "varh", "watt"],
)
def test_not_the_import_register(changes: dict[str, object]) -> None:
    assert register_wh(sample(**changes)) is None


def test_first_and_last_by_sample_time_not_by_order() -> None:
    samples = [
        sample(sampled_at=T0 + timedelta(minutes=10), value=Decimal(3000)),
        sample(sampled_at=T0, value=Decimal(1000)),
        sample(sampled_at=T0 + timedelta(minutes=5), value=Decimal(2), unit="kWh"),
    ]
    assert first_and_last_register_wh(samples) == (Decimal(1000), Decimal(3000))


def test_first_and_last_ignore_other_measurands() -> None:
    samples = [
        sample(sampled_at=T0 - timedelta(minutes=1), measurand="Voltage", value=Decimal(230)),
        sample(value=Decimal(10)),
        sample(sampled_at=T0 + timedelta(minutes=1), phase="L2", value=Decimal(99999)),
    ]
    assert first_and_last_register_wh(samples) == (Decimal(10), Decimal(10))


def test_first_and_last_of_nothing() -> None:
    assert first_and_last_register_wh([]) == (None, None)
    assert first_and_last_register_wh([sample(measurand="SoC", unit="Percent")]) == (None, None)


def _slow_parse(text: str) -> Decimal | None:
    """parse_decimal as it was before its short-number fast path."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if value.is_zero():
        return Decimal(0)
    return value if _plausible(value) else None


@pytest.mark.parametrize("sign", ["", "-", "+"])
@pytest.mark.parametrize("integer", ["", "0", "7", "1" * 15, "9" * 29, "1" * 40])
@pytest.mark.parametrize("fraction", [None, "", "5", "0" * 28 + "1", "3" * 40])
@pytest.mark.parametrize("suffix", ["", "e5", "E-80", "e39", " "])
def test_the_short_number_fast_path_agrees_with_the_full_check(
    sign: str, integer: str, fraction: str | None, suffix: str
) -> None:
    text = sign + integer + ("" if fraction is None else "." + fraction) + suffix
    assert parse_decimal(text) == _slow_parse(text)
    for special in ("NaN", "sNaN", "Infinity", "-Inf", "1_000.5"):
        assert parse_decimal(special) == _slow_parse(special)
