"""L. Firmware management: FirmwareStatusNotification, PublishFirmwareStatusNotification."""

from __future__ import annotations

from csms.node.context import Context, Payload


async def firmware_status_notification(ctx: Context, payload: Payload) -> Payload:
    await ctx.services.reports.firmware_status(
        ctx.charge_point_id,
        "FirmwareStatusNotification",
        payload,
        status=payload["status"],
        request_id=payload.get("requestId"),
    )
    return {}


async def publish_firmware_status_notification(ctx: Context, payload: Payload) -> Payload:
    # L03: a local controller publishing firmware to the stations behind it.
    await ctx.services.reports.firmware_status(
        ctx.charge_point_id,
        "PublishFirmwareStatusNotification",
        payload,
        status=payload["status"],
        request_id=payload.get("requestId"),
        is_charger_status=False,
    )
    return {}
