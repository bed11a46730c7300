"""Neutral commands as OCPP 2.0.1 CALLs (csms/node/v201/commands*.py), and how the same
neutral command maps onto 1.6 and 2.0.1. No database: the in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain import commands as neutral
from csms.domain.reports import Availability
from csms.errors import InvalidInput
from csms.node import v16, v201
from csms.node.v201 import SCHEMAS, VERSION
from csms.services import Services
from csms.services.reports import ReportService
from csms.store.memory import MemoryStores

COMMANDS = VERSION.commands
COMMANDS_16 = v16.VERSION.commands
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHARGE_POINT_ID = "CP-201"

# OCPP 2.0.1 part 2: every message the CSMS sends.
CSMS_INITIATED = set(
    """
    CancelReservation CertificateSigned ChangeAvailability ClearCache ClearChargingProfile
    ClearDisplayMessage ClearVariableMonitoring CostUpdated CustomerInformation DataTransfer
    DeleteCertificate GetBaseReport GetChargingProfiles GetCompositeSchedule GetDisplayMessages
    GetInstalledCertificateIds GetLocalListVersion GetLog GetMonitoringReport GetReport
    GetTransactionStatus GetVariables InstallCertificate PublishFirmware
    RequestStartTransaction RequestStopTransaction ReserveNow Reset SendLocalList
    SetChargingProfile SetDisplayMessage SetMonitoringBase SetMonitoringLevel SetNetworkProfile
    SetVariableMonitoring SetVariables TriggerMessage UnlockConnector UnpublishFirmware
    UpdateFirmware
    """.split()
)

PROFILE = {
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
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a1b2",
    "issuerKeyHash": "c3d4",
    "serialNumber": "01",
}
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
CONNECTION = {
    "ocppVersion": "OCPP20",
    "ocppTransport": "JSON",
    "ocppCsmsUrl": "wss://csms.example/ocpp",
    "messageTimeout": 30,
    "securityProfile": 2,
    "ocppInterface": "Wired0",
}
MONITOR = {
    "value": 90.0,
    "type": "UpperThreshold",
    "severity": 4,
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
}
MESSAGE = {
    "id": 1,
    "priority": "NormalCycle",
    "message": {"format": "UTF8", "content": "Welcome"},
}

# The least each command needs, and the params without which it is refused.
MINIMAL: dict[str, tuple[dict[str, Any], set[str]]] = {
    "remote_start": ({"id_token": "TAG1"}, {"id_token"}),
    "remote_stop": ({"transaction_id": "tx-1"}, {"transaction_id"}),
    "get_transaction_status": ({}, set()),
    "cost_updated": (
        {"total_cost": 12.5, "transaction_id": "tx-1"},
        {"total_cost", "transaction_id"},
    ),
    "reset": ({"type": "on_idle"}, {"type"}),
    "unlock_connector": ({"connector_id": 1}, {"connector_id"}),
    "change_availability": ({"operative": False}, {"operative"}),
    "trigger_message": ({"message": "Heartbeat"}, {"message"}),
    "clear_cache": ({}, set()),
    "data_transfer": ({"vendor_id": "com.acme"}, {"vendor_id"}),
    "send_local_list": (
        {"list_version": 3, "update_type": "full"},
        {"list_version", "update_type"},
    ),
    "get_local_list_version": ({}, set()),
    "reserve_now": (
        {"reservation_id": 7, "expiry_date": "2026-01-01T13:00:00Z", "id_token": "TAG1"},
        {"reservation_id", "expiry_date", "id_token"},
    ),
    "cancel_reservation": ({"reservation_id": 7}, {"reservation_id"}),
    "customer_information": ({"customer_identifier": "c-1"}, set()),
    "set_charging_profile": ({"charging_profile": PROFILE}, {"charging_profile"}),
    "clear_charging_profile": ({}, set()),
    "get_composite_schedule": ({"duration": 3600}, {"duration"}),
    "get_charging_profiles": ({}, set()),
    "get_configuration": ({"keys": ["OCPPCommCtrlr.HeartbeatInterval"]}, {"keys"}),
    "set_configuration": (
        {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": 300},
        {"key", "value"},
    ),
    "get_variables": ({"get_variable_data": [HEARTBEAT]}, {"get_variable_data"}),
    "set_variables": (
        {"set_variable_data": [HEARTBEAT | {"attributeValue": "300"}]},
        {"set_variable_data"},
    ),
    "get_base_report": ({"report_base": "FullInventory"}, {"report_base"}),
    "get_report": ({}, set()),
    "set_network_profile": (
        {"configuration_slot": 1, "connection_data": CONNECTION},
        {"configuration_slot", "connection_data"},
    ),
    "set_variable_monitoring": ({"set_monitoring_data": [MONITOR]}, {"set_monitoring_data"}),
    "clear_variable_monitoring": ({"ids": [1, 2]}, {"ids"}),
    "set_monitoring_base": ({"monitoring_base": "All"}, {"monitoring_base"}),
    "set_monitoring_level": ({"severity": 5}, {"severity"}),
    "get_monitoring_report": ({}, set()),
    "set_display_message": ({"message": MESSAGE}, {"message"}),
    "get_display_messages": ({}, set()),
    "clear_display_message": ({"id": 1}, {"id"}),
    "update_firmware": ({"location": "https://fw.example/cs.bin"}, {"location"}),
    "signed_update_firmware": (
        {"location": "https://fw.example/cs.bin", "certificate": "PEM", "signature": "c2ln"},
        {"location", "certificate", "signature"},
    ),
    "publish_firmware": (
        {"location": "https://fw.example/cs.bin", "checksum": "d41d8cd98f00b204e9800998ecf8427e"},
        {"location", "checksum"},
    ),
    "unpublish_firmware": ({"checksum": "d41d8cd98f00b204e9800998ecf8427e"}, {"checksum"}),
    "get_log": ({"location": "https://logs.example/up"}, {"location"}),
    "get_diagnostics": ({"location": "https://logs.example/up"}, {"location"}),
    "install_certificate": (
        {"certificate_type": "CSMSRootCertificate", "certificate": "PEM"},
        {"certificate_type", "certificate"},
    ),
    "delete_certificate": ({"certificate_hash_data": HASH}, {"certificate_hash_data"}),
    "get_installed_certificate_ids": ({}, set()),
    "certificate_signed": ({"certificate_chain": "PEM"}, {"certificate_chain"}),
}


@pytest.fixture
def stores() -> MemoryStores:
    return MemoryStores(clock=lambda: NOW)


@pytest.fixture
async def reports(stores: MemoryStores) -> ReportService:
    await stores.chargers.add(CHARGE_POINT_ID, password_hash=None)
    return Services(stores, clock=lambda: NOW).reports


def variables(stores: MemoryStores) -> list[tuple[Any, ...]]:
    """The device-model rows stored, by key."""
    data = stores.reports._data.variables
    return [tuple(row) for _, (row, _) in sorted(data.items(), key=lambda kv: kv[0])]


def build(command: str, **params: Any) -> dict[str, Any]:
    payload = COMMANDS[command].build(params, NOW)
    SCHEMAS.validate(COMMANDS[command].action, payload)
    return payload


def build_16(command: str, **params: Any) -> dict[str, Any]:
    payload = COMMANDS_16[command].build(params, NOW)
    v16.SCHEMAS.validate(COMMANDS_16[command].action, payload)
    return payload


def refused(command: str, **params: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        COMMANDS[command].build(params, NOW)
    message = str(info.value)
    assert message.startswith(f"{command}: ")
    return message


# -- the table ----------------------------------------------------------------------------------


def test_every_csms_initiated_action_has_a_command() -> None:
    assert {adapter.action for adapter in COMMANDS.values()} == CSMS_INITIATED


def test_every_action_is_a_command_or_a_handled_charger_message() -> None:
    assert SCHEMAS.actions == CSMS_INITIATED | set(v201.ROUTES)


def test_command_names_are_neutral_names() -> None:
    assert set(COMMANDS) <= neutral.COMMAND_NAMES
    assert set(MINIMAL) == set(COMMANDS)


def test_every_neutral_name_has_an_adapter_except_unblock_evse() -> None:
    """UnblockEvse is OCPP 2.1; 2.0.1 (and 1.6) have no such message."""
    assert neutral.COMMAND_NAMES - set(COMMANDS) - set(COMMANDS_16) == {"unblock_evse"}
    assert "UnblockEvse" not in SCHEMAS.actions


def test_shared_names_mean_the_same_in_both_versions() -> None:
    only_16 = set(COMMANDS_16) - set(COMMANDS)
    assert only_16 == {"extended_trigger_message"}


# -- every command ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(MINIMAL))
def test_minimal_params_build_a_valid_payload(command: str) -> None:
    build(command, **MINIMAL[command][0])


@pytest.mark.parametrize(
    ("command", "param"),
    sorted((command, param) for command, (_, required) in MINIMAL.items() for param in required),
)
def test_a_missing_required_param_is_refused(command: str, param: str) -> None:
    params = {k: v for k, v in MINIMAL[command][0].items() if k != param}
    assert param in refused(command, **params)


@pytest.mark.parametrize("command", sorted(MINIMAL))
def test_an_unknown_param_is_refused(command: str) -> None:
    assert "unknown param evseId" in refused(command, **MINIMAL[command][0], evseId=1)


def test_a_schema_violation_names_the_command_and_the_field() -> None:
    message = refused("get_base_report", report_base="Everything")
    assert "GetBaseReport" in message and "reportBase" in message
    assert "setVariableData" in refused("set_variables", set_variable_data=[{"component": {}}])


# -- the same command in both versions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("neutral_type", "type_16", "type_201"),
    [
        ("soft", "Soft", "OnIdle"),
        ("hard", "Hard", "Immediate"),
        ("on_idle", "Soft", "OnIdle"),
        ("immediate", "Hard", "Immediate"),
    ],
)
def test_reset(neutral_type: str, type_16: str, type_201: str) -> None:
    assert build_16("reset", type=neutral_type) == {"type": type_16}
    assert build("reset", type=neutral_type) == {"type": type_201}
    assert build("reset", type=neutral_type, evse_id=2) == {"type": type_201, "evseId": 2}


def test_remote_start() -> None:
    assert build_16("remote_start", id_token="TAG1", connector_id=2) == {
        "idTag": "TAG1",
        "connectorId": 2,
    }
    payload = build("remote_start", id_token="TAG1", connector_id=2)
    assert payload == {
        "idToken": {"idToken": "TAG1", "type": "Central"},
        "remoteStartId": payload["remoteStartId"],
        "evseId": 2,
    }
    assert 1 <= payload["remoteStartId"] <= 2**31 - 1
    assert build(
        "remote_start",
        id_token="04A2",
        id_token_type="ISO14443",
        evse_id=1,
        remote_start_id=77,
        charging_profile=PROFILE | {"chargingProfilePurpose": "TxProfile"},
    ) == {
        "idToken": {"idToken": "04A2", "type": "ISO14443"},
        "remoteStartId": 77,
        "evseId": 1,
        "chargingProfile": PROFILE | {"chargingProfilePurpose": "TxProfile"},
    }
    assert "type" in refused("remote_start", id_token="T", id_token_type="Passport")


def test_remote_start_ids_are_random() -> None:
    ids = {build("remote_start", id_token="T")["remoteStartId"] for _ in range(50)}
    assert len(ids) > 1


def test_remote_stop() -> None:
    assert build_16("remote_stop", transaction_id=42) == {"transactionId": 42}
    assert build("remote_stop", transaction_id=42) == {"transactionId": "42"}
    assert build("remote_stop", transaction_id="0c1f-77") == {"transactionId": "0c1f-77"}


def test_change_availability() -> None:
    assert build_16("change_availability", operative=False) == {
        "connectorId": 0,
        "type": "Inoperative",
    }
    assert build("change_availability", operative=False) == {"operationalStatus": "Inoperative"}
    assert build("change_availability", operative=True, connector_id=2) == {
        "operationalStatus": "Operative",
        "evse": {"id": 2},
    }
    assert build("change_availability", operative=True, evse_id=1, connector_id=2) == {
        "operationalStatus": "Operative",
        "evse": {"id": 1, "connectorId": 2},
    }
    assert build("change_availability", operative=True, connector_id=0) == {
        "operationalStatus": "Operative"
    }


def test_get_configuration() -> None:
    assert build_16("get_configuration", keys=["HeartbeatInterval"]) == {
        "key": ["HeartbeatInterval"]
    }
    assert build(
        "get_configuration",
        keys=["OCPPCommCtrlr.HeartbeatInterval", "TokenReader/front.Enabled/x"],
    ) == {
        "getVariableData": [
            HEARTBEAT,
            {
                "component": {"name": "TokenReader", "instance": "front"},
                "variable": {"name": "Enabled", "instance": "x"},
            },
        ]
    }
    assert "keys is required for OCPP 2.0.1" in refused("get_configuration")
    assert "Component.Variable" in refused("get_configuration", keys=["HeartbeatInterval"])


def test_set_configuration() -> None:
    assert build_16("set_configuration", key="HeartbeatInterval", value=300) == {
        "key": "HeartbeatInterval",
        "value": "300",
    }
    assert build("set_configuration", key="OCPPCommCtrlr.HeartbeatInterval", value=300) == {
        "setVariableData": [HEARTBEAT | {"attributeValue": "300"}]
    }


def test_unlock_connector() -> None:
    assert build_16("unlock_connector", connector_id=2) == {"connectorId": 2}
    assert build("unlock_connector", connector_id=2) == {"evseId": 2, "connectorId": 1}
    assert build("unlock_connector", evse_id=1, connector_id=2) == {"evseId": 1, "connectorId": 2}


def test_trigger_message() -> None:
    assert build("trigger_message", message="StatusNotification", evse_id=1, connector_id=1) == {
        "requestedMessage": "StatusNotification",
        "evse": {"id": 1, "connectorId": 1},
    }
    assert "requestedMessage" in refused("trigger_message", message="DiagnosticsStatusNotification")


def test_send_local_list_leaves_out_an_empty_list() -> None:
    assert build(
        "send_local_list", list_version=1, update_type="full", local_authorization_list=[]
    ) == {
        "versionNumber": 1,
        "updateType": "Full",
    }
    entries = [
        {"idToken": {"idToken": "T", "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
    ]
    assert (
        build(
            "send_local_list",
            list_version=2,
            update_type="differential",
            local_authorization_list=entries,
        )["localAuthorizationList"]
        == entries
    )


def test_reserve_now() -> None:
    assert build(
        "reserve_now",
        reservation_id=7,
        expiry_date="2026-01-01T13:00:00Z",
        id_token="TAG1",
        parent_id_token="GROUP",
        connector_id=2,
        connector_type="cType2",
    ) == {
        "id": 7,
        "expiryDateTime": "2026-01-01T13:00:00Z",
        "idToken": {"idToken": "TAG1", "type": "Central"},
        "evseId": 2,
        "connectorType": "cType2",
        "groupIdToken": {"idToken": "GROUP", "type": "Central"},
    }


def test_customer_information() -> None:
    payload = build(
        "customer_information",
        id_token={"idToken": "04A2", "type": "ISO14443"},
        clear=True,
        report=False,
        request_id=3,
    )
    assert payload == {
        "requestId": 3,
        "report": False,
        "clear": True,
        "idToken": {"idToken": "04A2", "type": "ISO14443"},
    }
    assert build("customer_information", id_token="T")["idToken"] == {
        "idToken": "T",
        "type": "Central",
    }
    assert build("customer_information")["report"] is True


def test_smart_charging() -> None:
    assert build("set_charging_profile", charging_profile=PROFILE) == {
        "evseId": 0,
        "chargingProfile": PROFILE,
    }
    assert build("clear_charging_profile") == {}
    assert build(
        "clear_charging_profile",
        charging_profile_id=3,
        evse_id=1,
        purpose="ChargePointMaxProfile",  # the 1.6 spelling
        stack_level=2,
    ) == {
        "chargingProfileId": 3,
        "chargingProfileCriteria": {
            "evseId": 1,
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "stackLevel": 2,
        },
    }
    assert build("get_composite_schedule", duration=60, connector_id=1, charging_rate_unit="A") == {
        "duration": 60,
        "evseId": 1,
        "chargingRateUnit": "A",
    }
    payload = build(
        "get_charging_profiles",
        evse_id=1,
        request_id=4,
        charging_profile_criteria={"chargingProfilePurpose": "TxProfile"},
    )
    assert payload == {
        "requestId": 4,
        "chargingProfile": {"chargingProfilePurpose": "TxProfile"},
        "evseId": 1,
    }


def test_firmware() -> None:
    payload = build("update_firmware", location="https://fw.example/a.bin", retries=2)
    assert payload == {
        "requestId": payload["requestId"],
        "firmware": {
            "location": "https://fw.example/a.bin",
            "retrieveDateTime": "2026-01-01T12:00:00.000Z",
        },
        "retries": 2,
    }
    # FirmwareType.installDateTime (2.24) without a signature: L02.FR.10 InstallScheduled
    scheduled = build(
        "update_firmware",
        location="https://fw.example/a.bin",
        install_date="2026-02-02T00:00:00Z",
        request_id=5,
    )
    assert scheduled["firmware"]["installDateTime"] == "2026-02-02T00:00:00Z"
    assert build(
        "signed_update_firmware",
        location="https://fw.example/a.bin",
        certificate="PEM",
        signature="c2ln",
        retrieve_date="2026-02-01T00:00:00Z",
        install_date="2026-02-02T00:00:00Z",
        request_id=9,
    ) == {
        "requestId": 9,
        "firmware": {
            "location": "https://fw.example/a.bin",
            "retrieveDateTime": "2026-02-01T00:00:00Z",
            "signingCertificate": "PEM",
            "signature": "c2ln",
            "installDateTime": "2026-02-02T00:00:00Z",
        },
    }


def test_logs() -> None:
    assert build("get_log", location="https://l.example/", log_type="security", request_id=1) == {
        "logType": "SecurityLog",
        "requestId": 1,
        "log": {"remoteLocation": "https://l.example/"},
    }
    assert build("get_diagnostics", location="https://l.example/")["logType"] == "DiagnosticsLog"
    assert "log_type must be one of diagnostics, security" in refused(
        "get_log", location="https://l.example/", log_type="DiagnosticsLog"
    )


def test_certificates_accept_either_versions_spelling() -> None:
    assert build(
        "install_certificate", certificate_type="CentralSystemRootCertificate", certificate="P"
    ) == {"certificateType": "CSMSRootCertificate", "certificate": "P"}
    assert build(
        "get_installed_certificate_ids",
        certificate_type=["CentralSystemRootCertificate", "V2GCertificateChain"],
    ) == {"certificateType": ["CSMSRootCertificate", "V2GCertificateChain"]}
    assert build("get_installed_certificate_ids", certificate_type="MORootCertificate") == {
        "certificateType": ["MORootCertificate"]
    }
    assert "certificate_type must be among" in refused(
        "get_installed_certificate_ids", certificate_type=["Nope"]
    )


def test_display_and_monitoring() -> None:
    assert build("get_display_messages", ids=[1, 2], state="Idle", request_id=8) == {
        "requestId": 8,
        "id": [1, 2],
        "state": "Idle",
    }
    assert build("clear_variable_monitoring", ids=[4]) == {"id": [4]}
    assert "ids must be a non-empty list" in refused("clear_variable_monitoring", ids=[])


def test_data_transfer_passes_structured_data() -> None:
    assert build("data_transfer", vendor_id="com.acme", data={"a": [1]}) == {
        "vendorId": "com.acme",
        "data": {"a": [1]},
    }


# -- persistence --------------------------------------------------------------------------------


async def persist(
    command: str, request: dict[str, Any], response: dict[str, Any], reports: ReportService
) -> None:
    adapter = COMMANDS[command]
    SCHEMAS.validate(adapter.action, response, response=True)
    assert adapter.persist is not None
    await adapter.persist(reports, CHARGE_POINT_ID, request, response)


@pytest.mark.parametrize(
    ("params", "evse_id", "connector_id"),
    [({}, 0, 0), ({"connector_id": 2}, 2, 0), ({"evse_id": 1, "connector_id": 2}, 1, 2)],
)
async def test_change_availability_records_the_answer(
    reports: ReportService, params: dict[str, Any], evse_id: int, connector_id: int
) -> None:
    request = build("change_availability", operative=True, **params)
    await persist("change_availability", request, {"status": "Rejected"}, reports)
    assert await reports.availability(CHARGE_POINT_ID) == [
        Availability(evse_id, connector_id, True, "Rejected", NOW)
    ]


@pytest.mark.parametrize("command", ["get_configuration", "get_variables"])
async def test_read_variables_are_stored(
    reports: ReportService, stores: MemoryStores, command: str
) -> None:
    request = {"getVariableData": [HEARTBEAT]}  # what the charger was asked does not matter
    response = {
        "getVariableResult": [
            HEARTBEAT | {"attributeStatus": "Accepted", "attributeValue": "300"},
            {
                "attributeStatus": "Accepted",
                "attributeType": "Target",
                "attributeValue": "22000",
                "component": {"name": "EVSE", "evse": {"id": 1, "connectorId": 2}},
                "variable": {"name": "Power", "instance": "max"},
            },
            {
                "attributeStatus": "UnknownVariable",
                "component": {"name": "X"},
                "variable": {"name": "Y"},
            },
        ]
    }
    await persist(command, request, response, reports)
    assert variables(stores) == [
        ("EVSE", "", 1, 2, "Power", "max", "Target", "22000", None, None),
        ("OCPPCommCtrlr", "", -1, -1, "HeartbeatInterval", "", "Actual", "300", None, None),
    ]
    [heartbeat] = [v for v in await reports.configuration(CHARGE_POINT_ID) if v.evse_id is None]
    assert (heartbeat.key, heartbeat.value) == ("OCPPCommCtrlr.HeartbeatInterval", "300")


@pytest.mark.parametrize(
    ("status", "stored"),
    [("Accepted", True), ("RebootRequired", True), ("Rejected", False), ("UnknownVariable", False)],
)
async def test_set_configuration_stores_a_value_the_charger_took(
    reports: ReportService, stores: MemoryStores, status: str, stored: bool
) -> None:
    request = build("set_configuration", key="OCPPCommCtrlr.HeartbeatInterval", value=600)
    response = {"setVariableResult": [HEARTBEAT | {"attributeStatus": status}]}
    await persist("set_configuration", request, response, reports)
    row = ("OCPPCommCtrlr", "", -1, -1, "HeartbeatInterval", "", "Actual", "600", None, None)
    assert variables(stores) == ([row] if stored else [])


async def test_set_variables_stores_each_accepted_value_by_identity(
    reports: ReportService, stores: MemoryStores
) -> None:
    power = {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "Power"},
        "attributeType": "MaxSet",
    }
    request = build(
        "set_variables",
        set_variable_data=[
            HEARTBEAT | {"attributeValue": "600"},
            power | {"attributeValue": "11000"},
        ],
    )
    response = {  # answered in another order, one refused
        "setVariableResult": [
            power | {"attributeStatus": "Accepted"},
            HEARTBEAT | {"attributeStatus": "Rejected"},
        ]
    }
    await persist("set_variables", request, response, reports)
    assert variables(stores) == [("EVSE", "", 1, -1, "Power", "", "MaxSet", "11000", None, None)]


def test_only_configuration_and_availability_persist() -> None:
    assert {name for name, a in COMMANDS.items() if a.persist is not None} == {
        "change_availability",
        "get_configuration",
        "set_configuration",
        "get_variables",
        "set_variables",
    }
