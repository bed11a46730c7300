"""OCPP 2.0.1: the routing table of charger-initiated actions.

One module per functional block of part 2 (B provisioning, C authorization, E transactions,
G availability, H reservation, J meter values, K smart charging, L firmware, A/M security
and certificates, N diagnostics, O display, P data transfer).
"""

from __future__ import annotations

from collections.abc import Mapping

from csms.errors import ErrorKind
from csms.node.command_types import command_table
from csms.node.context import Handler
from csms.node.rpc import Dialect
from csms.node.v201 import (
    authorization,
    availability,
    certificates,
    commands,
    data_transfer,
    diagnostics,
    display,
    firmware,
    meter_values,
    provisioning,
    reservation,
    smart_charging,
    tariff_cost,
    transactions,
)
from csms.node.validation import OCPP_SCHEMAS, SchemaSet
from csms.node.version import OcppVersion

SUBPROTOCOL = "ocpp2.0.1"

# OCPP-J 2.0.1 part 4 section 4.3 (table "Valid Error Codes").
DIALECT = Dialect(
    subprotocol=SUBPROTOCOL,
    error_codes={
        ErrorKind.FORMAT: "FormatViolation",
        ErrorKind.OCCURRENCE: "OccurrenceConstraintViolation",
        ErrorKind.TYPE: "TypeConstraintViolation",
        ErrorKind.PROPERTY: "PropertyConstraintViolation",
        ErrorKind.PROTOCOL: "ProtocolError",
        ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
        ErrorKind.MESSAGE_TYPE: "MessageTypeNotSupported",
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.SECURITY: "SecurityError",
        ErrorKind.INTERNAL: "InternalError",
        ErrorKind.GENERIC: "GenericError",
    },
    # part 4 4.1.3: an unknown message type is answered MessageTypeNotSupported
    answers_unknown_message_type=True,
)

SCHEMAS = SchemaSet(OCPP_SCHEMAS / "v201" / "schemas", request_suffix="Request")

ROUTES: Mapping[str, Handler] = {
    # B. Provisioning
    "BootNotification": provisioning.boot_notification,
    "Heartbeat": provisioning.heartbeat,
    "NotifyReport": provisioning.notify_report,
    # C. Authorization
    "Authorize": authorization.authorize,
    # E. Transactions
    "TransactionEvent": transactions.transaction_event,
    # G. Availability
    "StatusNotification": availability.status_notification,
    # H. Reservation
    "ReservationStatusUpdate": reservation.reservation_status_update,
    # J. Meter values
    "MeterValues": meter_values.meter_values,
    # K. Smart charging
    "ClearedChargingLimit": smart_charging.cleared_charging_limit,
    "NotifyChargingLimit": smart_charging.notify_charging_limit,
    "ReportChargingProfiles": smart_charging.report_charging_profiles,
    "NotifyEVChargingNeeds": smart_charging.notify_ev_charging_needs,
    "NotifyEVChargingSchedule": smart_charging.notify_ev_charging_schedule,
    # L. Firmware management
    "FirmwareStatusNotification": firmware.firmware_status_notification,
    "PublishFirmwareStatusNotification": firmware.publish_firmware_status_notification,
    # A. Security / M. ISO 15118 certificate management
    "SecurityEventNotification": certificates.security_event_notification,
    "SignCertificate": certificates.sign_certificate,
    "Get15118EVCertificate": certificates.get_15118_ev_certificate,
    "GetCertificateStatus": certificates.get_certificate_status,
    # N. Diagnostics
    "LogStatusNotification": diagnostics.log_status_notification,
    "NotifyEvent": diagnostics.notify_event,
    "NotifyMonitoringReport": diagnostics.notify_monitoring_report,
    "NotifyCustomerInformation": diagnostics.notify_customer_information,
    # O. Display messages
    "NotifyDisplayMessages": display.notify_display_messages,
    # P. Data transfer
    "DataTransfer": data_transfer.data_transfer,
}

VERSION = OcppVersion(
    subprotocol=SUBPROTOCOL,
    dialect=DIALECT,
    schemas=SCHEMAS,
    routes=ROUTES,
    commands=command_table(SCHEMAS, commands.ENTRIES),
    push_display=tariff_cost.push_display,
)
