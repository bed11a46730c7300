"""Handlers of OCPP 2.0.1 firmware, log and certificate CALLs."""

from __future__ import annotations

from typing import Any

from simulators.context import StationContext
from simulators.firmware import run_update, update_of
from simulators.upload import send_log

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
    found = ctx.state.security.installed(payload.get("certificateType", []))
    if not found:
        return {"status": "NotFound"}
    chains = [{"certificateType": kind, "certificateHashData": data} for kind, data in found]
    return {"status": "Accepted", "certificateHashDataChain": chains}
