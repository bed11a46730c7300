"""Handlers of OCPP 1.6 firmware, diagnostics, log and certificate CALLs (incl. security)."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.firmware import run_update, update_of
from simulators.v16.handlers import TRIGGERS, Trigger, run_trigger

Payload = dict[str, Any]


def update_firmware(ctx: StationContext, payload: Payload) -> Payload:
    """5.19: download, install, report each step (FirmwareStatusNotification), reboot."""
    update = update_of("UpdateFirmware", payload, v201=False)
    ctx.after(lambda: run_update(ctx, update))
    return {}


def signed_update_firmware(ctx: StationContext, payload: Payload) -> Payload:
    """Security whitepaper L01: the same, with the signature checked (SignedFirmware...)."""
    update = update_of("SignedUpdateFirmware", payload, v201=False)
    ctx.after(lambda: run_update(ctx, update))
    return {"status": "Accepted"}


def get_diagnostics(ctx: StationContext, payload: Payload) -> Payload:
    async def upload() -> None:
        for status in ("Uploading", "Uploaded"):
            await ctx.call("DiagnosticsStatusNotification", {"status": status})

    ctx.after(upload)
    return {"fileName": f"diagnostics-{ctx.config.charge_point_id}.log"[:255]}


def get_log(ctx: StationContext, payload: Payload) -> Payload:
    request_id = payload["requestId"]

    async def upload() -> None:
        for status in ("Uploading", "Uploaded"):
            await ctx.call("LogStatusNotification", {"status": status, "requestId": request_id})

    ctx.after(upload)
    return {"status": "Accepted", "filename": f"{payload['logType']}-{request_id}.log"}


def certificate_signed(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def install_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def delete_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}


def get_installed_certificate_ids(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}


async def _trigger_log_status(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("LogStatusNotification", {"status": "Idle"})


async def _trigger_signed_firmware(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("SignedFirmwareStatusNotification", {"status": ctx.state.firmware_status})


EXTENDED_TRIGGERS: dict[str, Trigger] = {
    **{name: TRIGGERS[name] for name in ("BootNotification", "Heartbeat", "MeterValues")},
    "StatusNotification": TRIGGERS["StatusNotification"],
    "LogStatusNotification": _trigger_log_status,
    "FirmwareStatusNotification": _trigger_signed_firmware,
}


def extended_trigger_message(ctx: StationContext, payload: Payload) -> Payload:
    return run_trigger(ctx, payload, EXTENDED_TRIGGERS)
