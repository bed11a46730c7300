"""Neutral commands as OCPP 1.6 CALLs (csms/node/v16/commands.py), and the neutral vocabulary
they share with 2.0.1 (csms/domain/commands.py). No database: the in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from csms.domain import commands as neutral
from csms.domain.reports import Availability, ConfigurationValue
from csms.errors import InvalidInput
from csms.node import v16
from csms.node.v16 import SCHEMAS, VERSION
from csms.services import Services
from csms.services.reports import ReportService
from csms.store.memory import MemoryStores

COMMANDS = VERSION.commands
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHARGE_POINT_ID = "CP-16"

# OCPP 1.6 edition 2 section 5 (Central System to Charge Point) + security whitepaper ed. 3.
CSMS_INITIATED = set(
    """
    CancelReservation ChangeAvailability ChangeConfiguration ClearCache ClearChargingProfile
    DataTransfer GetCompositeSchedule GetConfiguration GetDiagnostics GetLocalListVersion
    RemoteStartTransaction RemoteStopTransaction ReserveNow Reset SendLocalList
    SetChargingProfile TriggerMessage UnlockConnector UpdateFirmware CertificateSigned
    DeleteCertificate ExtendedTriggerMessage GetInstalledCertificateIds GetLog
    InstallCertificate SignedUpdateFirmware
    """.split()
)

PROFILE = {
    "chargingProfileId": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}
HASH = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a1b2",
    "issuerKeyHash": "c3d4",
    "serialNumber": "01",
}

# The least each command needs, and the params without which it is refused.
MINIMAL: dict[str, tuple[dict[str, Any], set[str]]] = {
    "remote_start": ({"id_token": "TAG1"}, {"id_token"}),
    "remote_stop": ({"transaction_id": 42}, {"transaction_id"}),
    "reset": ({"type": "soft"}, {"type"}),
    "unlock_connector": ({"connector_id": 1}, {"connector_id"}),
    "change_availability": ({"operative": False}, {"operative"}),
    "trigger_message": ({"message": "Heartbeat"}, {"message"}),
    "extended_trigger_message": ({"message": "SignChargePointCertificate"}, {"message"}),
    "clear_cache": ({}, set()),
    "data_transfer": ({"vendor_id": "com.acme"}, {"vendor_id"}),
    "get_configuration": ({}, set()),
    "set_configuration": ({"key": "HeartbeatInterval", "value": 300}, {"key", "value"}),
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
    "set_charging_profile": ({"charging_profile": PROFILE}, {"charging_profile"}),
    "clear_charging_profile": ({}, set()),
    "get_composite_schedule": ({"duration": 3600}, {"duration"}),
    "update_firmware": ({"location": "https://fw.example/cp.bin"}, {"location"}),
    "signed_update_firmware": (
        {"location": "https://fw.example/cp.bin", "certificate": "PEM", "signature": "c2ln"},
        {"location", "certificate", "signature"},
    ),
    "get_log": ({"location": "https://logs.example/up"}, {"location"}),
    "get_diagnostics": ({"location": "ftp://logs.example/up"}, {"location"}),
    "install_certificate": (
        {"certificate_type": "CentralSystemRootCertificate", "certificate": "PEM"},
        {"certificate_type", "certificate"},
    ),
    "delete_certificate": ({"certificate_hash_data": HASH}, {"certificate_hash_data"}),
    "get_installed_certificate_ids": (
        {"certificate_type": "ManufacturerRootCertificate"},
        {"certificate_type"},
    ),
    "certificate_signed": ({"certificate_chain": "PEM"}, {"certificate_chain"}),
}


@pytest.fixture
async def reports() -> ReportService:
    stores = MemoryStores(clock=lambda: NOW)
    services = Services(stores, clock=lambda: NOW)
    await stores.chargers.add(CHARGE_POINT_ID, password_hash=None)
    return services.reports


def build(command: str, **params: Any) -> dict[str, Any]:
    payload = COMMANDS[command].build(params, NOW)
    SCHEMAS.validate(COMMANDS[command].action, payload)
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
    assert CSMS_INITIATED <= SCHEMAS.actions
    assert SCHEMAS.actions == CSMS_INITIATED | set(v16.ROUTES)


def test_command_names_are_neutral_names() -> None:
    assert set(COMMANDS) <= neutral.COMMAND_NAMES
    assert set(MINIMAL) == set(COMMANDS)


def test_every_neutral_name_is_described_and_snake_case() -> None:
    assert set(neutral.DESCRIPTIONS) == neutral.COMMAND_NAMES == set(neutral.PARAMS)
    for name in neutral.COMMAND_NAMES:
        assert name == name.lower() and " " not in name and "-" not in name
        assert neutral.DESCRIPTIONS[name]


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
    message = refused(command, **MINIMAL[command][0], connectorId=1)
    assert "unknown param connectorId" in message


@pytest.mark.parametrize("command", sorted(MINIMAL))
def test_params_must_be_an_object(command: str) -> None:
    with pytest.raises(InvalidInput, match="params must be a JSON object"):
        COMMANDS[command].build(["not", "an", "object"], NOW)  # type: ignore[arg-type]


def test_a_schema_violation_names_the_command_and_the_field() -> None:
    message = refused("remote_start", id_token="T" * 21)
    assert "RemoteStartTransaction" in message and "idTag" in message


def test_a_wrong_type_names_the_param() -> None:
    assert refused("remote_stop", transaction_id="abc") == (
        "remote_stop: transaction_id must be an integer"
    )
    assert "operative must be true or false" in refused("change_availability", operative="yes")


# -- translations -------------------------------------------------------------------------------


def test_remote_start() -> None:
    assert build("remote_start", id_token="TAG1") == {"idTag": "TAG1"}
    assert build(
        "remote_start",
        id_token="TAG1",
        connector_id=2,
        charging_profile=PROFILE | {"chargingProfilePurpose": "TxProfile"},
        id_token_type="ISO14443",  # 2.0.1 only: accepted, not sent
        remote_start_id=9,
    ) == {
        "idTag": "TAG1",
        "connectorId": 2,
        "chargingProfile": PROFILE | {"chargingProfilePurpose": "TxProfile"},
    }


def test_evse_id_is_the_connector_id() -> None:
    """A 1.6 connector is what 2.0.1 calls an EVSE."""
    assert build("remote_start", id_token="T", evse_id=2)["connectorId"] == 2
    assert build("unlock_connector", evse_id=2, connector_id=1) == {"connectorId": 2}
    assert build("trigger_message", message="StatusNotification", evse_id=3) == {
        "requestedMessage": "StatusNotification",
        "connectorId": 3,
    }


def test_remote_stop_sends_an_integer() -> None:
    assert build("remote_stop", transaction_id=42) == {"transactionId": 42}
    assert build("remote_stop", transaction_id="42") == {"transactionId": 42}


@pytest.mark.parametrize(
    ("neutral_type", "ocpp_type"),
    [("soft", "Soft"), ("hard", "Hard"), ("on_idle", "Soft"), ("immediate", "Hard")],
)
def test_reset(neutral_type: str, ocpp_type: str) -> None:
    assert build("reset", type=neutral_type) == {"type": ocpp_type}


def test_reset_refuses_an_evse_and_unknown_types() -> None:
    assert "as a whole" in refused("reset", type="soft", evse_id=1)
    assert "type must be one of hard, immediate, on_idle, soft" in refused("reset", type="Soft")


def test_change_availability() -> None:
    assert build("change_availability", operative=False) == {
        "connectorId": 0,
        "type": "Inoperative",
    }
    assert build("change_availability", operative=True, connector_id=2) == {
        "connectorId": 2,
        "type": "Operative",
    }


def test_get_configuration() -> None:
    assert build("get_configuration") == {}
    assert build("get_configuration", keys=["HeartbeatInterval", "MeterValueSampleInterval"]) == {
        "key": ["HeartbeatInterval", "MeterValueSampleInterval"]
    }
    assert build("get_configuration", keys="HeartbeatInterval") == {"key": ["HeartbeatInterval"]}
    assert "keys must be a non-empty list" in refused("get_configuration", keys=[])


@pytest.mark.parametrize(
    ("value", "text"),
    [(300, "300"), ("300", "300"), (True, "true"), (False, "false"), (0.5, "0.5")],
)
def test_set_configuration_writes_values_as_text(value: Any, text: str) -> None:
    assert build("set_configuration", key="K", value=value) == {"key": "K", "value": text}


def test_data_transfer_sends_structured_data_as_json_text() -> None:
    assert build("data_transfer", vendor_id="com.acme", message_id="m", data={"a": [1]}) == {
        "vendorId": "com.acme",
        "messageId": "m",
        "data": '{"a":[1]}',
    }
    assert build("data_transfer", vendor_id="com.acme", data="raw")["data"] == "raw"


def test_send_local_list() -> None:
    entries = [{"idTag": "TAG1", "idTagInfo": {"status": "Accepted"}}]
    assert build(
        "send_local_list",
        list_version=4,
        update_type="differential",
        local_authorization_list=entries,
    ) == {"listVersion": 4, "updateType": "Differential", "localAuthorizationList": entries}
    # a Full update with an empty list empties the charger's list
    assert (
        build("send_local_list", list_version=5, update_type="Full", local_authorization_list=[])[
            "localAuthorizationList"
        ]
        == []
    )


def test_reserve_now() -> None:
    assert build(
        "reserve_now",
        reservation_id=7,
        expiry_date="2026-01-01T13:00:00Z",
        id_token="TAG1",
        parent_id_token="GROUP",
        connector_id=1,
        connector_type="cType2",  # 2.0.1 only
    ) == {
        "connectorId": 1,
        "expiryDate": "2026-01-01T13:00:00Z",
        "idTag": "TAG1",
        "reservationId": 7,
        "parentIdTag": "GROUP",
    }
    assert build("reserve_now", **MINIMAL["reserve_now"][0])["connectorId"] == 0
    assert "expiryDate" in refused(
        "reserve_now", reservation_id=7, expiry_date="tomorrow", id_token="T"
    )


def test_smart_charging() -> None:
    assert build("set_charging_profile", charging_profile=PROFILE) == {
        "connectorId": 0,
        "csChargingProfiles": PROFILE,
    }
    assert build(
        "clear_charging_profile",
        charging_profile_id=3,
        connector_id=1,
        purpose="ChargingStationMaxProfile",  # the 2.0.1 spelling
        stack_level=2,
    ) == {
        "id": 3,
        "connectorId": 1,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "stackLevel": 2,
    }
    assert "purpose must be one of" in refused("clear_charging_profile", purpose="Nope")
    assert build("get_composite_schedule", duration=60, charging_rate_unit="W", evse_id=1) == {
        "connectorId": 1,
        "duration": 60,
        "chargingRateUnit": "W",
    }


def test_update_firmware_retrieves_now_unless_told() -> None:
    assert build("update_firmware", location="https://fw.example/a.bin") == {
        "location": "https://fw.example/a.bin",
        "retrieveDate": "2026-01-01T12:00:00.000Z",
    }
    assert build(
        "update_firmware",
        location="https://fw.example/a.bin",
        retrieve_date="2026-02-01T00:00:00Z",
        retries=3,
        retry_interval=60,
    ) == {
        "location": "https://fw.example/a.bin",
        "retrieveDate": "2026-02-01T00:00:00Z",
        "retries": 3,
        "retryInterval": 60,
    }

    # 1.6 UpdateFirmware.req (6.55) has no install time: refused, never dropped silently
    assert "no install time" in refused(
        "update_firmware", location="https://fw.example/a.bin", install_date="2026-02-01T00:00:00Z"
    )


def test_signed_update_firmware() -> None:
    payload = build(
        "signed_update_firmware",
        location="https://fw.example/a.bin",
        certificate="PEM",
        signature="c2ln",
        install_date="2026-01-02T00:00:00Z",
        request_id=12,
        retries=1,
    )
    assert payload == {
        "requestId": 12,
        "firmware": {
            "location": "https://fw.example/a.bin",
            "retrieveDateTime": "2026-01-01T12:00:00.000Z",
            "signingCertificate": "PEM",
            "signature": "c2ln",
            "installDateTime": "2026-01-02T00:00:00Z",
        },
        "retries": 1,
    }


def test_logs() -> None:
    payload = build(
        "get_log",
        location="https://logs.example/up",
        log_type="security",
        oldest_timestamp="2026-01-01T00:00:00Z",
        request_id=5,
    )
    assert payload == {
        "logType": "SecurityLog",
        "requestId": 5,
        "log": {
            "remoteLocation": "https://logs.example/up",
            "oldestTimestamp": "2026-01-01T00:00:00Z",
        },
    }
    assert build("get_log", location="https://l.example/")["logType"] == "DiagnosticsLog"
    assert build(
        "get_diagnostics",
        location="ftp://logs.example/up",
        oldest_timestamp="2026-01-01T00:00:00Z",
        latest_timestamp="2026-01-02T00:00:00Z",
        retries=2,
        retry_interval=30,
    ) == {
        "location": "ftp://logs.example/up",
        "startTime": "2026-01-01T00:00:00Z",
        "stopTime": "2026-01-02T00:00:00Z",
        "retries": 2,
        "retryInterval": 30,
    }


def test_certificates_accept_either_versions_spelling() -> None:
    assert build(
        "install_certificate", certificate_type="CSMSRootCertificate", certificate="P"
    ) == {
        "certificateType": "CentralSystemRootCertificate",
        "certificate": "P",
    }
    assert build("get_installed_certificate_ids", certificate_type=["CSMSRootCertificate"]) == {
        "certificateType": "CentralSystemRootCertificate"
    }
    assert "one certificate type at a time" in refused(
        "get_installed_certificate_ids",
        certificate_type=["CSMSRootCertificate", "ManufacturerRootCertificate"],
    )
    assert build(
        "certificate_signed", certificate_chain="P", certificate_type="ChargingStationCertificate"
    ) == {"certificateChain": "P"}
    assert "ChargingStationCertificate" in refused(
        "certificate_signed", certificate_chain="P", certificate_type="V2GCertificate"
    )


# -- request ids --------------------------------------------------------------------------------


def test_request_ids_are_generated_positive_int32() -> None:
    ids = {build("get_log", location="https://l.example/")["requestId"] for _ in range(50)}
    assert len(ids) > 1
    assert all(1 <= i <= 2**31 - 1 for i in ids)


def test_numbers_are_accepted_as_text() -> None:
    """`csms command ... --id-token 1234` decodes 1234 as JSON."""
    assert build("remote_start", id_token=1234) == {"idTag": "1234"}


# -- persistence --------------------------------------------------------------------------------


async def persist(
    command: str, request: dict[str, Any], response: dict[str, Any], reports: ReportService
) -> None:
    adapter = COMMANDS[command]
    SCHEMAS.validate(adapter.action, response, response=True)
    assert adapter.persist is not None
    await adapter.persist(reports, CHARGE_POINT_ID, request, response)


async def test_change_availability_records_the_answer(reports: ReportService) -> None:
    request = build("change_availability", operative=False, connector_id=2)
    await persist("change_availability", request, {"status": "Scheduled"}, reports)
    assert await reports.availability(CHARGE_POINT_ID) == [
        Availability(evse_id=0, connector_id=2, operative=False, answer="Scheduled", updated_at=NOW)
    ]


async def test_get_configuration_stores_the_keys(reports: ReportService) -> None:
    response = {
        "configurationKey": [
            {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            {"key": "AuthorizationKey", "readonly": False},
        ],
        "unknownKey": ["Nope"],
    }
    await persist("get_configuration", build("get_configuration"), response, reports)
    assert await reports.configuration(CHARGE_POINT_ID) == [
        ConfigurationValue("AuthorizationKey", None, False, NOW),
        ConfigurationValue("HeartbeatInterval", "300", False, NOW),
        ConfigurationValue("NumberOfConnectors", "2", True, NOW),
    ]


@pytest.mark.parametrize(
    ("status", "stored"),
    [("Accepted", True), ("RebootRequired", True), ("Rejected", False), ("NotSupported", False)],
)
async def test_set_configuration_stores_a_value_the_charger_took(
    reports: ReportService, status: str, stored: bool
) -> None:
    request = build("set_configuration", key="HeartbeatInterval", value=600)
    await persist("set_configuration", request, {"status": status}, reports)
    expected = [ConfigurationValue("HeartbeatInterval", "600", None, NOW)]
    assert await reports.configuration(CHARGE_POINT_ID) == (expected if stored else [])


def test_only_configuration_and_availability_persist() -> None:
    assert {name for name, a in COMMANDS.items() if a.persist is not None} == {
        "change_availability",
        "get_configuration",
        "set_configuration",
    }


def test_reading_an_undeclared_param_is_a_bug_not_an_operator_error() -> None:
    with pytest.raises(LookupError):
        neutral.ParamReader("clear_cache", {}).opt_text("key")
