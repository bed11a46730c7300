"""Neutral commands as OCPP 2.0.1 CALLs: every CSMS-initiated 2.0.1 action.

This module has the transaction, availability, authorization and smart charging commands
and assembles ``ENTRIES``; configuration (``commands_variables``), monitoring and display
(``commands_monitoring``), firmware, logs and certificates (``commands_security``) live beside
it. docs/reference/commands.md is the table.
"""

from __future__ import annotations

from csms.domain.commands import ParamReader, new_request_id
from csms.node.command_types import Entry, Payload, with_optional
from csms.node.v201 import commands_monitoring, commands_security, commands_variables
from csms.node.v201.commands_common import (
    FIRST_CONNECTOR,
    WHOLE_STATION,
    evse,
    evse_and_connector,
    evse_id,
    id_token,
)
from csms.node.v201.convert import GROUP_TOKEN_TYPE
from csms.services.reports import ReportService

RESET_TYPES = {"soft": "OnIdle", "hard": "Immediate", "on_idle": "OnIdle", "immediate": "Immediate"}
UPDATE_TYPES = {
    "full": "Full",
    "differential": "Differential",
    "Full": "Full",
    "Differential": "Differential",
}
RATE_UNITS = {"A": "A", "W": "W"}
# Either version's spelling is accepted for values the versions name differently.
PURPOSES = {
    "ChargingStationMaxProfile": "ChargingStationMaxProfile",
    "ChargePointMaxProfile": "ChargingStationMaxProfile",  # the 1.6 name
    "ChargingStationExternalConstraints": "ChargingStationExternalConstraints",
    "TxDefaultProfile": "TxDefaultProfile",
    "TxProfile": "TxProfile",
}


# -- transactions -----------------------------------------------------------------------------


def remote_start(p: ParamReader) -> Payload:
    remote_start_id = p.opt_integer("remote_start_id")
    return with_optional(
        {
            "idToken": id_token(p),
            "remoteStartId": new_request_id() if remote_start_id is None else remote_start_id,
        },
        evseId=evse_id(p),
        chargingProfile=p.opt_mapping("charging_profile"),
    )


def remote_stop(p: ParamReader) -> Payload:
    return {"transactionId": p.text("transaction_id")}


def get_transaction_status(p: ParamReader) -> Payload:
    return with_optional({}, transactionId=p.opt_text("transaction_id"))


def cost_updated(p: ParamReader) -> Payload:
    return {"totalCost": p.number("total_cost"), "transactionId": p.text("transaction_id")}


# -- charger control --------------------------------------------------------------------------


def reset(p: ParamReader) -> Payload:
    return with_optional({"type": p.choice("type", RESET_TYPES)}, evseId=p.opt_integer("evse_id"))


def unlock_connector(p: ParamReader) -> Payload:
    where, connector_id = evse_and_connector(p)
    if where is None:
        raise p.error("connector_id is required")
    return {
        "evseId": where,
        "connectorId": FIRST_CONNECTOR if connector_id is None else connector_id,
    }


def change_availability(p: ParamReader) -> Payload:
    status = "Operative" if p.boolean("operative") else "Inoperative"
    return with_optional({"operationalStatus": status}, evse=evse(p))


async def record_availability(
    reports: ReportService, charge_point_id: str, request: Payload, response: Payload
) -> None:
    where = request.get("evse") or {}
    await reports.availability_answered(
        charge_point_id,
        evse_id=where.get("id", WHOLE_STATION),
        connector_id=where.get("connectorId", 0),
        operative=request["operationalStatus"] == "Operative",
        answer=response["status"],
    )


def trigger_message(p: ParamReader) -> Payload:
    return with_optional({"requestedMessage": p.text("message")}, evse=evse(p))


def no_params(p: ParamReader) -> Payload:
    return {}


def data_transfer(p: ParamReader) -> Payload:
    return with_optional(
        {"vendorId": p.text("vendor_id")},
        messageId=p.opt_text("message_id"),
        data=p.value("data"),
    )


# -- authorization and reservations -----------------------------------------------------------


def send_local_list(p: ParamReader) -> Payload:
    entries = p.opt_items("local_authorization_list", allow_empty=True)
    return with_optional(
        {
            "versionNumber": p.integer("list_version"),
            "updateType": p.choice("update_type", UPDATE_TYPES),
        },
        localAuthorizationList=entries or None,  # 2.0.1: an empty list is left out
    )


def reserve_now(p: ParamReader) -> Payload:
    parent = p.opt_text("parent_id_token")
    return with_optional(
        {
            "id": p.integer("reservation_id"),
            "expiryDateTime": p.text("expiry_date"),
            "idToken": id_token(p),
        },
        evseId=evse_id(p),
        connectorType=p.opt_text("connector_type"),
        groupIdToken=None if parent is None else {"idToken": parent, "type": GROUP_TOKEN_TYPE},
    )


def cancel_reservation(p: ParamReader) -> Payload:
    return {"reservationId": p.integer("reservation_id")}


def customer_information(p: ParamReader) -> Payload:
    return with_optional(
        {
            "requestId": p.request_id(),
            "report": p.boolean("report", default=True),
            "clear": p.boolean("clear", default=False),
        },
        customerIdentifier=p.opt_text("customer_identifier"),
        idToken=id_token(p) if p.has("id_token") else None,
        customerCertificate=p.opt_mapping("customer_certificate"),
    )


# -- smart charging ---------------------------------------------------------------------------


def _evse_or_station(p: ParamReader) -> int:
    where = evse_id(p)
    return WHOLE_STATION if where is None else where


def set_charging_profile(p: ParamReader) -> Payload:
    return {"evseId": _evse_or_station(p), "chargingProfile": p.mapping("charging_profile")}


def clear_charging_profile(p: ParamReader) -> Payload:
    criteria = with_optional(
        {},
        evseId=evse_id(p),
        chargingProfilePurpose=p.choice("purpose", PURPOSES) if p.has("purpose") else None,
        stackLevel=p.opt_integer("stack_level"),
    )
    return with_optional(
        {},
        chargingProfileId=p.opt_integer("charging_profile_id"),
        chargingProfileCriteria=criteria or None,
    )


def get_composite_schedule(p: ParamReader) -> Payload:
    unit = p.choice("charging_rate_unit", RATE_UNITS) if p.has("charging_rate_unit") else None
    return with_optional(
        {"duration": p.integer("duration"), "evseId": _evse_or_station(p)},
        chargingRateUnit=unit,
    )


def get_charging_profiles(p: ParamReader) -> Payload:
    return with_optional(
        {
            "requestId": p.request_id(),
            "chargingProfile": p.opt_mapping("charging_profile_criteria") or {},
        },
        evseId=evse_id(p),
    )


ENTRIES: tuple[Entry, ...] = (
    ("remote_start", "RequestStartTransaction", remote_start, None),
    ("remote_stop", "RequestStopTransaction", remote_stop, None),
    ("get_transaction_status", "GetTransactionStatus", get_transaction_status, None),
    ("cost_updated", "CostUpdated", cost_updated, None),
    ("reset", "Reset", reset, None),
    ("unlock_connector", "UnlockConnector", unlock_connector, None),
    ("change_availability", "ChangeAvailability", change_availability, record_availability),
    ("trigger_message", "TriggerMessage", trigger_message, None),
    ("clear_cache", "ClearCache", no_params, None),
    ("data_transfer", "DataTransfer", data_transfer, None),
    ("send_local_list", "SendLocalList", send_local_list, None),
    ("get_local_list_version", "GetLocalListVersion", no_params, None),
    ("reserve_now", "ReserveNow", reserve_now, None),
    ("cancel_reservation", "CancelReservation", cancel_reservation, None),
    ("customer_information", "CustomerInformation", customer_information, None),
    ("set_charging_profile", "SetChargingProfile", set_charging_profile, None),
    ("clear_charging_profile", "ClearChargingProfile", clear_charging_profile, None),
    ("get_composite_schedule", "GetCompositeSchedule", get_composite_schedule, None),
    ("get_charging_profiles", "GetChargingProfiles", get_charging_profiles, None),
    *commands_variables.ENTRIES,
    *commands_monitoring.ENTRIES,
    *commands_security.ENTRIES,
)
