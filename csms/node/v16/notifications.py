"""1.6 DataTransfer and the status notifications (core and security extension)."""

from __future__ import annotations

from csms.domain.clock import parse_timestamp
from csms.node.context import Context, Payload


async def data_transfer(ctx: Context, payload: Payload) -> Payload:
    # No vendor extensions are registered yet: every vendorId is unknown (1.6 section 4.3).
    await ctx.services.reports.notification(
        ctx.charge_point_id, "DataTransfer", payload, kind=payload["vendorId"]
    )
    return {"status": "UnknownVendorId"}


async def firmware_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.firmware_status(
        ctx.charge_point_id, "FirmwareStatusNotification", payload, status=payload["status"]
    )
    return {}


async def signed_firmware_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.firmware_status(
        ctx.charge_point_id,
        "SignedFirmwareStatusNotification",
        payload,
        status=payload["status"],
        request_id=payload.get("requestId"),
    )
    return {}


async def diagnostics_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.log_status(
        ctx.charge_point_id,
        "DiagnosticsStatusNotification",
        payload,
        status=payload["status"],
        is_diagnostics_status=True,
    )
    return {}


async def log_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.log_status(
        ctx.charge_point_id,
        "LogStatusNotification",
        payload,
        status=payload["status"],
        request_id=payload.get("requestId"),
    )
    return {}


async def security_event_notification(ctx: Context, payload: Payload) -> Payload:
    ctx.log.warning("security event %s", payload["type"])
    await ctx.services.reports.security_event(
        ctx.charge_point_id,
        payload,
        type_=payload["type"],
        occurred_at=parse_timestamp(payload["timestamp"]),
        tech_info=payload.get("techInfo"),
    )
    return {}


async def sign_certificate(ctx: Context, payload: Payload) -> Payload:
    # Security whitepaper A02/A03 (1.6 edition 3): no certificate authority is integrated
    # yet, so the CSR cannot be processed; say so rather than accept and never sign.
    await ctx.services.reports.notification(
        ctx.charge_point_id, "SignCertificate", payload, kind="Rejected"
    )
    ctx.log.warning("SignCertificate rejected: no certificate authority configured")
    return {"status": "Rejected"}
