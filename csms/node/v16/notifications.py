"""1.6 DataTransfer and the status notifications (core and security extension)."""

from __future__ import annotations

from csms.domain.certificates import CHARGING_STATION_CERTIFICATE
from csms.domain.clock import parse_timestamp
from csms.node import certificate_signing
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
    # Security whitepaper use cases A02/A03 (1.6 edition 3): the CSR is checked now, signed
    # and sent back with CertificateSigned once this answer is out (certificate_signing).
    decision = await certificate_signing.review(
        ctx,
        payload["csr"],
        CHARGING_STATION_CERTIFICATE,  # the only kind a 1.6 charger asks for
        lambda chain: {"certificateChain": chain},
    )
    return {"status": "Accepted" if decision.accepted else "Rejected"}
