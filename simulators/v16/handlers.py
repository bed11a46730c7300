"""Handlers of CSMS-initiated OCPP 1.6 CALLs: core, reservation, local list, smart charging.

Each handler is ``(ctx, payload) -> response payload``; it raises
:class:`~simulators.errors.CallError` to answer with a CALLERROR.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from simulators.context import StationContext
from simulators.meter import ENERGY, Reading
from simulators.transaction import timestamp
from simulators.v16 import costmsg
from simulators.v16.messages import meter_value

Payload = dict[str, Any]
WRITE_ONLY_KEYS = {"AuthorizationKey"}
SECURITY_PROFILE = "SecurityProfile"


def _connectors(ctx: StationContext, connector_id: int | None) -> list[int]:
    """The connectors a request addresses: one, or all of them for None/0."""
    if not connector_id:
        return list(range(1, ctx.config.connectors + 1))
    return [connector_id]


def _valid_connector(ctx: StationContext, connector_id: int) -> bool:
    return 1 <= connector_id <= ctx.config.connectors


def get_configuration(ctx: StationContext, payload: Payload) -> Payload:
    config, readonly = ctx.state.configuration, ctx.state.readonly
    wanted = payload.get("key") or list(config)
    known = [
        {"key": key, "readonly": key in readonly, "value": config[key]}
        for key in wanted
        if key in config
    ]
    response: Payload = {"configurationKey": known}
    unknown = [key for key in wanted if key not in config]
    if unknown:
        response["unknownKey"] = unknown
    return response


def change_configuration(ctx: StationContext, payload: Payload) -> Payload:
    key, value = payload["key"], payload["value"]
    if key == SECURITY_PROFILE:
        status = ctx.security.change_profile(value)
        if status == "Accepted":  # A05.FR.06: disconnect, reconnect with the new profile
            ctx.after(ctx.switch_security_profile)
        return {"status": status}
    if key in WRITE_ONLY_KEYS:
        return {"status": "Accepted"}  # accepted, never stored nor reported back
    if costmsg.refused(ctx.state.configuration, key, value):
        return {"status": "Rejected"}
    if key not in ctx.state.configuration:
        return {"status": "NotSupported"}
    if key in ctx.state.readonly:
        return {"status": "Rejected"}
    ctx.state.configuration[key] = value
    return {"status": "Accepted"}


def remote_start_transaction(ctx: StationContext, payload: Payload) -> Payload:
    requested = payload.get("connectorId")
    if requested is not None:
        candidates = [requested] if _valid_connector(ctx, requested) else []
    else:
        candidates = _connectors(ctx, None)
    free = [c for c in candidates if ctx.state.connector_free(c)]
    if not free:
        return {"status": "Rejected"}
    connector_id, id_tag = free[0], payload["idTag"]
    ctx.state.claimed.add(connector_id)
    ctx.after(lambda: ctx.charge(connector_id, id_tag))
    return {"status": "Accepted"}


def remote_stop_transaction(ctx: StationContext, payload: Payload) -> Payload:
    tx = ctx.state.find_transaction(payload["transactionId"])
    if tx is None:
        return {"status": "Rejected"}
    ctx.after(lambda: ctx.end_charging(tx, "Remote"))
    return {"status": "Accepted"}


def reset(ctx: StationContext, payload: Payload) -> Payload:
    reason = "HardReset" if payload["type"] == "Hard" else "SoftReset"
    ctx.after(lambda: ctx.reboot(reason))
    return {"status": "Accepted"}


def change_availability(ctx: StationContext, payload: Payload) -> Payload:
    targets = _connectors(ctx, payload["connectorId"])
    if any(not _valid_connector(ctx, c) for c in targets):
        return {"status": "Rejected"}
    if any(c in ctx.state.transactions for c in targets):
        return {"status": "Scheduled"}
    status = "Available" if payload["type"] == "Operative" else "Unavailable"

    async def notify() -> None:
        for connector_id in targets:
            await ctx.status_notification(connector_id, status)

    ctx.after(notify)
    return {"status": "Accepted"}


def unlock_connector(ctx: StationContext, payload: Payload) -> Payload:
    connector_id = payload["connectorId"]
    if not _valid_connector(ctx, connector_id):
        return {"status": "NotSupported"}
    tx = ctx.state.transactions.get(connector_id)
    if tx is not None:
        ctx.after(lambda: ctx.end_charging(tx, "UnlockCommand"))
    return {"status": "Unlocked"}


def reserve_now(ctx: StationContext, payload: Payload) -> Payload:
    connector_id = payload["connectorId"]
    if not _valid_connector(ctx, connector_id):
        return {"status": "Rejected"}
    if not ctx.state.connector_free(connector_id):
        return {"status": "Occupied"}
    ctx.state.reservations[payload["reservationId"]] = connector_id
    ctx.after(lambda: ctx.status_notification(connector_id, "Reserved"))
    return {"status": "Accepted"}


def cancel_reservation(ctx: StationContext, payload: Payload) -> Payload:
    connector_id = ctx.state.reservations.pop(payload["reservationId"], None)
    if connector_id is None:
        return {"status": "Rejected"}
    ctx.after(lambda: ctx.status_notification(connector_id, "Available"))
    return {"status": "Accepted"}


def send_local_list(ctx: StationContext, payload: Payload) -> Payload:
    ctx.state.local_list_version = payload["listVersion"]
    return {"status": "Accepted"}


def get_local_list_version(ctx: StationContext, payload: Payload) -> Payload:
    return {"listVersion": ctx.state.local_list_version}


def clear_cache(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def set_charging_profile(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def clear_charging_profile(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def get_composite_schedule(ctx: StationContext, payload: Payload) -> Payload:
    unit = payload.get("chargingRateUnit", "A")
    meter = ctx.config.meter
    limit = meter.current_a if unit == "A" else meter.power_w
    return {
        "status": "Accepted",
        "connectorId": payload["connectorId"],
        "scheduleStart": timestamp(),
        "chargingSchedule": {
            "duration": payload["duration"],
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": round(limit, 1)}],
        },
    }


def data_transfer(ctx: StationContext, payload: Payload) -> Payload:
    if payload["vendorId"] == costmsg.VENDOR_ID and costmsg.enabled(ctx.state.configuration):
        return costmsg.data_transfer(ctx, payload)
    if payload["vendorId"] != ctx.config.vendor:
        return {"status": "UnknownVendorId"}
    return {"status": "Accepted"}


Trigger = Callable[[StationContext, list[int]], Awaitable[None]]


async def _trigger_boot(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.boot()


async def _trigger_heartbeat(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.heartbeat()


async def _trigger_status(ctx: StationContext, connectors: list[int]) -> None:
    for connector_id in connectors:
        status = ctx.state.connector_status.get(connector_id, "Available")
        await ctx.status_notification(connector_id, status)


async def _trigger_meter_values(ctx: StationContext, connectors: list[int]) -> None:
    for connector_id in connectors:
        tx = ctx.state.transactions.get(connector_id)
        if tx is not None:
            await ctx.send_meter_values(tx, tx.meter_wh, context="Trigger")
            continue
        register = ctx.state.energy_register_wh.get(connector_id, 0.0)
        reading = Reading(ENERGY, round(register, 1), "Wh")
        await ctx.call(
            "MeterValues",
            {"connectorId": connector_id, "meterValue": [meter_value([reading], "Trigger")]},
        )


async def _trigger_diagnostics(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("DiagnosticsStatusNotification", {"status": "Idle"})


async def _trigger_firmware(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("FirmwareStatusNotification", {"status": ctx.state.firmware_status})


TRIGGERS: dict[str, Trigger] = {
    "BootNotification": _trigger_boot,
    "Heartbeat": _trigger_heartbeat,
    "StatusNotification": _trigger_status,
    "MeterValues": _trigger_meter_values,
    "DiagnosticsStatusNotification": _trigger_diagnostics,
    "FirmwareStatusNotification": _trigger_firmware,
}


def run_trigger(ctx: StationContext, payload: Payload, triggers: dict[str, Trigger]) -> Payload:
    """Schedule the requested message; the status for TriggerMessage-like answers."""
    connector_id = payload.get("connectorId")
    if connector_id is not None and not _valid_connector(ctx, connector_id):
        return {"status": "Rejected"}
    trigger = triggers.get(payload["requestedMessage"])
    if trigger is None:
        return {"status": "NotImplemented"}
    connectors = _connectors(ctx, connector_id)
    ctx.after(lambda: trigger(ctx, connectors))
    return {"status": "Accepted"}


def trigger_message(ctx: StationContext, payload: Payload) -> Payload:
    return run_trigger(ctx, payload, TRIGGERS)
