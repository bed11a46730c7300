"""Every action a charger may send has a handler, in both versions, and is documented."""

from pathlib import Path

from csms.node import v16, v201

DOC = Path(__file__).resolve().parents[3] / "docs" / "reference" / "ocpp-coverage.md"

# OCPP 1.6 edition 2 section 4 plus the security whitepaper (edition 3) section 4.
CHARGER_INITIATED_16 = {
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction", "LogStatusNotification",
    "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
}  # fmt: skip

# OCPP 2.0.1 part 2: every message whose request the Charging Station sends.
CHARGER_INITIATED_201 = {
    "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
    "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
    "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
    "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
    "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
    "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
}  # fmt: skip


def test_ocpp16_routes_every_charger_initiated_action() -> None:
    assert set(v16.ROUTES) == CHARGER_INITIATED_16


def test_ocpp201_routes_every_charger_initiated_action() -> None:
    assert set(v201.ROUTES) == CHARGER_INITIATED_201


def test_coverage_doc_lists_every_routed_action() -> None:
    text = DOC.read_text(encoding="utf-8")
    for action in CHARGER_INITIATED_16 | CHARGER_INITIATED_201:
        assert f"| {action} | charger → CSMS |" in text, action
