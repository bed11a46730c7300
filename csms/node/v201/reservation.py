"""H. Reservation: ReservationStatusUpdate."""

from __future__ import annotations

from csms.node.context import Context, Payload
from csms.node.v201.events import remember


async def reservation_status_update(ctx: Context, payload: Payload) -> Payload:
    # H04: the reservation expired or was removed at the station. Kept for the operator;
    # reservations themselves are not modelled yet.
    await remember(ctx, "ReservationStatusUpdate", payload, kind=payload["reservationUpdateStatus"])
    return {}
