"""P. Data transfer: DataTransfer from the charger."""

from __future__ import annotations

from csms.node.context import Payload, Session
from csms.node.v201.convert import status_info
from csms.node.v201.events import remember


async def data_transfer(session: Session, payload: Payload) -> Payload:
    # P02.FR.06: we implement no vendor extension, so every vendorId is unknown to us.
    await remember(session, "DataTransfer", payload, kind=payload["vendorId"])
    return {
        "status": "UnknownVendorId",
        "statusInfo": status_info(
            "UnsupportedRequest", "This CSMS implements no vendor-specific DataTransfer."
        ),
    }
