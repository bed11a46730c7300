"""1.6 StartTransaction, StopTransaction, MeterValues: translated to session events."""

from __future__ import annotations

from decimal import Decimal

from csms.domain.clock import parse_timestamp
from csms.domain.transactions import NamedBy, Phase, SessionEvent
from csms.node.context import Context, Payload
from csms.node.v16 import pricing
from csms.node.v16.convert import WHOLE_CHARGER_EVSE, id_tag, id_tag_info, samples
from csms.node.validation import whole

PROTOCOL = "ocpp1.6"


async def start_transaction(ctx: Context, payload: Payload) -> Payload:
    outcome = await ctx.services.sessions.start(
        ctx.link,
        SessionEvent(
            Phase.STARTED,
            parse_timestamp(payload["timestamp"]),
            NamedBy.CSMS,
            PROTOCOL,
            evse_id=WHOLE_CHARGER_EVSE,
            connector_id=int(payload["connectorId"]),
            token=id_tag(payload["idTag"]),
            meter_start_wh=int(payload["meterStart"]),
            reservation_id=whole(payload.get("reservationId")),
        ),
    )
    assert outcome.session is not None and outcome.authorization is not None
    meter_start = Decimal(int(payload["meterStart"]))
    await pricing.safely(ctx, pricing.after_start(ctx, outcome.session, meter_start))
    return {
        "transactionId": int(outcome.session.transaction_id),
        "idTagInfo": id_tag_info(outcome.authorization),
    }


async def stop_transaction(ctx: Context, payload: Payload) -> Payload:
    tag = payload.get("idTag")
    outcome = await ctx.services.sessions.end(
        ctx.link,
        SessionEvent(
            Phase.ENDED,
            parse_timestamp(payload["timestamp"]),
            NamedBy.CSMS,
            PROTOCOL,
            transaction_id=str(int(payload["transactionId"])),
            token=None if tag is None else id_tag(tag),
            token_stops=True,
            samples=samples(payload.get("transactionData") or []),
            meter_stop_wh=Decimal(payload["meterStop"]),
            stop_reason=payload.get("reason"),
        ),
    )
    if outcome.session is not None:
        await pricing.safely(ctx, pricing.after_stop(ctx, outcome.session))
    if outcome.authorization is None:
        return {}
    return {"idTagInfo": id_tag_info(outcome.authorization)}


async def meter_values(ctx: Context, payload: Payload) -> Payload:
    connector_id = int(payload["connectorId"])
    sampled = samples(payload["meterValue"])
    transaction_id = payload.get("transactionId")
    if transaction_id is None:
        await ctx.services.sessions.meter_values(
            ctx.link, WHOLE_CHARGER_EVSE, connector_id, sampled
        )
        return {}
    outcome = await ctx.services.sessions.update(
        ctx.link,
        SessionEvent(
            Phase.UPDATED,
            sampled[0].sampled_at if sampled else ctx.services.clock(),
            NamedBy.CSMS,
            PROTOCOL,
            transaction_id=str(int(transaction_id)),
            evse_id=WHOLE_CHARGER_EVSE,
            connector_id=connector_id,
            samples=sampled,
        ),
    )
    if outcome.session is not None:
        await pricing.safely(ctx, pricing.after_meter_values(ctx, outcome.session, sampled))
    return {}
