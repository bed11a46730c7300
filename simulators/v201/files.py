"""Handlers of OCPP 2.0.1 firmware, log and certificate CALLs."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.upload import send_log

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
    return send_log(ctx, payload)


def certificate_signed(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def install_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def delete_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}


def get_installed_certificate_ids(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}
