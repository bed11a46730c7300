"""Handlers of OCPP 2.0.1 firmware, log and certificate CALLs."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext

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
    request_id = payload["requestId"]
    signed = "signature" in payload["firmware"]
    steps = SIGNED_FIRMWARE_STEPS if signed else FIRMWARE_STEPS
    if ctx.config.fail_firmware:
        steps = FAILED_STEPS

    async def walk() -> None:
        for status in steps:
            ctx.state.firmware_status = status
            await ctx.call(
                "FirmwareStatusNotification", {"status": status, "requestId": request_id}
            )

    ctx.after(walk)
    return {"status": "Accepted"}


def publish_firmware(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Rejected"}  # a charging station is not a local controller


def unpublish_firmware(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NoFirmware"}


def get_log(ctx: StationContext, payload: Payload) -> Payload:
    request_id = payload["requestId"]

    async def upload() -> None:
        for status in ("Uploading", "Uploaded"):
            await ctx.call("LogStatusNotification", {"status": status, "requestId": request_id})

    ctx.after(upload)
    return {"status": "Accepted", "filename": f"{payload['logType']}-{request_id}.log"}


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
    found = ctx.state.security.installed(payload.get("certificateType", []))
    if not found:
        return {"status": "NotFound"}
    chains = [{"certificateType": kind, "certificateHashData": data} for kind, data in found]
    return {"status": "Accepted", "certificateHashDataChain": chains}
