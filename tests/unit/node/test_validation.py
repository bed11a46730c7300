"""JSON-schema validation of charger payloads and the OcppError each failure becomes.

The names a kind gets on the wire are per version (its Dialect): 1.6 FormationViolation /
OccurenceConstraintViolation, 2.0.1 FormatViolation / OccurrenceConstraintViolation.
"""

from __future__ import annotations

from typing import Any

import pytest

from csms.errors import ErrorKind, OcppError
from csms.node import v16, v201
from csms.node.versions import BY_SUBPROTOCOL

STATUS_16: dict[str, Any] = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
BOOT_16: dict[str, Any] = {"chargePointVendor": "Acme", "chargePointModel": "Wallbox"}
BOOT_201: dict[str, Any] = {
    "reason": "PowerUp",
    "chargingStation": {"vendorName": "Acme", "model": "Wallbox"},
}


def station(**changes: Any) -> dict[str, Any]:
    return {**BOOT_201, "chargingStation": {**BOOT_201["chargingStation"], **changes}}


def failure(subprotocol: str, action: str, payload: Any) -> OcppError:
    with pytest.raises(OcppError) as info:
        BY_SUBPROTOCOL[subprotocol].schemas.validate(action, payload)
    return info.value


CASES = [
    # 1.6
    ("ocpp1.6", "BootNotification", {"chargePointVendor": "Acme"}, ErrorKind.OCCURRENCE),
    ("ocpp1.6", "BootNotification", {**BOOT_16, "chargePointVendor": 5}, ErrorKind.TYPE),
    ("ocpp1.6", "BootNotification", {**BOOT_16, "chargePointModel": None}, ErrorKind.TYPE),
    ("ocpp1.6", "BootNotification", {**BOOT_16, "chargePointVendor": "v" * 21}, ErrorKind.PROPERTY),
    ("ocpp1.6", "StatusNotification", {**STATUS_16, "status": "Exploded"}, ErrorKind.PROPERTY),
    ("ocpp1.6", "StatusNotification", {**STATUS_16, "connectorId": 1.5}, ErrorKind.TYPE),
    ("ocpp1.6", "StatusNotification", {**STATUS_16, "timestamp": "noon"}, ErrorKind.PROPERTY),
    ("ocpp1.6", "Heartbeat", {"extra": 1}, ErrorKind.FORMAT),
    ("ocpp1.6", "BootNotification", {**BOOT_16, "colour": "red"}, ErrorKind.FORMAT),
    ("ocpp1.6", "MeterValues", {"connectorId": 1, "meterValue": []}, ErrorKind.OCCURRENCE),
    ("ocpp1.6", "Authorize", {}, ErrorKind.OCCURRENCE),
    ("ocpp1.6", "Authorize", {"idTag": "t" * 21}, ErrorKind.PROPERTY),
    # 2.0.1
    (
        "ocpp2.0.1",
        "BootNotification",
        {"chargingStation": BOOT_201["chargingStation"]},
        ErrorKind.OCCURRENCE,
    ),
    ("ocpp2.0.1", "BootNotification", station(vendorName=None), ErrorKind.TYPE),
    ("ocpp2.0.1", "BootNotification", station(model=7), ErrorKind.TYPE),
    ("ocpp2.0.1", "BootNotification", {**BOOT_201, "reason": "Bored"}, ErrorKind.PROPERTY),
    ("ocpp2.0.1", "BootNotification", station(model="m" * 21), ErrorKind.PROPERTY),
    ("ocpp2.0.1", "BootNotification", station(colour="red"), ErrorKind.FORMAT),
    ("ocpp2.0.1", "Heartbeat", {"extra": 1}, ErrorKind.FORMAT),
    ("ocpp2.0.1", "Heartbeat", {"customData": {}}, ErrorKind.OCCURRENCE),
]


@pytest.mark.parametrize(("subprotocol", "action", "payload", "kind"), CASES)
def test_schema_failure_maps_to_its_error_kind(
    subprotocol: str, action: str, payload: Any, kind: ErrorKind
) -> None:
    error = failure(subprotocol, action, payload)
    assert error.kind is kind
    assert error.description
    assert set(error.details) == {"field", "rule"}


@pytest.mark.parametrize(
    ("subprotocol", "action", "payload", "code"),
    [
        ("ocpp1.6", "Heartbeat", {"x": 1}, "FormationViolation"),
        ("ocpp1.6", "Authorize", {}, "OccurenceConstraintViolation"),
        (
            "ocpp1.6",
            "BootNotification",
            {**BOOT_16, "chargePointVendor": 5},
            "TypeConstraintViolation",
        ),
        (
            "ocpp1.6",
            "StatusNotification",
            {**STATUS_16, "status": "?"},
            "PropertyConstraintViolation",
        ),
        ("ocpp2.0.1", "Heartbeat", {"x": 1}, "FormatViolation"),
        ("ocpp2.0.1", "BootNotification", {"chargingStation": {}}, "OccurrenceConstraintViolation"),
        ("ocpp2.0.1", "BootNotification", station(model=7), "TypeConstraintViolation"),
        (
            "ocpp2.0.1",
            "BootNotification",
            {**BOOT_201, "reason": "?"},
            "PropertyConstraintViolation",
        ),
    ],
)
def test_error_code_on_the_wire(subprotocol: str, action: str, payload: Any, code: str) -> None:
    error = failure(subprotocol, action, payload)
    assert BY_SUBPROTOCOL[subprotocol].dialect.code(error.kind) == code


def test_detail_names_the_field_and_rule() -> None:
    error = failure("ocpp2.0.1", "BootNotification", station(model="m" * 21))
    assert error.details == {"field": "data.chargingStation.model", "rule": "maxLength"}


@pytest.mark.parametrize(
    ("subprotocol", "action", "payload"),
    [
        ("ocpp1.6", "BootNotification", BOOT_16),
        ("ocpp1.6", "Heartbeat", {}),
        ("ocpp1.6", "StatusNotification", {**STATUS_16, "timestamp": "2025-01-01T00:00:00Z"}),
        ("ocpp1.6", "BootNotification", {**BOOT_16, "chargePointVendor": "v" * 20}),
        ("ocpp2.0.1", "BootNotification", BOOT_201),
        ("ocpp2.0.1", "Heartbeat", {}),
        ("ocpp2.0.1", "Heartbeat", {"customData": {"vendorId": "acme", "anything": 1}}),
    ],
)
def test_valid_payload_passes(subprotocol: str, action: str, payload: Any) -> None:
    BY_SUBPROTOCOL[subprotocol].schemas.validate(action, payload)


@pytest.mark.parametrize(
    ("subprotocol", "action", "payload"),
    [
        (
            "ocpp1.6",
            "BootNotification",
            {"status": "Accepted", "interval": 300, "currentTime": "2025-01-01T00:00:00Z"},
        ),
        ("ocpp2.0.1", "Heartbeat", {"currentTime": "2025-01-01T00:00:00Z"}),
    ],
)
def test_response_schemas_are_used_for_responses(
    subprotocol: str, action: str, payload: Any
) -> None:
    schemas = BY_SUBPROTOCOL[subprotocol].schemas
    schemas.validate(action, payload, response=True)
    with pytest.raises(OcppError):
        schemas.validate(action, payload)


def test_schema_paths_per_version() -> None:
    assert v16.SCHEMAS.path("Heartbeat", False).name == "Heartbeat.json"
    assert v16.SCHEMAS.path("Heartbeat", True).name == "HeartbeatResponse.json"
    assert v201.SCHEMAS.path("Heartbeat", False).name == "HeartbeatRequest.json"
    assert v201.SCHEMAS.path("Heartbeat", True).name == "HeartbeatResponse.json"


def test_known_actions_per_version() -> None:
    actions_16 = v16.SCHEMAS.actions
    actions_201 = v201.SCHEMAS.actions
    assert {"BootNotification", "StartTransaction", "RemoteStartTransaction"} <= actions_16
    assert {"BootNotification", "TransactionEvent", "RequestStartTransaction"} <= actions_201
    assert "TransactionEvent" not in actions_16 and "StartTransaction" not in actions_201
    assert not any(name.endswith(("Response", "Request")) for name in actions_16 | actions_201)


def test_validators_are_compiled_once() -> None:
    first = v16.SCHEMAS.validator("Heartbeat", False)
    assert v16.SCHEMAS.validator("Heartbeat", False) is first
