"""OCPP 1.6J (with the security whitepaper): the version object and its routing table."""

from __future__ import annotations

from collections.abc import Mapping

from csms.errors import ErrorKind
from csms.node.command_types import command_table
from csms.node.context import Handler
from csms.node.rpc import Dialect
from csms.node.v16 import commands, core, notifications, pricing, transactions
from csms.node.validation import OCPP_SCHEMAS, SchemaSet
from csms.node.version import OcppVersion

SUBPROTOCOL = "ocpp1.6"

# OCPP-J 1.6 section 4.2.3 (table 7), with the names chargers in the field use
# (FormationViolation, OccurenceConstraintViolation; see docs/reference/ocpp-coverage.md).
DIALECT = Dialect(
    subprotocol=SUBPROTOCOL,
    error_codes={
        ErrorKind.FORMAT: "FormationViolation",
        ErrorKind.OCCURRENCE: "OccurenceConstraintViolation",
        ErrorKind.TYPE: "TypeConstraintViolation",
        ErrorKind.PROPERTY: "PropertyConstraintViolation",
        ErrorKind.PROTOCOL: "ProtocolError",
        ErrorKind.RPC_FRAMEWORK: "FormationViolation",
        ErrorKind.MESSAGE_TYPE: "NotSupported",
        ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
        ErrorKind.NOT_SUPPORTED: "NotSupported",
        ErrorKind.SECURITY: "SecurityError",
        ErrorKind.INTERNAL: "InternalError",
        ErrorKind.GENERIC: "GenericError",
    },
    # 1.6 J 4.1.3: an unknown message type is ignored
    answers_unknown_message_type=False,
)

SCHEMAS = SchemaSet(OCPP_SCHEMAS / "v16" / "schemas", request_suffix="")

ROUTES: Mapping[str, Handler] = {
    "BootNotification": core.boot_notification,
    "Heartbeat": core.heartbeat,
    "StatusNotification": core.status_notification,
    "Authorize": core.authorize,
    "StartTransaction": transactions.start_transaction,
    "StopTransaction": transactions.stop_transaction,
    "MeterValues": transactions.meter_values,
    "DataTransfer": notifications.data_transfer,
    "DiagnosticsStatusNotification": notifications.diagnostics_status_notification,
    "FirmwareStatusNotification": notifications.firmware_status_notification,
    "SecurityEventNotification": notifications.security_event_notification,
    "LogStatusNotification": notifications.log_status_notification,
    "SignedFirmwareStatusNotification": notifications.signed_firmware_status_notification,
    "SignCertificate": notifications.sign_certificate,
}

VERSION = OcppVersion(
    subprotocol=SUBPROTOCOL,
    dialect=DIALECT,
    schemas=SCHEMAS,
    routes=ROUTES,
    commands=command_table(SCHEMAS, commands.ENTRIES),
    push_display=pricing.push_display,
)
