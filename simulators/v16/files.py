"""Handlers of OCPP 1.6 firmware, diagnostics, log and certificate CALLs (incl. security)."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.upload import log_content, send_log, upload
from simulators.v16.handlers import TRIGGERS, Trigger, run_trigger

Payload = dict[str, Any]

FIRMWARE_STEPS: tuple[str, ...] = ("Downloading", "Downloaded", "Installing", "Installed")
SIGNED_FIRMWARE_STEPS = (
    "Downloading",
    "Downloaded",
    "SignatureVerified",
    "Installing",
    "Installed",
)
FAILED_STEPS: tuple[str, ...] = ("Downloading", "DownloadFailed")


def update_firmware(ctx: StationContext, payload: Payload) -> Payload:
    steps = FAILED_STEPS if ctx.config.fail_firmware else FIRMWARE_STEPS

    async def walk() -> None:
        for status in steps:
            ctx.state.firmware_status = status
            await ctx.call("FirmwareStatusNotification", {"status": status})

    ctx.after(walk)
    return {}


def signed_update_firmware(ctx: StationContext, payload: Payload) -> Payload:
    steps = FAILED_STEPS if ctx.config.fail_firmware else SIGNED_FIRMWARE_STEPS
    request_id = payload["requestId"]

    async def walk() -> None:
        for status in steps:
            ctx.state.firmware_status = status
            await ctx.call(
                "SignedFirmwareStatusNotification", {"status": status, "requestId": request_id}
            )

    ctx.after(walk)
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
