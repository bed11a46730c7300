"""Handlers of OCPP 1.6 firmware, diagnostics, log and certificate CALLs (incl. security)."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.firmware import run_update, update_of
from simulators.upload import log_content, send_log, upload
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
    file_name = f"diagnostics-{ctx.config.charge_point_id}.log"[:255]

    async def send() -> None:
        await ctx.call("DiagnosticsStatusNotification", {"status": "Uploading"})
        content = log_content(ctx, "diagnostics", None)
        done = await upload(ctx, payload["location"], file_name, content)
        status = "Uploaded" if done.ok else "UploadFailed"
        await ctx.call("DiagnosticsStatusNotification", {"status": status})

    ctx.after(send)
    return {"fileName": file_name}


def get_log(ctx: StationContext, payload: Payload) -> Payload:
    """Security whitepaper GetLog (the 2.0.1 one in 1.6 clothes)."""
    return send_log(ctx, payload)


def certificate_signed(ctx: StationContext, payload: Payload) -> Payload:
    security = ctx.state.security
    return {
        "status": security.accept_signed(payload["certificateChain"], ctx.config.charge_point_id)
    }


def install_certificate(ctx: StationContext, payload: Payload) -> Payload:
    status = ctx.state.security.install(payload["certificateType"], payload["certificate"])
    return {"status": status}


def delete_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": ctx.state.security.delete(payload["certificateHashData"])}


def get_installed_certificate_ids(ctx: StationContext, payload: Payload) -> Payload:
    found = ctx.state.security.installed([payload["certificateType"]])
    if not found:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashData": [data for _, data in found]}


async def _trigger_sign_certificate(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.sign_certificate()


async def _trigger_log_status(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("LogStatusNotification", {"status": "Idle"})


async def _trigger_signed_firmware(ctx: StationContext, connectors: list[int]) -> None:
    await ctx.call("SignedFirmwareStatusNotification", {"status": ctx.state.firmware_status})


EXTENDED_TRIGGERS: dict[str, Trigger] = {
    **{name: TRIGGERS[name] for name in ("BootNotification", "Heartbeat", "MeterValues")},
    "StatusNotification": TRIGGERS["StatusNotification"],
    "LogStatusNotification": _trigger_log_status,
    "FirmwareStatusNotification": _trigger_signed_firmware,
    "SignChargePointCertificate": _trigger_sign_certificate,
}


def extended_trigger_message(ctx: StationContext, payload: Payload) -> Payload:
    return run_trigger(ctx, payload, EXTENDED_TRIGGERS)
