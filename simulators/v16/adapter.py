"""OCPP 1.6J messages sent by the station, and what it learns from their answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpp.v16.enums import ConfigurationKey

from simulators.config import StationConfig
from simulators.display import Display
from simulators.meter import Reading, energy_reading
from simulators.offline import TransactionMessage
from simulators.schemas import SchemaSet
from simulators.transaction import Transaction, timestamp
from simulators.v16 import costmsg
from simulators.v16.messages import meter_value
from simulators.v16.routes import ROUTES

Message = tuple[str, dict[str, Any]]

_READ_ONLY = {
    ConfigurationKey.number_of_connectors: "{connectors}",
    ConfigurationKey.supported_feature_profiles: (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    ),
    ConfigurationKey.get_configuration_max_keys: "50",
    ConfigurationKey.charge_profile_max_stack_level: "8",
    ConfigurationKey.local_auth_list_max_length: "100",
    ConfigurationKey.send_local_list_max_length: "100",
    ConfigurationKey.meter_values_sampled_data_max_length: "8",
}
_READ_WRITE = {
    # raised by ChangeConfiguration only (security whitepaper A05; simulators.security)
    ConfigurationKey.security_profile: "{security_profile}",
    ConfigurationKey.heartbeat_interval: "300",
    ConfigurationKey.meter_value_sample_interval: "{meter_interval}",
    ConfigurationKey.clock_aligned_data_interval: "0",
    ConfigurationKey.connection_time_out: "60",
    ConfigurationKey.meter_values_sampled_data: (
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
    ),
    ConfigurationKey.meter_values_aligned_data: "Energy.Active.Import.Register",
    ConfigurationKey.stop_txn_sampled_data: "Energy.Active.Import.Register",
    ConfigurationKey.stop_txn_aligned_data: "",
    ConfigurationKey.authorize_remote_tx_requests: "false",
    ConfigurationKey.local_authorize_offline: "true",
    ConfigurationKey.local_pre_authorize: "false",
    ConfigurationKey.local_auth_list_enabled: "true",
    ConfigurationKey.authorization_cache_enabled: "false",
    ConfigurationKey.stop_transaction_on_ev_side_disconnect: "true",
    ConfigurationKey.stop_transaction_on_invalid_id: "true",
    ConfigurationKey.unlock_connector_on_ev_side_disconnect: "true",
    ConfigurationKey.transaction_message_attempts: "3",
    ConfigurationKey.transaction_message_retry_interval: "60",
    ConfigurationKey.reset_retries: "1",
    ConfigurationKey.web_socket_ping_interval: "20",
}


class V16Adapter:
    """OCPP 1.6J (see :class:`simulators.adapter.VersionAdapter`)."""

    version = "1.6"
    subprotocol = "ocpp1.6"
    schemas = SchemaSet("v16", "")
    routes = ROUTES
    statuses_before_start: tuple[str, ...] = ("Preparing",)
    statuses_after_start: tuple[str, ...] = ("Charging",)
    statuses_after_stop: tuple[str, ...] = ("Finishing", "Available")
    #: California Pricing: FinalCost is a DataTransfer that follows StopTransaction.conf
    final_cost_follows_stop = True
    error_codes: Mapping[str, str] = {
        "format": "FormationViolation",  # sic: OCPP-J 1.6 spelling, kept by the errata
        "occurrence": "OccurenceConstraintViolation",  # sic, idem
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
        "not_implemented": "NotImplemented",
        "not_supported": "NotSupported",
        "internal": "InternalError",
        "framing": "ProtocolError",
    }
    security_profile_key = "SecurityProfile"
    priority_key: str | None = None

    def default_configuration(self, config: StationConfig) -> tuple[dict[str, str], set[str]]:
        values = {
            "connectors": config.connectors,
            "meter_interval": max(1, round(config.meter_interval)),
            "security_profile": 1 if config.password else 0,
        }
        keys = {str(k): v.format(**values) for k, v in (_READ_ONLY | _READ_WRITE).items()}
        pricing, pricing_read_only = costmsg.default_configuration(config)
        return keys | pricing, {str(k) for k in _READ_ONLY} | pricing_read_only

    def boot_notification(self, config: StationConfig, reason: str) -> Message:
        payload = {"chargePointVendor": config.vendor, "chargePointModel": config.model}
        if config.serial_number:
            payload["chargePointSerialNumber"] = config.serial_number
        if config.firmware_version:
            payload["firmwareVersion"] = config.firmware_version
        return "BootNotification", payload

    def heartbeat(self) -> Message:
        return "Heartbeat", {}

    def status_notification(self, connector_id: int, status: str, error_code: str) -> Message:
        return "StatusNotification", {
            "connectorId": connector_id,
            "errorCode": error_code,
            "status": status,
            "timestamp": timestamp(),
        }

    def authorize(self, id_token: str) -> Message:
        return "Authorize", {"idTag": id_token}

    def new_transaction(self, connector_id: int, id_token: str, meter_start_wh: int) -> Transaction:
        return Transaction(
            connector_id, id_token, meter_wh=float(meter_start_wh), meter_start_wh=meter_start_wh
        )

    def start_transaction(self, tx: Transaction, trigger_reason: str) -> TransactionMessage:
        payload = {
            "connectorId": tx.connector_id,
            "idTag": tx.id_token,
            "meterStart": tx.meter_start_wh,
            "timestamp": timestamp(tx.started_at),
        }
        return TransactionMessage("StartTransaction", payload, tx, "start")

    def meter_values(
        self, tx: Transaction, readings: list[Reading], context: str
    ) -> TransactionMessage:
        payload = {"connectorId": tx.connector_id, "meterValue": [meter_value(readings, context)]}
        return TransactionMessage("MeterValues", payload, tx, "update")

    def stop_transaction(self, tx: Transaction, reason: str) -> TransactionMessage:
        payload = {
            "meterStop": round(tx.meter_wh),
            "timestamp": timestamp(),
            "reason": reason,
            "idTag": tx.id_token,
            "transactionData": [meter_value([energy_reading(tx)], "Transaction.End")],
        }
        return TransactionMessage("StopTransaction", payload, tx, "stop")

    def mark_offline(self, message: TransactionMessage) -> None:
        """1.6 has no offline flag; the timestamps tell."""

    def finalize(self, message: TransactionMessage) -> dict[str, Any] | None:
        transaction_id = message.transaction.transaction_id
        if message.kind == "start":
            return message.payload
        if transaction_id is None:
            # The StartTransaction was refused with a CALLERROR: no id will ever come.
            return None
        return {**message.payload, "transactionId": transaction_id}

    def on_delivered(self, message: TransactionMessage, response: dict[str, Any]) -> None:
        if message.kind == "start":
            message.transaction.transaction_id = int(response["transactionId"])

    def heartbeat_interval(self, boot_response: dict[str, Any]) -> int | None:
        interval = boot_response.get("interval")
        return int(interval) if isinstance(interval, int) else None

    def authorization_status(self, response: dict[str, Any]) -> str:
        info = response.get("idTagInfo")
        return str(info.get("status", "")) if isinstance(info, dict) else ""

    def show_authorize(
        self,
        display: Display,
        configuration: Mapping[str, str],
        id_token: str,
        response: dict[str, Any],
    ) -> None:
        """1.6 answers carry no prices: California Pricing sends DataTransfer messages."""

    def show_transaction_answer(
        self,
        display: Display,
        configuration: Mapping[str, str],
        message: TransactionMessage,
        response: dict[str, Any] | None,
    ) -> None:
        """1.6 answers carry no costs: California Pricing sends DataTransfer messages."""


V16 = V16Adapter()
