"""Handlers of CSMS-initiated OCPP 2.0.1 CALLs: transactions, availability, reservation,
local list, smart charging, triggers, display messages.

Each handler is ``(ctx, payload) -> response payload``; it raises
:class:`~simulators.errors.CallError` to answer with a CALLERROR.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from simulators.context import StationContext
from simulators.meter import ENERGY, Reading
from simulators.transaction import timestamp
from simulators.v201.messages import meter_value

Payload = dict[str, Any]


def _evses(ctx: StationContext, evse_id: int | None) -> list[int]:
    """The EVSEs a request addresses: one, or all of them for None/0."""
    if not evse_id:
        return list(range(1, ctx.config.connectors + 1))
    return [evse_id]


def _valid_evse(ctx: StationContext, evse_id: int) -> bool:
    return 1 <= evse_id <= ctx.config.connectors


def request_start_transaction(ctx: StationContext, payload: Payload) -> Payload:
    requested = payload.get("evseId")
    if requested is not None:
        candidates = [requested] if _valid_evse(ctx, requested) else []
    else:
        candidates = _evses(ctx, None)
    free = [e for e in candidates if ctx.state.connector_free(e)]
    if not free:
        return {"status": "Rejected"}
    evse_id, token = free[0], payload["idToken"]
    remote_start_id = payload["remoteStartId"]
    ctx.state.claimed.add(evse_id)
    ctx.after(
        lambda: ctx.charge(
            evse_id, token["idToken"], id_token_type=token["type"], remote_start_id=remote_start_id
        )
    )
    return {"status": "Accepted"}


def request_stop_transaction(ctx: StationContext, payload: Payload) -> Payload:
    tx = ctx.state.find_transaction(payload["transactionId"])
    if tx is None:
        return {"status": "Rejected"}
    ctx.after(lambda: ctx.end_charging(tx, "Remote"))
    return {"status": "Accepted"}


def get_transaction_status(ctx: StationContext, payload: Payload) -> Payload:
    response: Payload = {"messagesInQueue": ctx.pending_transaction_messages > 0}
    if "transactionId" in payload:
        ongoing = ctx.state.find_transaction(payload["transactionId"]) is not None
        response["ongoingIndicator"] = ongoing
    return response


def reset(ctx: StationContext, payload: Payload) -> Payload:
    if payload["type"] == "OnIdle" and ctx.state.transactions:
        return {"status": "Scheduled"}
    reason = "HardReset" if payload["type"] == "Immediate" else "SoftReset"
    ctx.after(lambda: ctx.reboot(reason))
    return {"status": "Accepted"}


def change_availability(ctx: StationContext, payload: Payload) -> Payload:
    targets = _evses(ctx, payload.get("evse", {}).get("id"))
    if any(not _valid_evse(ctx, e) for e in targets):
        return {"status": "Rejected"}
    if any(e in ctx.state.transactions for e in targets):
        return {"status": "Scheduled"}
    status = "Available" if payload["operationalStatus"] == "Operative" else "Unavailable"

    async def notify() -> None:
        for evse_id in targets:
            await ctx.status_notification(evse_id, status)

    ctx.after(notify)
    return {"status": "Accepted"}


def unlock_connector(ctx: StationContext, payload: Payload) -> Payload:
    evse_id = payload["evseId"]
    if not _valid_evse(ctx, evse_id) or payload["connectorId"] != 1:
        return {"status": "UnknownConnector"}
    if evse_id in ctx.state.transactions:
        return {"status": "OngoingAuthorizedTransaction"}
    return {"status": "Unlocked"}


def reserve_now(ctx: StationContext, payload: Payload) -> Payload:
    evse_id = payload.get("evseId") or 1
    if not _valid_evse(ctx, evse_id):
        return {"status": "Rejected"}
    if not ctx.state.connector_free(evse_id):
        return {"status": "Occupied"}
    ctx.state.reservations[payload["id"]] = evse_id
    ctx.after(lambda: ctx.status_notification(evse_id, "Reserved"))
    return {"status": "Accepted"}


def cancel_reservation(ctx: StationContext, payload: Payload) -> Payload:
    evse_id = ctx.state.reservations.pop(payload["reservationId"], None)
    if evse_id is None:
        return {"status": "Rejected"}
    ctx.after(lambda: ctx.status_notification(evse_id, "Available"))
    return {"status": "Accepted"}


def send_local_list(ctx: StationContext, payload: Payload) -> Payload:
    ctx.state.local_list_version = payload["versionNumber"]
    return {"status": "Accepted"}


def get_local_list_version(ctx: StationContext, payload: Payload) -> Payload:
    return {"versionNumber": ctx.state.local_list_version}


def accepted(ctx: StationContext, payload: Payload) -> Payload:
    """ClearCache, SetChargingProfile, SetDisplayMessage, ...: nothing to do but accept."""
    return {"status": "Accepted"}


def unknown(ctx: StationContext, payload: Payload) -> Payload:
    """ClearChargingProfile, GetDisplayMessages, ClearDisplayMessage: nothing matches."""
    return {"status": "Unknown"}


def get_charging_profiles(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NoProfiles"}


def get_composite_schedule(ctx: StationContext, payload: Payload) -> Payload:
    unit = payload.get("chargingRateUnit", "A")
    meter = ctx.config.meter
    limit = meter.current_a if unit == "A" else meter.power_w
    return {
        "status": "Accepted",
        "schedule": {
            "evseId": payload["evseId"],
            "duration": payload["duration"],
            "scheduleStart": timestamp(),
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    if payload["vendorId"] != ctx.config.vendor:
        return {"status": "UnknownVendorId"}
    return {"status": "Accepted"}


Trigger = Callable[[StationContext, list[int]], Awaitable[None]]


async def _trigger_boot(ctx: StationContext, evses: list[int]) -> None:
    await ctx.boot("Triggered")


async def _trigger_heartbeat(ctx: StationContext, evses: list[int]) -> None:
    await ctx.heartbeat()


async def _trigger_status(ctx: StationContext, evses: list[int]) -> None:
    for evse_id in evses:
        await ctx.status_notification(evse_id, ctx.state.connector_status.get(evse_id, "Available"))


async def _trigger_meter_values(ctx: StationContext, evses: list[int]) -> None:
    for evse_id in evses:
        register = ctx.state.energy_register_wh.get(evse_id, 0.0)
        tx = ctx.state.transactions.get(evse_id)
        reading = Reading(ENERGY, round(tx.meter_wh if tx else register, 1), "Wh")
        await ctx.call(
            "MeterValues", {"evseId": evse_id, "meterValue": [meter_value([reading], "Trigger")]}
        )


async def _trigger_transaction_event(ctx: StationContext, evses: list[int]) -> None:
    for evse_id in evses:
        tx = ctx.state.transactions.get(evse_id)
        if tx is not None:
            await ctx.send_meter_values(tx, tx.meter_wh, context="Trigger")


async def _trigger_firmware(ctx: StationContext, evses: list[int]) -> None:
    await ctx.call("FirmwareStatusNotification", {"status": ctx.state.firmware_status})


async def _trigger_log(ctx: StationContext, evses: list[int]) -> None:
    await ctx.call("LogStatusNotification", {"status": "Idle"})


async def _trigger_sign_certificate(ctx: StationContext, evses: list[int]) -> None:
    await ctx.sign_certificate("ChargingStationCertificate")  # A02.FR.02/03


TRIGGERS: dict[str, Trigger] = {
    "BootNotification": _trigger_boot,
    "Heartbeat": _trigger_heartbeat,
    "StatusNotification": _trigger_status,
    "MeterValues": _trigger_meter_values,
    "TransactionEvent": _trigger_transaction_event,
    "FirmwareStatusNotification": _trigger_firmware,
    "LogStatusNotification": _trigger_log,
    "SignChargingStationCertificate": _trigger_sign_certificate,
}


def trigger_message(ctx: StationContext, payload: Payload) -> Payload:
    evse_id = payload.get("evse", {}).get("id")
    if evse_id is not None and evse_id != 0 and not _valid_evse(ctx, evse_id):
        return {"status": "Rejected"}
    trigger = TRIGGERS.get(payload["requestedMessage"])
    if trigger is None:
        return {"status": "NotImplemented"}
    evses = _evses(ctx, evse_id)
    ctx.after(lambda: trigger(ctx, evses))
    return {"status": "Accepted"}
