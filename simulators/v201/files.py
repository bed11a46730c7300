"""Handlers of OCPP 2.0.1 firmware, log and certificate CALLs."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.firmware import run_update, update_of

Payload = dict[str, Any]


def update_firmware(ctx: StationContext, payload: Payload) -> Payload:
    """L01 (signed) / L02: download, verify, install, reboot, reporting each step."""
    update = update_of("UpdateFirmware", payload, v201=True)
    ctx.after(lambda: run_update(ctx, update))
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
    return {"status": "Accepted"}


def install_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "Accepted"}


def delete_certificate(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}


def get_installed_certificate_ids(ctx: StationContext, payload: Payload) -> Payload:
    return {"status": "NotFound"}
