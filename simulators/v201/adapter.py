"""OCPP 2.0.1 messages sent by the station, and what it learns from their answers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from simulators.config import StationConfig
from simulators.display import Display
from simulators.meter import Reading, energy_reading
from simulators.offline import TransactionMessage
from simulators.schemas import SchemaSet
from simulators.transaction import Transaction, timestamp
from simulators.v201 import tariff
from simulators.v201.messages import (
    CONNECTOR_STATUS,
    DEFAULT_STOP_TRIGGER,
    STOPPED_REASON,
    TRIGGER_BY_CONTEXT,
    TRIGGER_BY_REASON,
    id_token_field,
    meter_value,
)
from simulators.v201.routes import ROUTES
from simulators.v201.variables import default_variables

Message = tuple[str, dict[str, Any]]


class V201Adapter:
    """OCPP 2.0.1 (see :class:`simulators.adapter.VersionAdapter`)."""

    version = "2.0.1"
    subprotocol = "ocpp2.0.1"
    schemas = SchemaSet("v201", "Request")
    routes = ROUTES
    statuses_before_start: tuple[str, ...] = ("Occupied",)
    statuses_after_start: tuple[str, ...] = ()
    statuses_after_stop: tuple[str, ...] = ("Available",)
    #: the final cost is totalCost in the answer to the Ended event
    final_cost_follows_stop = False
    error_codes: Mapping[str, str] = {
        "format": "FormatViolation",
        "occurrence": "OccurrenceConstraintViolation",
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
        "not_implemented": "NotImplemented",
        "not_supported": "NotSupported",
        "internal": "InternalError",
        "framing": "RpcFrameworkError",
    }
    security_profile_key = "SecurityCtrlr.SecurityProfile"
    priority_key: str | None = "OCPPCommCtrlr.NetworkConfigurationPriority"

    def default_configuration(self, config: StationConfig) -> tuple[dict[str, str], set[str]]:
        return default_variables(config)

    def boot_notification(self, config: StationConfig, reason: str) -> Message:
        station: dict[str, Any] = {"model": config.model, "vendorName": config.vendor}
        if config.serial_number:
            station["serialNumber"] = config.serial_number
        if config.firmware_version:
            station["firmwareVersion"] = config.firmware_version
        return "BootNotification", {"chargingStation": station, "reason": reason}

    def heartbeat(self) -> Message:
        return "Heartbeat", {}

    def status_notification(self, connector_id: int, status: str, error_code: str) -> Message:
        return "StatusNotification", {
            "timestamp": timestamp(),
            "connectorStatus": CONNECTOR_STATUS.get(status, status),
            "evseId": connector_id,
            "connectorId": 1,
        }

    def authorize(self, id_token: str) -> Message:
        return "Authorize", {"idToken": id_token_field(id_token, "ISO14443")}

    def new_transaction(self, connector_id: int, id_token: str, meter_start_wh: int) -> Transaction:
        return Transaction(
            connector_id,
            id_token,
            transaction_id=str(uuid.uuid4()),
            meter_wh=float(meter_start_wh),
            meter_start_wh=meter_start_wh,
        )

    def _event(
        self, tx: Transaction, event_type: str, trigger_reason: str, moment: str | None = None
    ) -> dict[str, Any]:
        return {
            "eventType": event_type,
            "timestamp": moment or timestamp(),
            "triggerReason": trigger_reason,
            "seqNo": tx.take_seq_no(),
            "transactionInfo": {"transactionId": tx.transaction_id},
            "evse": {"id": tx.connector_id, "connectorId": 1},
        }

    def start_transaction(self, tx: Transaction, trigger_reason: str) -> TransactionMessage:
        payload = self._event(tx, "Started", trigger_reason, timestamp(tx.started_at))
        payload["transactionInfo"]["chargingState"] = "Charging"
        if tx.remote_start_id is not None:
            payload["transactionInfo"]["remoteStartId"] = tx.remote_start_id
        payload["idToken"] = id_token_field(tx.id_token, tx.id_token_type)
        payload["meterValue"] = [meter_value([energy_reading(tx)], "Transaction.Begin")]
        return TransactionMessage("TransactionEvent", payload, tx, "start")

    def meter_values(
        self, tx: Transaction, readings: list[Reading], context: str
    ) -> TransactionMessage:
        payload = self._event(tx, "Updated", TRIGGER_BY_CONTEXT.get(context, "Trigger"))
        payload["transactionInfo"]["chargingState"] = "Charging"
        payload["meterValue"] = [meter_value(readings, context)]
        return TransactionMessage("TransactionEvent", payload, tx, "update")

    def stop_transaction(self, tx: Transaction, reason: str) -> TransactionMessage:
        trigger = TRIGGER_BY_REASON.get(reason, DEFAULT_STOP_TRIGGER)
        payload = self._event(tx, "Ended", trigger)
        payload["transactionInfo"]["stoppedReason"] = STOPPED_REASON.get(reason, reason)
        payload["transactionInfo"]["chargingState"] = (
            "Idle" if reason == "EVDisconnected" else "EVConnected"
        )
        if trigger == "StopAuthorized":
            payload["idToken"] = id_token_field(tx.id_token, tx.id_token_type)
        payload["meterValue"] = [meter_value([energy_reading(tx)], "Transaction.End")]
        return TransactionMessage("TransactionEvent", payload, tx, "stop")

    def mark_offline(self, message: TransactionMessage) -> None:
        message.payload["offline"] = True

    def finalize(self, message: TransactionMessage) -> dict[str, Any] | None:
        return message.payload

    def on_delivered(self, message: TransactionMessage, response: dict[str, Any]) -> None:
        """The 2.0.1 transaction id is the station's own: nothing to learn."""

    def heartbeat_interval(self, boot_response: dict[str, Any]) -> int | None:
        interval = boot_response.get("interval")
        return int(interval) if isinstance(interval, int) else None

    def authorization_status(self, response: dict[str, Any]) -> str:
        info = response.get("idTokenInfo")
        return str(info.get("status", "")) if isinstance(info, dict) else ""

    def show_authorize(
        self,
        display: Display,
        configuration: Mapping[str, str],
        id_token: str,
        response: dict[str, Any],
    ) -> None:
        tariff.show_authorize(display, configuration, id_token, response)

    def show_transaction_answer(
        self,
        display: Display,
        configuration: Mapping[str, str],
        message: TransactionMessage,
        response: dict[str, Any] | None,
    ) -> None:
        tariff.show_transaction_answer(display, configuration, message, response)


V201 = V201Adapter()
