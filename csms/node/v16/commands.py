"""Neutral commands as OCPP 1.6 CALLs (security whitepaper actions included).

One adapter per CSMS-initiated 1.6 action; docs/reference/commands.md is the table. A 1.6
connector is what 2.0.1 calls an EVSE, so ``evse_id`` (when given) is the 1.6 connectorId,
else ``connector_id`` is.
"""

from __future__ import annotations

import json

from csms.domain.clock import format_timestamp
from csms.domain.commands import ParamReader
from csms.node.command_types import Entry, Payload, with_optional
from csms.services.reports import ReportService

WHOLE_CHARGER = 0  # connectorId 0: the charge point as a whole
# charger_availability / connector status rows of 1.6 chargers use evse 0 (see v16/core.py)
NO_EVSE = 0
CHANGED = frozenset({"Accepted", "RebootRequired"})  # ConfigurationStatus that took the value

RESET_TYPES = {"soft": "Soft", "hard": "Hard", "on_idle": "Soft", "immediate": "Hard"}
UPDATE_TYPES = {
    "full": "Full",
    "differential": "Differential",
    "Full": "Full",
    "Differential": "Differential",
}
LOG_TYPES = {"diagnostics": "DiagnosticsLog", "security": "SecurityLog"}
RATE_UNITS = {"A": "A", "W": "W"}
# Either version's spelling is accepted for values the versions name differently.
PURPOSES = {
    "ChargePointMaxProfile": "ChargePointMaxProfile",
    "ChargingStationMaxProfile": "ChargePointMaxProfile",
    "TxDefaultProfile": "TxDefaultProfile",
    "TxProfile": "TxProfile",
}
CERTIFICATE_TYPES = {
    "CentralSystemRootCertificate": "CentralSystemRootCertificate",
    "CSMSRootCertificate": "CentralSystemRootCertificate",
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
}
CHARGER_CERTIFICATE = "ChargingStationCertificate"  # the only kind 1.6 CertificateSigned has


def connector(p: ParamReader) -> int | None:
    evse_id = p.opt_integer("evse_id")
    return evse_id if evse_id is not None else p.opt_integer("connector_id")


# -- transactions and charger control ---------------------------------------------------------


def remote_start(p: ParamReader) -> Payload:
    # id_token_type and remote_start_id have no 1.6 field
    return with_optional(
        {"idTag": p.text("id_token")},
        connectorId=connector(p),
        chargingProfile=p.opt_mapping("charging_profile"),
    )


def remote_stop(p: ParamReader) -> Payload:
    return {"transactionId": p.integer("transaction_id")}


def reset(p: ParamReader) -> Payload:
    if p.has("evse_id"):
        raise p.error("evse_id: an OCPP 1.6 charger can only be reset as a whole")
    return {"type": p.choice("type", RESET_TYPES)}


def unlock_connector(p: ParamReader) -> Payload:
    connector_id = connector(p)
    if connector_id is None:
        raise p.error("connector_id is required")
    return {"connectorId": connector_id}


def change_availability(p: ParamReader) -> Payload:
    operative = p.boolean("operative")
    connector_id = connector(p)
    return {
        "connectorId": WHOLE_CHARGER if connector_id is None else connector_id,
        "type": "Operative" if operative else "Inoperative",
    }


async def record_availability(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    await reports.availability_answered(
        charge_point_id,
        evse_id=NO_EVSE,
        connector_id=request["connectorId"],
        operative=request["type"] == "Operative",
        answer=response["status"],
    )


def trigger_message(p: ParamReader) -> Payload:
    return with_optional({"requestedMessage": p.text("message")}, connectorId=connector(p))


def no_params(p: ParamReader) -> Payload:
    return {}


def data_transfer(p: ParamReader) -> Payload:
    data = p.value("data")
    if data is not None and not isinstance(data, str):
        data = json.dumps(data, separators=(",", ":"))  # 1.6 data is text
    return with_optional(
        {"vendorId": p.text("vendor_id")}, messageId=p.opt_text("message_id"), data=data
    )


# -- configuration ----------------------------------------------------------------------------


def get_configuration(p: ParamReader) -> Payload:
    return {"key": p.texts("keys")} if p.has("keys") else {}


async def store_configuration(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    rows = [
        (entry["key"], entry.get("value"), entry["readonly"])
        for entry in response.get("configurationKey", [])
    ]
    await reports.configuration_reported(charge_point_id, rows)


def change_configuration(p: ParamReader) -> Payload:
    return {"key": p.text("key"), "value": p.setting("value")}


async def store_changed_key(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    if response["status"] in CHANGED:
        await reports.configuration_reported(
            charge_point_id, [(request["key"], request["value"], None)]
        )


# -- local list, reservations, smart charging -------------------------------------------------


def send_local_list(p: ParamReader) -> Payload:
    return with_optional(
        {
            "listVersion": p.integer("list_version"),
            "updateType": p.choice("update_type", UPDATE_TYPES),
        },
        localAuthorizationList=p.opt_items("local_authorization_list", allow_empty=True),
    )


def reserve_now(p: ParamReader) -> Payload:
    # id_token_type and connector_type have no 1.6 field
    connector_id = connector(p)
    return with_optional(
        {
            "connectorId": WHOLE_CHARGER if connector_id is None else connector_id,
            "expiryDate": p.text("expiry_date"),
            "idTag": p.text("id_token"),
            "reservationId": p.integer("reservation_id"),
        },
        parentIdTag=p.opt_text("parent_id_token"),
    )


def cancel_reservation(p: ParamReader) -> Payload:
    return {"reservationId": p.integer("reservation_id")}


def set_charging_profile(p: ParamReader) -> Payload:
    connector_id = connector(p)
    return {
        "connectorId": WHOLE_CHARGER if connector_id is None else connector_id,
        "csChargingProfiles": p.mapping("charging_profile"),
    }


def clear_charging_profile(p: ParamReader) -> Payload:
    return with_optional(
        {},
        id=p.opt_integer("charging_profile_id"),
        connectorId=connector(p),
        chargingProfilePurpose=p.choice("purpose", PURPOSES) if p.has("purpose") else None,
        stackLevel=p.opt_integer("stack_level"),
    )


def get_composite_schedule(p: ParamReader) -> Payload:
    connector_id = connector(p)
    return with_optional(
        {
            "connectorId": WHOLE_CHARGER if connector_id is None else connector_id,
            "duration": p.integer("duration"),
        },
        chargingRateUnit=(
            p.choice("charging_rate_unit", RATE_UNITS) if p.has("charging_rate_unit") else None
        ),
    )


# -- firmware and logs ------------------------------------------------------------------------


def _retrieve_date(p: ParamReader) -> str:
    return p.opt_text("retrieve_date") or format_timestamp(p.now)


def update_firmware(p: ParamReader) -> Payload:
    # request_id has no UpdateFirmware field
    if p.has("install_date"):
        raise p.error(
            "install_date: OCPP 1.6 UpdateFirmware has no install time "
            "(signed_update_firmware has one)"
        )
    return with_optional(
        {"location": p.text("location"), "retrieveDate": _retrieve_date(p)},
        retries=p.opt_integer("retries"),
        retryInterval=p.opt_integer("retry_interval"),
    )


def signed_update_firmware(p: ParamReader) -> Payload:
    firmware = with_optional(
        {
            "location": p.text("location"),
            "retrieveDateTime": _retrieve_date(p),
            "signingCertificate": p.text("certificate"),
            "signature": p.text("signature"),
        },
        installDateTime=p.opt_text("install_date"),
    )
    return with_optional(
        {"requestId": p.request_id(), "firmware": firmware},
        retries=p.opt_integer("retries"),
        retryInterval=p.opt_integer("retry_interval"),
    )


def get_log(p: ParamReader) -> Payload:
    log = with_optional(
        {"remoteLocation": p.text("location")},
        oldestTimestamp=p.opt_text("oldest_timestamp"),
        latestTimestamp=p.opt_text("latest_timestamp"),
    )
    return with_optional(
        {
            "logType": p.choice("log_type", LOG_TYPES, default="diagnostics"),
            "requestId": p.request_id(),
            "log": log,
        },
        retries=p.opt_integer("retries"),
        retryInterval=p.opt_integer("retry_interval"),
    )


def get_diagnostics(p: ParamReader) -> Payload:
    return with_optional(
        {"location": p.text("location")},
        startTime=p.opt_text("oldest_timestamp"),
        stopTime=p.opt_text("latest_timestamp"),
        retries=p.opt_integer("retries"),
        retryInterval=p.opt_integer("retry_interval"),
    )


# -- certificates (security whitepaper) -------------------------------------------------------


def install_certificate(p: ParamReader) -> Payload:
    return {
        "certificateType": p.choice("certificate_type", CERTIFICATE_TYPES),
        "certificate": p.text("certificate"),
    }


def delete_certificate(p: ParamReader) -> Payload:
    return {"certificateHashData": p.mapping("certificate_hash_data")}


def get_installed_certificate_ids(p: ParamReader) -> Payload:
    types = p.texts("certificate_type")
    if len(types) != 1:
        raise p.error("certificate_type: OCPP 1.6 chargers list one certificate type at a time")
    if types[0] not in CERTIFICATE_TYPES:
        raise p.error("certificate_type must be one of " + ", ".join(sorted(CERTIFICATE_TYPES)))
    return {"certificateType": CERTIFICATE_TYPES[types[0]]}


def certificate_signed(p: ParamReader) -> Payload:
    kind = p.opt_text("certificate_type")
    if kind not in (None, CHARGER_CERTIFICATE):
        raise p.error(f"certificate_type: OCPP 1.6 chargers only take {CHARGER_CERTIFICATE}")
    return {"certificateChain": p.text("certificate_chain")}


ENTRIES: tuple[Entry, ...] = (
    ("remote_start", "RemoteStartTransaction", remote_start, None),
    ("remote_stop", "RemoteStopTransaction", remote_stop, None),
    ("reset", "Reset", reset, None),
    ("unlock_connector", "UnlockConnector", unlock_connector, None),
    ("change_availability", "ChangeAvailability", change_availability, record_availability),
    ("trigger_message", "TriggerMessage", trigger_message, None),
    ("extended_trigger_message", "ExtendedTriggerMessage", trigger_message, None),
    ("clear_cache", "ClearCache", no_params, None),
    ("data_transfer", "DataTransfer", data_transfer, None),
    ("get_configuration", "GetConfiguration", get_configuration, store_configuration),
    ("set_configuration", "ChangeConfiguration", change_configuration, store_changed_key),
    ("send_local_list", "SendLocalList", send_local_list, None),
    ("get_local_list_version", "GetLocalListVersion", no_params, None),
    ("reserve_now", "ReserveNow", reserve_now, None),
    ("cancel_reservation", "CancelReservation", cancel_reservation, None),
    ("set_charging_profile", "SetChargingProfile", set_charging_profile, None),
    ("clear_charging_profile", "ClearChargingProfile", clear_charging_profile, None),
    ("get_composite_schedule", "GetCompositeSchedule", get_composite_schedule, None),
    ("update_firmware", "UpdateFirmware", update_firmware, None),
    ("signed_update_firmware", "SignedUpdateFirmware", signed_update_firmware, None),
    ("get_log", "GetLog", get_log, None),
    ("get_diagnostics", "GetDiagnostics", get_diagnostics, None),
    ("install_certificate", "InstallCertificate", install_certificate, None),
    ("delete_certificate", "DeleteCertificate", delete_certificate, None),
    (
        "get_installed_certificate_ids",
        "GetInstalledCertificateIds",
        get_installed_certificate_ids,
        None,
    ),
    ("certificate_signed", "CertificateSigned", certificate_signed, None),
)
