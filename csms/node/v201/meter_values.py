"""J. Meter values: MeterValues (samples outside transactions)."""

from __future__ import annotations

from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v201.convert import samples

EVSE_AS_A_WHOLE = 0  # MeterValuesRequest names an EVSE, never a connector


async def meter_values(session: Session, payload: Payload) -> Payload:
    # evseId 0 is the main (grid) meter of the station. A 2.0.1 MeterValuesRequest is never
    # about a transaction: transaction samples come in TransactionEventRequest (J02).
    await sessions.store_samples(
        session,
        evse_id=payload["evseId"],
        connector_id=EVSE_AS_A_WHOLE,
        transaction_pk=None,
        samples=samples(payload["meterValue"]),
    )
    return {}
