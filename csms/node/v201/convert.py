"""2.0.1 <-> version-neutral translations. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.domain.clock import format_timestamp, parse_timestamp
from csms.domain.id_tokens import Authorization, TokenStatus
from csms.domain.meter_values import DEFAULT_MEASURAND, MeterSample, parse_decimal, scaled
from csms.domain.transactions import TokenRef

# AuthorizationStatusEnumType. 2.0.1 has every neutral status, "Unknown" included.
_STATUS = {
    TokenStatus.ACCEPTED: "Accepted",
    TokenStatus.BLOCKED: "Blocked",
    TokenStatus.EXPIRED: "Expired",
    TokenStatus.INVALID: "Invalid",
    TokenStatus.CONCURRENT_TX: "ConcurrentTx",
    TokenStatus.UNKNOWN: "Unknown",
    TokenStatus.NO_CREDIT: "NoCredit",
}

DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"
ENERGY_UNIT = "Wh"
# An id token we hand out as a group id has no other type the charger could know it by.
GROUP_TOKEN_TYPE = "Central"


def token_ref(id_token: dict[str, Any]) -> TokenRef:
    """An IdTokenType as the services take it."""
    return TokenRef(id_token["idToken"], id_token["type"])


def status_name(status: TokenStatus) -> str:
    """The 2.0.1 AuthorizationStatusEnumType value of a neutral status."""
    return _STATUS[status]


def id_token_info(authorization: Authorization, *, status: str | None = None) -> dict[str, Any]:
    """IdTokenInfoType of a decision; ``status`` overrides the decision's status name."""
    info: dict[str, Any] = {"status": status or status_name(authorization.status)}
    if authorization.expiry_date is not None:
        info["cacheExpiryDateTime"] = format_timestamp(authorization.expiry_date)
    if authorization.parent_id_token is not None:
        info["groupIdToken"] = {
            "idToken": authorization.parent_id_token,
            "type": GROUP_TOKEN_TYPE,
        }
    return info


def status_info(reason_code: str, additional_info: str) -> dict[str, str]:
    """StatusInfoType (reasonCode: at most 20 characters, additionalInfo: at most 512)."""
    return {"reasonCode": reason_code[:20], "additionalInfo": additional_info[:512]}


def _unit(sampled_value: dict[str, Any], measurand: str) -> tuple[str, int]:
    unit_of_measure = sampled_value.get("unitOfMeasure") or {}
    # part 2 UnitOfMeasureType: unit defaults to "Wh" when the measurand is an Energy type;
    # for any other measurand an omitted unit stays unknown rather than being made up.
    default = ENERGY_UNIT if measurand.startswith("Energy.") else ""
    return unit_of_measure.get("unit", default), int(unit_of_measure.get("multiplier", 0))


def sample(sampled_value: dict[str, Any], sampled_at: datetime) -> MeterSample:
    """One SampledValueType as a neutral sample: the multiplier applied, the unit kept."""
    measurand = sampled_value.get("measurand", DEFAULT_MEASURAND)
    unit, multiplier = _unit(sampled_value, measurand)
    raw = sampled_value["value"]
    value = parse_decimal(raw)
    if value is not None and multiplier:
        value = scaled(value, multiplier)
    return MeterSample(
        sampled_at=sampled_at,
        measurand=measurand,
        phase=sampled_value.get("phase", ""),
        location=sampled_value.get("location", DEFAULT_LOCATION),
        context=sampled_value.get("context", DEFAULT_CONTEXT),
        unit=unit,
        value=value,
        raw_value=None if value is not None else str(raw),
        signed=sampled_value.get("signedMeterValue"),
    )


def samples(meter_values: list[dict[str, Any]]) -> list[MeterSample]:
    """MeterValueType[] of a MeterValuesRequest or TransactionEventRequest."""
    result: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"])
        result.extend(sample(sampled_value, at) for sampled_value in meter_value["sampledValue"])
    return result
