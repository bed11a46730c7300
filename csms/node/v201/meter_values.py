"""J. Meter values: MeterValues (samples outside transactions)."""

from __future__ import annotations

from csms.node.context import Context, Payload
from csms.node.v201.convert import samples

EVSE_AS_A_WHOLE = 0  # MeterValuesRequest names an EVSE, never a connector


async def meter_values(ctx: Context, payload: Payload) -> Payload:
    # evseId 0 is the main (grid) meter of the station. A 2.0.1 MeterValuesRequest is never
    # about a transaction: transaction samples come in TransactionEventRequest (J02).
    await ctx.services.sessions.meter_values(
        ctx.link, int(payload["evseId"]), EVSE_AS_A_WHOLE, samples(payload["meterValue"])
    )
    return {}
