"""OCPP frames a fleet charger sends, per version, built from small templates."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
# Answered with {"status": "Accepted"} (valid in both versions); anything else NotImplemented.
ACCEPTED_COMMANDS = frozenset(
    {"ClearCache", "TriggerMessage", "ChangeAvailability", "Reset", "SignedUpdateFirmware"}
)
FIRMWARE_COMMANDS = frozenset({"UpdateFirmware", "SignedUpdateFirmware"})


class _Clock:
    """UTC timestamps with milliseconds; the formatted second is reused within a second."""

    second = -1
    prefix = ""

    @classmethod
    def now(cls) -> str:
        t = time.time()
        second = int(t)
        if second != cls.second:
            cls.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            cls.second = second
        return f"{cls.prefix}.{int((t - second) * 1000):03d}Z"


now = _Clock.now


def _sample(measurand: str, phase: str, unit: str, value: Any, v201: bool) -> dict[str, Any]:
    sample: dict[str, Any] = {"measurand": measurand, "context": "Sample.Periodic"}
    if phase:
        sample["phase"] = phase
    if v201:
        sample["value"] = value
        sample["unitOfMeasure"] = {"unit": unit}
    else:
        sample["value"] = str(value)
        sample["unit"] = unit
    return sample


_FIXED: tuple[tuple[str, str, str, Any], ...] = (
    ("Power.Active.Import", "", "W", 11040),
    ("Current.Import", "L1", "A", 16.0),
    ("Current.Import", "L2", "A", 16.0),
    ("Current.Import", "L3", "A", 16.0),
    ("Voltage", "L1-N", "V", 230.1),
    ("Voltage", "L2-N", "V", 229.8),
    ("SoC", "", "Percent", 42),
)
# The samples that never change, built once per version (orjson serializes them as they are;
# nothing mutates them).
_FIXED_SAMPLES = {v201: [_sample(*fixed, v201) for fixed in _FIXED] for v201 in (False, True)}


MAX_SAMPLES = 1 + len(_FIXED)


def _sampled(meter_wh: float, v201: bool, count: int) -> list[dict[str, Any]]:
    """``count`` (1..8) sampled values, as a three-phase AC charger reports them: energy,
    then the first ``count - 1`` of _FIXED."""
    energy = _sample("Energy.Active.Import.Register", "", "Wh", round(meter_wh, 1), v201)
    return [energy, *_FIXED_SAMPLES[v201][: count - 1]]


@dataclass
class Frames:
    """Builds the frames of one charger; message ids are a per-charger counter."""

    charge_point_id: str
    version: str
    id_token: str
    _next_id: int = 0
    seq_no: int = 0
    transaction_id: str | int | None = None
    firmware_version: str = "1.0.0"
    boot_reason: str = "PowerUp"
    samples: int = MAX_SAMPLES  # sampled values per meter value

    @property
    def v201(self) -> bool:
        return self.version == "2.0.1"

    def _call(self, action: str, payload: dict[str, Any]) -> tuple[str, bytes]:
        self._next_id += 1
        message_id = str(self._next_id)
        return message_id, orjson.dumps([2, message_id, action, payload])

    def boot(self) -> tuple[str, bytes]:
        if self.v201:
            return self._call(
                "BootNotification",
                {
                    "reason": self.boot_reason,
                    "chargingStation": {
                        "model": "FleetModel",
                        "vendorName": "Fleet",
                        "serialNumber": self.charge_point_id[-25:],
                        "firmwareVersion": self.firmware_version,
                    },
                },
            )
        return self._call(
            "BootNotification",
            {
                "chargePointVendor": "Fleet",
                "chargePointModel": "FleetModel",
                "chargePointSerialNumber": self.charge_point_id[-25:],
                "firmwareVersion": self.firmware_version,
            },
        )

    def firmware_status(
        self, action: str, status: str, request_id: int | None
    ) -> tuple[str, bytes]:
        """``action``: FirmwareStatusNotification (1.6 without a request id, 2.0.1 with) or
        SignedFirmwareStatusNotification."""
        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        return self._call(action, payload)

    def security_event(self, kind: str) -> tuple[str, bytes]:
        return self._call("SecurityEventNotification", {"type": kind, "timestamp": now()})

    def heartbeat(self) -> tuple[str, bytes]:
        return self._call("Heartbeat", {})

    def status(self, status: str) -> tuple[str, bytes]:
        if self.v201:
            return self._call(
                "StatusNotification",
                {"timestamp": now(), "connectorStatus": status, "evseId": 1, "connectorId": 1},
            )
        return self._call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": now()},
        )

    def start(self, meter_wh: float) -> tuple[str, bytes]:
        if self.v201:
            self.transaction_id = uuid.uuid4().hex
            self.seq_no = 0
            return self._event("Started", "Authorized", meter_wh, id_token=True)
        return self._call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": self.id_token,
                "meterStart": int(meter_wh),
                "timestamp": now(),
            },
        )

    def meter_values(self, meter_wh: float) -> tuple[str, bytes]:
        if self.v201:
            return self._event("Updated", "MeterValuePeriodic", meter_wh)
        return self._call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": self.transaction_id,
                "meterValue": [
                    {"timestamp": now(), "sampledValue": _sampled(meter_wh, False, self.samples)}
                ],
            },
        )

    def stop(self, meter_wh: float) -> tuple[str, bytes]:
        if self.v201:
            return self._event("Ended", "StopAuthorized", meter_wh, stopped=True)
        return self._call(
            "StopTransaction",
            {
                "transactionId": self.transaction_id,
                "meterStop": int(meter_wh),
                "timestamp": now(),
                "reason": "Local",
            },
        )

    def _event(
        self,
        event_type: str,
        trigger: str,
        meter_wh: float,
        *,
        id_token: bool = False,
        stopped: bool = False,
    ) -> tuple[str, bytes]:
        info: dict[str, Any] = {"transactionId": self.transaction_id, "chargingState": "Charging"}
        if stopped:
            info["stoppedReason"] = "Local"
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": now(),
            "triggerReason": trigger,
            "seqNo": self.seq_no,
            "transactionInfo": info,
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {"timestamp": now(), "sampledValue": _sampled(meter_wh, True, self.samples)}
            ],
        }
        if id_token:
            payload["idToken"] = {"idToken": self.id_token, "type": "ISO14443"}
        self.seq_no += 1
        return self._call("TransactionEvent", payload)

    @staticmethod
    def answer(message_id: str, action: str, v201: bool = False) -> bytes:
        if action == "UpdateFirmware":  # 1.6 UpdateFirmware.conf has no field
            return orjson.dumps([3, message_id, {"status": "Accepted"} if v201 else {}])
        if action in ACCEPTED_COMMANDS:
            return orjson.dumps([3, message_id, {"status": "Accepted"}])
        return orjson.dumps([4, message_id, "NotImplemented", f"fleet: {action}", {}])
