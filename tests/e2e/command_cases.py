"""The neutral commands every charger gets in the command round-trip test, with the OCPP
action each must become and what the simulated station answers (docs/reference/commands.md,
simulators/v16/routes.py, simulators/v201/routes.py).

Cases here leave the station idle and change nothing the later steps depend on; the ones
with follow-ups (sessions, firmware, availability, configuration, reset: the station
reboots) are steps of the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

VENDOR = "SimVendor"  # the simulator's vendor id: its DataTransfer answers Accepted


def _root_certificate() -> str:
    """A self-signed CA certificate (the simulator parses what it installs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "e2e root")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM).decode()


CERTIFICATE = _root_certificate()
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a1b2",
    "issuerKeyHash": "c3d4",
    "serialNumber": "01",
}
PROFILE_16 = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}
PROFILE_201 = {
    "id": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {
            "id": 1,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        }
    ],
}
OFFLINE_THRESHOLD = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "OfflineThreshold"},
}
MONITOR = {
    "value": 90.0,
    "type": "UpperThreshold",
    "severity": 4,
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
}
MESSAGE = {"id": 1, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "Hi"}}


@dataclass(frozen=True)
class Case:
    command: str
    params: dict[str, Any]
    action: str
    # every item must be in the charger's response
    expect: dict[str, Any] = field(default_factory=dict)


def local_list_entry(version: str, id_token: str) -> dict[str, Any]:
    if version == "1.6":
        return {"idTag": id_token, "idTagInfo": {"status": "Accepted"}}
    return {
        "idToken": {"idToken": id_token, "type": "ISO14443"},
        "idTokenInfo": {"status": "Accepted"},
    }


def expiry() -> str:
    moment = datetime.now(UTC) + timedelta(hours=1)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def common_cases(version: str, id_token: str) -> list[Case]:
    """Commands both versions have (1.6 action / 2.0.1 action where they differ)."""
    v16 = version == "1.6"
    list_version = {"listVersion": 7} if v16 else {"versionNumber": 7}
    return [
        Case("unlock_connector", {"connector_id": 2}, "UnlockConnector", {"status": "Unlocked"}),
        Case("clear_cache", {}, "ClearCache", {"status": "Accepted"}),
        Case(
            "data_transfer",
            {"vendor_id": VENDOR, "message_id": "e2e", "data": {"ping": 1}},
            "DataTransfer",
            {"status": "Accepted"},
        ),
        Case(
            "data_transfer",
            {"vendor_id": "com.unknown"},
            "DataTransfer",
            {"status": "UnknownVendorId"},
        ),
        Case(
            "send_local_list",
            {
                "list_version": 7,
                "update_type": "full",
                "local_authorization_list": [local_list_entry(version, id_token)],
            },
            "SendLocalList",
            {"status": "Accepted"},
        ),
        Case("get_local_list_version", {}, "GetLocalListVersion", list_version),
        Case(
            "set_charging_profile",
            {"charging_profile": PROFILE_16 if v16 else PROFILE_201, "connector_id": 1},
            "SetChargingProfile",
            {"status": "Accepted"},
        ),
        Case(
            "clear_charging_profile",
            {"charging_profile_id": 1},
            "ClearChargingProfile",
            # the 2.0.1 simulator keeps no profiles: nothing matches
            {"status": "Accepted" if v16 else "Unknown"},
        ),
        Case(
            "get_composite_schedule",
            {"duration": 3600, "connector_id": 1, "charging_rate_unit": "W"},
            "GetCompositeSchedule",
            {"status": "Accepted"},
        ),
        # certificate management (1.6 security whitepaper, 2.0.1 A/M): the neutral spelling
        # CSMSRootCertificate is accepted for both versions
        Case(
            "install_certificate",
            {"certificate_type": "CSMSRootCertificate", "certificate": CERTIFICATE},
            "InstallCertificate",
            {"status": "Accepted"},
        ),
        Case(
            "get_installed_certificate_ids",
            {"certificate_type": "ManufacturerRootCertificate"},
            "GetInstalledCertificateIds",
            {"status": "NotFound"},
        ),
        Case(
            "delete_certificate",
            {"certificate_hash_data": HASH},
            "DeleteCertificate",
            {"status": "NotFound"},
        ),
        # a chain for no CSR the station sent: it refuses it (A02.FR.07)
        Case(
            "certificate_signed",
            {"certificate_chain": CERTIFICATE},
            "CertificateSigned",
            {"status": "Rejected"},
        ),
        Case(
            "raw",
            {"action": "GetLocalListVersion", "payload": {}},
            "GetLocalListVersion",
            list_version,
        ),
    ]


def v201_cases(request_ids: dict[str, int]) -> list[Case]:
    """Commands only 2.0.1 has (no session running)."""
    return [
        Case(
            "get_variables",
            {"get_variable_data": [OFFLINE_THRESHOLD]},
            "GetVariables",
            {"getVariableResult": [{"attributeStatus": "Accepted", **OFFLINE_THRESHOLD}]},
        ),
        Case(
            "set_variables",
            {"set_variable_data": [{**OFFLINE_THRESHOLD, "attributeValue": "90"}]},
            "SetVariables",
            {"setVariableResult": [{"attributeStatus": "Accepted", **OFFLINE_THRESHOLD}]},
        ),
        Case(
            "get_base_report",
            {"report_base": "FullInventory", "request_id": request_ids["report"]},
            "GetBaseReport",
            {"status": "Accepted"},
        ),
        Case(
            "customer_information",
            {"customer_identifier": "e2e-customer", "request_id": request_ids["customer"]},
            "CustomerInformation",
            {"status": "Accepted"},
        ),
        Case(
            "set_display_message", {"message": MESSAGE}, "SetDisplayMessage", {"status": "Accepted"}
        ),
        Case(
            "set_variable_monitoring",
            {"set_monitoring_data": [MONITOR]},
            "SetVariableMonitoring",
            {"setMonitoringResult": [{"status": "Rejected", "type": "UpperThreshold"}]},
        ),
        Case(
            "get_transaction_status",
            {},
            "GetTransactionStatus",
            {"messagesInQueue": False},
        ),
    ]


def matches(expected: Any, actual: Any) -> bool:
    """``actual`` has everything ``expected`` has (dicts: a subset; lists: item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)
