"""OCPP 1.6J: the routing table of charger-initiated actions."""

from __future__ import annotations

from collections.abc import Mapping

from csms.node.context import Handler
from csms.node.rpc import OCPP16
from csms.node.v16 import core, notifications, transactions

DIALECT = OCPP16

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
