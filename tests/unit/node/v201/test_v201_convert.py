"""csms.node.v201.convert: 2.0.1 sampled values and id-token answers, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.id_tokens import Authorization, TokenStatus
from csms.domain.meter_values import register_wh
from csms.node.v201 import convert

AT = "2026-01-01T10:00:00Z"


def test_sampled_value_defaults_are_an_energy_register_in_wh() -> None:
    """SampledValueType: a bare value is a periodic outlet register reading in Wh."""
    [sample] = convert.samples([{"timestamp": AT, "sampledValue": [{"value": 1234.5}]}])
    assert sample.sampled_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert sample.measurand == "Energy.Active.Import.Register"
    assert sample.context == "Sample.Periodic"
    assert sample.location == "Outlet"
    assert sample.phase == ""
    assert sample.unit == "Wh"
    assert sample.value == Decimal("1234.5")
    assert sample.raw_value is None
    assert sample.signed is None


def test_kwh_unit_is_kept_and_converted_by_the_register_helper() -> None:
    [sample] = convert.samples(
        [{"timestamp": AT, "sampledValue": [{"value": 12.5, "unitOfMeasure": {"unit": "kWh"}}]}]
    )
    assert sample.unit == "kWh"
    assert sample.value == Decimal("12.5")
    assert register_wh(sample) == Decimal(12500)


@pytest.mark.parametrize(
    ("value", "unit_of_measure", "expected_wh"),
    [
        (12.5, {"unit": "Wh", "multiplier": 3}, Decimal(12500)),  # 12.5 * 10^3 Wh
        (12.5, {"multiplier": 3}, Decimal(12500)),  # unit defaults to Wh
        (0.0125, {"unit": "kWh", "multiplier": 3}, Decimal("12.5") * 1000),
        (125000, {"unit": "Wh", "multiplier": -1}, Decimal(12500)),
    ],
)
def test_multiplier_is_applied_as_a_power_of_ten(
    value: float, unit_of_measure: dict[str, object], expected_wh: Decimal
) -> None:
    """UnitOfMeasureType.multiplier: the value is value * 10^multiplier in ``unit``."""
    sampled_value = {"value": value, "unitOfMeasure": unit_of_measure}
    sample = convert.sample(sampled_value, datetime(2026, 1, 1, tzinfo=UTC))
    assert register_wh(sample) == expected_wh


def test_unit_defaults_to_wh_only_for_energy_measurands() -> None:
    sample = convert.sample(
        {"value": 230.1, "measurand": "Voltage", "phase": "L1-N"}, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert (sample.measurand, sample.phase, sample.unit) == ("Voltage", "L1-N", "")
    assert register_wh(sample) is None


def test_signed_meter_value_is_kept_next_to_the_value() -> None:
    """E02.FR.14: signed readings arrive in signedMeterValue; the number stays usable."""
    signed = {
        "signedMeterData": "c2lnbmVk",
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": "a2V5",
    }
    [sample] = convert.samples(
        [
            {
                "timestamp": AT,
                "sampledValue": [
                    {"value": 100, "context": "Transaction.End", "signedMeterValue": signed}
                ],
            }
        ]
    )
    assert sample.signed == signed
    assert sample.value == Decimal(100)
    assert sample.context == "Transaction.End"


def test_every_meter_value_and_sampled_value_becomes_a_sample() -> None:
    meter_values: list[dict[str, Any]] = [
        {
            "timestamp": AT,
            "sampledValue": [
                {"value": 1},
                {"value": 2, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
            ],
        },
        {"timestamp": "2026-01-01T10:15:00+00:00", "sampledValue": [{"value": 3}]},
    ]
    result = convert.samples(meter_values)
    assert [s.value for s in result] == [1, 2, 3]
    assert result[1].unit == "W"
    assert result[2].sampled_at == datetime(2026, 1, 1, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize("status", list(TokenStatus))
def test_every_token_status_has_its_2_0_1_name(status: TokenStatus) -> None:
    """AuthorizationStatusEnumType has them all; 2.0.1 keeps Unknown (1.6 says Invalid)."""
    assert convert.status_name(status) == status.value


def test_id_token_info_with_expiry_and_group() -> None:
    authorization = Authorization(
        TokenStatus.ACCEPTED, datetime(2026, 6, 1, tzinfo=UTC), parent_id_token="GROUP-1"
    )
    assert convert.id_token_info(authorization) == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2026-06-01T00:00:00.000Z",
        "groupIdToken": {"idToken": "GROUP-1", "type": "Central"},
    }


def test_id_token_info_unknown_is_bare() -> None:
    assert convert.id_token_info(Authorization(TokenStatus.UNKNOWN)) == {"status": "Unknown"}


def test_status_info_respects_the_schema_lengths() -> None:
    info = convert.status_info("X" * 30, "y" * 600)
    assert len(info["reasonCode"]) == 20
    assert len(info["additionalInfo"]) == 512
