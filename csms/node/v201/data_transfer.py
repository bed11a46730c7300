"""P. Data transfer: DataTransfer from the charger."""

from __future__ import annotations

from csms.node.context import Context, Payload
from csms.node.v201.convert import status_info
from csms.node.v201.events import remember


async def data_transfer(ctx: Context, payload: Payload) -> Payload:
    # P02.FR.06: we implement no vendor extension, so every vendorId is unknown to us.
    await remember(ctx, "DataTransfer", payload, kind=payload["vendorId"])
    return {
        "status": "UnknownVendorId",
        "statusInfo": status_info(
            "UnsupportedRequest", "This CSMS implements no vendor-specific DataTransfer."
        ),
    }
