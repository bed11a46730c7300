"""What the charger reports is kept; the honest answers where we lack a feature."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from v201_harness import NOW, Harness

from csms.domain.clock import parse_timestamp
from csms.node.context import Context, Payload
from csms.node.v201 import ROUTES, SCHEMAS
from csms.node.v201.provisioning import variable_rows

T = "2026-01-01T10:00:00Z"


async def call(ctx: Context, action: str, payload: Payload) -> Payload:
    SCHEMAS.validate(action, payload)
    response = await ROUTES[action](ctx, payload)
    SCHEMAS.validate(action, response, response=True)
    return response


async def test_b01_boot_identity_and_answer(ctx: Context, store: Harness) -> None:
    """B01: the identity is stored; Accepted with the heartbeat interval and our time."""
    payload = {
        "reason": "PowerUp",
        "chargingStation": {
            "vendorName": "Acme",
            "model": "Fast-1",
            "serialNumber": "SN-9",
            "firmwareVersion": "1.2.3",
            "modem": {"iccid": "8931", "imsi": "2040"},
        },
    }
    response = await call(ctx, "BootNotification", payload)
    assert response == {
        "status": "Accepted",
        "currentTime": "2026-01-01T12:00:00.000Z",
        "interval": 300,
    }
    charger = store.charger
    assert (charger.vendor, charger.model, charger.serial_number) == ("Acme", "Fast-1", "SN-9")
    assert (charger.firmware_version, charger.iccid, charger.imsi) == ("1.2.3", "8931", "2040")
    assert (charger.registration_status, charger.last_boot_at) == ("Accepted", NOW)
    assert ctx.link.accepted


async def test_b02_pending_boot(ctx: Context, store: Harness) -> None:
    store.set_boot_policy("pending")
    response = await call(
        ctx,
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"vendorName": "A", "model": "M"}},
    )
    assert (response["status"], response["interval"]) == ("Pending", 60)
    assert not ctx.link.accepted


async def test_heartbeat_is_recorded(ctx: Context, store: Harness) -> None:
    assert await call(ctx, "Heartbeat", {}) == {"currentTime": "2026-01-01T12:00:00.000Z"}
    assert store.charger.last_heartbeat_at == NOW


async def test_status_notification_keeps_the_connector_status(ctx: Context, store: Harness) -> None:
    payload = {"timestamp": T, "connectorStatus": "Faulted", "evseId": 2, "connectorId": 1}
    await call(ctx, "StatusNotification", payload)
    status = store.connectors[(2, 1)]
    assert (status.status, status.error_code, status.status_at) == (
        "Faulted",
        "NoError",
        parse_timestamp(T),
    )


REPORT_DATA: list[dict[str, Any]] = [
    {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "variableAttribute": [{"value": "300", "mutability": "ReadWrite"}],
        "variableCharacteristics": {
            "unit": "s",
            "dataType": "integer",
            "supportsMonitoring": False,
        },
    },
    {
        "component": {"name": "Connector", "instance": "A", "evse": {"id": 1, "connectorId": 2}},
        "variable": {"name": "ConnectorType", "instance": "main"},
        "variableAttribute": [
            {"type": "Actual", "value": "cType2", "mutability": "ReadOnly"},
            {"type": "Target"},
        ],
    },
    {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Power"},
        "variableAttribute": [{"type": "MaxSet", "value": "22000"}],
    },
]


def test_b07_report_data_to_device_model_rows() -> None:
    """B07/B08 NotifyReport: one row per variable attribute; -1 for an absent EVSE or
    connector; type defaults to Actual and mutability to ReadWrite (VariableAttributeType)."""
    assert variable_rows(REPORT_DATA) == [
        ("OCPPCommCtrlr", "", -1, -1, "HeartbeatInterval", "", "Actual", "300", "ReadWrite",
         {"unit": "s", "dataType": "integer", "supportsMonitoring": False}),
        ("Connector", "A", 1, 2, "ConnectorType", "main", "Actual", "cType2", "ReadOnly", None),
        ("Connector", "A", 1, 2, "ConnectorType", "main", "Target", None, "ReadWrite", None),
        ("EVSE", "", 1, -1, "Power", "", "MaxSet", "22000", "ReadWrite", None),
    ]  # fmt: skip


async def test_b07_notify_report_upserts_and_records_without_report_data(
    ctx: Context, store: Harness
) -> None:
    payload = {
        "requestId": 11,
        "generatedAt": T,
        "seqNo": 0,
        "tbc": True,
        "reportData": REPORT_DATA,
    }
    await call(ctx, "NotifyReport", payload)
    assert len(store.variables) == 4
    [event] = store.events
    assert event["action"] == "NotifyReport" and event["kind"] == "11"
    assert event["payload"] == {
        "requestId": 11,
        "generatedAt": T,
        "seqNo": 0,
        "tbc": True,
        "variables": 4,
    }
    assert event["occurred_at"] == parse_timestamp(T)


async def test_notify_event_one_row_per_event_and_e02_fr_05_availability(
    ctx: Context, store: Harness
) -> None:
    """E02.FR.05: Connector.AvailabilityState in a NotifyEvent updates the connector too."""

    def event(event_id: int, value: str, component: dict[str, Any], variable: str) -> Payload:
        return {
            "eventId": event_id,
            "timestamp": T,
            "trigger": "Alerting" if variable == "Temperature" else "Delta",
            "eventNotificationType": "HardWiredNotification",
            "actualValue": value,
            "component": component,
            "variable": {"name": variable},
        }

    connector = {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
    payload = {
        "generatedAt": T,
        "seqNo": 3,
        "eventData": [
            event(1, "Occupied", connector, "AvailabilityState"),
            event(2, "Unavailable", {"name": "EVSE", "evse": {"id": 2}}, "AvailabilityState"),
            event(3, "95", {"name": "Controller"}, "Temperature"),
        ],
    }
    await call(ctx, "NotifyEvent", payload)
    assert [e["kind"] for e in store.events] == ["Delta", "Delta", "Alerting"]
    assert store.events[2]["payload"]["seqNo"] == 3
    assert {k: s.status for k, s in store.connectors.items()} == {
        (1, 1): "Occupied",
        (2, 0): "Unavailable",
    }


async def test_firmware_status_also_on_the_charger(ctx: Context, store: Harness) -> None:
    await call(ctx, "FirmwareStatusNotification", {"status": "Installed", "requestId": 1})
    assert store.charger.firmware_status == "Installed"
    assert store.events[0]["kind"] == "Installed"


async def test_security_event_with_its_time(ctx: Context, store: Harness) -> None:
    payload = {"type": "InvalidCsmsCertificate", "timestamp": T, "techInfo": "x"}
    await call(ctx, "SecurityEventNotification", payload)
    [event] = store.events
    assert (event["kind"], event["occurred_at"], event["payload"]) == (
        "InvalidCsmsCertificate",
        parse_timestamp(T),
        payload,
    )


async def test_p02_fr_06_data_transfer_unknown_vendor(ctx: Context, store: Harness) -> None:
    response = await call(ctx, "DataTransfer", {"vendorId": "com.example"})
    assert response["status"] == "UnknownVendorId"
    assert store.events[0]["kind"] == "com.example"


async def test_k15_fr_04_ev_charging_needs_rejected_without_a_planner(
    ctx: Context, store: Harness
) -> None:
    payload = {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC"}}
    response = await call(ctx, "NotifyEVChargingNeeds", payload)
    assert response["status"] == "Rejected"
    assert response["statusInfo"]["reasonCode"] == "UnsupportedRequest"
    assert store.events[0]["kind"] == "DC"


async def test_k15_fr_11_ev_charging_schedule_accepted_no_csms_limit(
    ctx: Context, store: Harness
) -> None:
    schedule = {
        "id": 1,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    }
    response = await call(
        ctx,
        "NotifyEVChargingSchedule",
        {"timeBase": T, "evseId": 1, "chargingSchedule": schedule},
    )
    assert response == {"status": "Accepted"}
    assert store.events[0]["occurred_at"] == parse_timestamp(T)


async def test_a02_fr_12_sign_certificate_rejected_without_an_authority(
    ctx: Context, store: Harness
) -> None:
    payload = {"csr": "-----BEGIN CERTIFICATE REQUEST-----", "certificateType": "V2GCertificate"}
    response = await call(ctx, "SignCertificate", payload)
    assert response["status"] == "Rejected"
    assert response["statusInfo"]["reasonCode"] == "NoAuthority"
    assert (store.events[0]["action"], store.events[0]["kind"]) == ("SignCertificate", "Rejected")


async def test_m01_get_15118_ev_certificate_failed_without_pki(
    ctx: Context, store: Harness
) -> None:
    payload = {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Update",
        "exiRequest": "AA==",
    }
    response = await call(ctx, "Get15118EVCertificate", payload)
    assert (response["status"], response["exiResponse"]) == ("Failed", "")
    assert store.events[0]["kind"] == "Update"


async def test_m06_fr_04_certificate_status_failed_without_ocsp(
    ctx: Context, store: Harness
) -> None:
    ocsp = {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": "a",
        "issuerKeyHash": "b",
        "serialNumber": "7",
        "responderURL": "http://o",
    }
    response = await call(ctx, "GetCertificateStatus", {"ocspRequestData": ocsp})
    assert response["status"] == "Failed" and "ocspResult" not in response


async def test_meter_values_main_meter_no_transaction(ctx: Context, store: Harness) -> None:
    """J01: evseId 0 is the main meter; MeterValues are never linked to a transaction."""
    payload = {
        "evseId": 0,
        "meterValue": [
            {"timestamp": T, "sampledValue": [{"value": 7.5, "unitOfMeasure": {"unit": "kWh"}}]}
        ],
    }
    await call(ctx, "MeterValues", payload)
    [row] = store.sample_rows
    assert row[1:4] == (0, 0, None)
    assert (row[9], row[10]) == ("kWh", Decimal("7.5"))


async def test_reports_are_kept_by_request_id(ctx: Context, store: Harness) -> None:
    """Parts of one answer to a CSMS request share the kind = requestId."""
    await call(ctx, "NotifyDisplayMessages", {"requestId": 21, "tbc": True})
    await call(ctx, "NotifyMonitoringReport", {"requestId": 22, "seqNo": 0, "generatedAt": T})
    await call(
        ctx,
        "NotifyCustomerInformation",
        {"data": "d", "seqNo": 0, "generatedAt": T, "requestId": 23},
    )
    assert [e["kind"] for e in store.events] == ["21", "22", "23"]
