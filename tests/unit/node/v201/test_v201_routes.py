"""Every charger-initiated 2.0.1 action is routed, and a schema-valid request gets a
schema-valid response (part 4: a CALL is answered with its CALLRESULT, never NotImplemented).
"""

from __future__ import annotations

from typing import Any

import pytest
from v201_harness import Harness

from csms.node.context import Context
from csms.node.v201 import DIALECT, ROUTES, SCHEMAS, SUBPROTOCOL, VERSION

T = "2026-01-01T10:00:00Z"
COMPONENT = {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
VARIABLE = {"name": "AvailabilityState"}
SCHEDULE = {
    "id": 1,
    "chargingRateUnit": "W",
    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
}
PROFILE = {
    "id": 7,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [{**SCHEDULE, "startSchedule": T}],
}
OCSP = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "0123",
    "responderURL": "http://ocsp.example.com",
}

REQUESTS: dict[str, dict[str, Any]] = {
    "BootNotification": {
        "reason": "PowerUp",
        "chargingStation": {"vendorName": "Acme", "model": "Fast-1"},
    },
    "Heartbeat": {},
    "NotifyReport": {"requestId": 1, "generatedAt": T, "seqNo": 0},
    "Authorize": {"idToken": {"idToken": "TAG-1", "type": "ISO14443"}},
    "TransactionEvent": {
        "eventType": "Started",
        "timestamp": T,
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-routes"},
        "evse": {"id": 1, "connectorId": 1},
    },
    "StatusNotification": {
        "timestamp": T,
        "connectorStatus": "Occupied",
        "evseId": 1,
        "connectorId": 1,
    },
    "ReservationStatusUpdate": {"reservationId": 3, "reservationUpdateStatus": "Expired"},
    "MeterValues": {"evseId": 0, "meterValue": [{"timestamp": T, "sampledValue": [{"value": 1}]}]},
    "ClearedChargingLimit": {"chargingLimitSource": "EMS", "evseId": 1},
    "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "SO"}, "evseId": 1},
    "ReportChargingProfiles": {
        "requestId": 4,
        "chargingLimitSource": "CSO",
        "evseId": 1,
        "chargingProfile": [PROFILE],
    },
    "NotifyEVChargingNeeds": {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "acChargingParameters": {
                "energyAmount": 20000,
                "evMinCurrent": 6,
                "evMaxCurrent": 32,
                "evMaxVoltage": 400,
            },
        },
    },
    "NotifyEVChargingSchedule": {"timeBase": T, "evseId": 1, "chargingSchedule": SCHEDULE},
    "FirmwareStatusNotification": {"status": "Downloading", "requestId": 5},
    "PublishFirmwareStatusNotification": {"status": "Published", "location": ["http://lc/fw"]},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": T},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    "Get15118EVCertificate": {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": "AAEC",
    },
    "GetCertificateStatus": {"ocspRequestData": OCSP},
    "LogStatusNotification": {"status": "Uploaded", "requestId": 6},
    "NotifyEvent": {
        "generatedAt": T,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": T,
                "trigger": "Delta",
                "actualValue": "Occupied",
                "eventNotificationType": "HardWiredNotification",
                "component": COMPONENT,
                "variable": VARIABLE,
            }
        ],
    },
    "NotifyMonitoringReport": {"requestId": 8, "seqNo": 0, "generatedAt": T},
    "NotifyCustomerInformation": {
        "data": "no data",
        "seqNo": 0,
        "generatedAt": T,
        "requestId": 9,
    },
    "NotifyDisplayMessages": {"requestId": 10},
    "DataTransfer": {"vendorId": "com.example", "messageId": "hello", "data": {"a": 1}},
}

# Part 2 messages a Charging Station sends (DataTransfer goes both ways).
CHARGER_INITIATED = set(REQUESTS)


def test_the_version_object_is_2_0_1() -> None:
    assert SUBPROTOCOL == DIALECT.subprotocol == VERSION.subprotocol == "ocpp2.0.1"
    assert (VERSION.dialect, VERSION.schemas, VERSION.routes) == (DIALECT, SCHEMAS, ROUTES)
    assert DIALECT.answers_unknown_message_type


def test_routes_cover_every_charger_initiated_action_and_nothing_else() -> None:
    assert set(ROUTES) == CHARGER_INITIATED
    assert CHARGER_INITIATED <= SCHEMAS.actions


@pytest.mark.parametrize("action", sorted(REQUESTS))
async def test_valid_request_gets_valid_response(action: str, ctx: Context, store: Harness) -> None:
    request = REQUESTS[action]
    SCHEMAS.validate(action, request)  # the sample itself is valid
    response = await ROUTES[action](ctx, request)
    SCHEMAS.validate(action, response, response=True)


@pytest.mark.parametrize("action", sorted(set(REQUESTS) - {"Heartbeat", "Authorize"}))
async def test_every_action_persists_something(action: str, ctx: Context, store: Harness) -> None:
    """Each handled message leaves a trace in the store (Authorize only reads; Heartbeat
    is checked in its own test)."""
    await ROUTES[action](ctx, REQUESTS[action])
    persisted = (
        store.charger.last_boot_at,
        store.events,
        store.connectors,
        store.transactions,
        store.sample_rows,
        store.variables,
    )
    assert any(persisted), f"{action} persisted nothing"
