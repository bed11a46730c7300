"""1.6 <-> version-neutral translations. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import format_timestamp, parse_timestamp
from csms.domain.id_tokens import Authorization, TokenStatus
from csms.domain.meter_values import DEFAULT_MEASURAND, MeterSample, parse_decimal
from csms.domain.transactions import TokenRef

# 1.6 has no "Unknown": an id we do not know is Invalid. Nor "NoCredit": a token whose
# prepaid account cannot pay is Blocked (1.6 7.2 AuthorizationStatus).
_STATUS = {TokenStatus.UNKNOWN: "Invalid", TokenStatus.NO_CREDIT: "Blocked"}
# A 1.6 connector is what 2.0.1 calls an EVSE: neutral records keep 1.6 connectors on EVSE 0.
WHOLE_CHARGER_EVSE = 0
# A 1.6 idTag has no type; sessions record it as a token the CSMS knows ("Central").
ID_TAG_TYPE = "Central"


def id_tag(text: str) -> TokenRef:
    return TokenRef(text, ID_TAG_TYPE)


def id_tag_info(authorization: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": _STATUS.get(authorization.status, authorization.status.value)}
    if authorization.expiry_date is not None:
        info["expiryDate"] = format_timestamp(authorization.expiry_date)
    if authorization.parent_id_token is not None:
        info["parentIdTag"] = authorization.parent_id_token
    return info


def samples(meter_values: list[dict[str, Any]]) -> list[MeterSample]:
    """MeterValue[] of a MeterValues.req or StopTransaction.req transactionData."""
    result: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"])
        for sv in meter_value["sampledValue"]:
            text = sv["value"]
            signed = sv.get("format") == "SignedData"
            value = None if signed else parse_decimal(text)
            result.append(
                MeterSample(
                    sampled_at=at,
                    measurand=sv.get("measurand", DEFAULT_MEASURAND),
                    phase=sv.get("phase", ""),
                    location=sv.get("location", "Outlet"),
                    context=sv.get("context", "Sample.Periodic"),
                    unit=sv.get("unit", ""),
                    value=value,
                    raw_value=text if value is None else None,
                )
            )
    return result
