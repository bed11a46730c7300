"""E. Transactions: TransactionEvent, translated to a session event.

The charger names the session (``transactionId``) and numbers its messages (``seqNo``):
whichever event arrives first opens the session, and a replayed seqNo changes nothing
(E04/E08/E11/E12 offline queues). ``csms.services.sessions`` keeps those rules.
"""

from __future__ import annotations

from typing import Any

from csms.domain.clock import parse_timestamp
from csms.domain.transactions import NamedBy, Phase, SessionEvent
from csms.node.context import Context, Payload
from csms.node.v201.convert import samples, token_ref
from csms.node.v201.tariff_cost import token_info, total_cost
from csms.node.validation import whole

PROTOCOL = "ocpp2.0.1"
STOP_AUTHORIZED = "StopAuthorized"  # the idToken of this event ended the authorization
_PHASES = {phase.value: phase for phase in Phase}  # eventType -> Phase


async def transaction_event(ctx: Context, payload: Payload) -> Payload:
    info = payload["transactionInfo"]
    evse_id, connector_id = _evse(ctx, payload.get("evse"))
    id_token: dict[str, Any] | None = payload.get("idToken")
    event = SessionEvent(
        _PHASES[payload["eventType"]],
        parse_timestamp(payload["timestamp"]),
        NamedBy.CHARGER,
        PROTOCOL,
        transaction_id=info["transactionId"],
        evse_id=evse_id,
        connector_id=connector_id,
        token=None if id_token is None else token_ref(id_token),
        token_stops=payload["triggerReason"] == STOP_AUTHORIZED,  # E07.FR.02
        samples=samples(payload.get("meterValue", [])),
        stop_reason=info.get("stoppedReason"),
        seq_no=int(payload["seqNo"]),
        trigger_reason=payload["triggerReason"],
        offline=payload.get("offline", False),
        charging_state=info.get("chargingState"),
        remote_start_id=whole(info.get("remoteStartId")),
        reservation_id=whole(payload.get("reservationId")),
        record=payload,
    )
    sessions = ctx.services.sessions
    if event.phase is Phase.STARTED:
        outcome = await sessions.start(ctx.link, event)
    elif event.phase is Phase.UPDATED:
        outcome = await sessions.update(ctx.link, event)
    else:
        outcome = await sessions.end(ctx.link, event)
    response: Payload = {}
    if outcome.authorization is not None:  # E01.FR.12 / E02.FR.02 / E03.FR.02, I01
        token = None if event.token_stops else event.token
        response["idTokenInfo"] = await token_info(ctx, outcome.authorization, token)
    if event.phase is not Phase.STARTED:  # I02 running, I03 final
        total = await total_cost(ctx, outcome.session, ended=event.phase is Phase.ENDED)
        if total is not None:
            response["totalCost"] = total
    return response


def _evse(ctx: Context, evse: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(evse id, connector id) of the event; an omitted connector of a one-connector EVSE
    is filled in from what the charger reported before."""
    if evse is None:
        return None, None
    evse_id = int(evse["id"])
    connector_id = whole(evse.get("connectorId"))
    if connector_id is None:
        connector_id = ctx.link.only_connector(evse_id)
    else:
        ctx.link.remember_connector(evse_id, connector_id)
    return evse_id, connector_id
