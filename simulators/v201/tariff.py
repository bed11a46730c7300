"""OCPP 2.0.1 functional block I, Tariff and Cost: what the station's display shows.

Tariff texts come in ``idTokenInfo.personalMessage`` (AuthorizeResponse, TransactionEventResponse;
I01) and ``updatedPersonalMessage`` (TransactionEventResponse; I06); the running cost in
``totalCost`` of the answer to a Started/Updated event or in ``CostUpdatedRequest`` (I02); the
final cost in ``totalCost`` of the answer to the Ended event (I03). The fallback messages are
shown when no tariff comes with an accepted Authorize (I04) and when the Ended event could not
be delivered (I05). Nothing is shown unless ``TariffCostCtrlr.Enabled[Tariff]`` /
``Enabled[Cost]`` is true, which only a station with ``display_cost_and_price`` has.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from simulators.context import StationContext
from simulators.display import Display, Text
from simulators.offline import TransactionMessage
from simulators.v201.variables import (
    COST_ENABLED,
    CURRENCY,
    TARIFF_ENABLED,
    TARIFF_FALLBACK,
    TOTAL_COST_FALLBACK,
)

Payload = dict[str, Any]


def _on(configuration: Mapping[str, str], name: str) -> bool:
    return configuration.get(name, "").lower() == "true"


def _money(value: float | int) -> Decimal:
    """A JSON number as the CSMS wrote it (the shortest decimal that reads back the same)."""
    return Decimal(str(value))


def _text(message: Any) -> Text | None:
    """A MessageContentType as a display text."""
    if not isinstance(message, dict) or "content" not in message:
        return None
    return Text(message["content"], message.get("language"), message.get("format"))


def cost_updated(ctx: StationContext, payload: Payload) -> Payload:
    """CostUpdatedRequest (I02): show the running total; the answer has no fields."""
    configuration = ctx.state.configuration
    if _on(configuration, COST_ENABLED):
        ctx.display.show_running_cost(
            payload["transactionId"],
            _money(payload["totalCost"]),
            currency=configuration.get(CURRENCY),
        )
    return {}


def show_authorize(
    display: Display, configuration: Mapping[str, str], id_token: str, response: Payload
) -> None:
    """I01: the driver-specific tariff of an AuthorizeResponse, or I04: the fallback."""
    if not _on(configuration, TARIFF_ENABLED):
        return
    info = response.get("idTokenInfo") or {}
    text = _text(info.get("personalMessage"))
    if text is not None:
        display.show_tariff([text], id_token=id_token)
    elif info.get("status") == "Accepted" and configuration.get(TARIFF_FALLBACK):
        display.show_tariff([Text(configuration[TARIFF_FALLBACK])], id_token=id_token)


def show_transaction_answer(
    display: Display,
    configuration: Mapping[str, str],
    message: TransactionMessage,
    response: Payload | None,
) -> None:
    """The tariff text and cost in a TransactionEventResponse (I01, I02, I03, I06), or the
    total-cost fallback when the Ended event was queued offline (I05)."""
    transaction_id = message.transaction.transaction_id
    if transaction_id is None:
        return
    if response is None:
        if message.kind == "stop" and _on(configuration, COST_ENABLED):
            fallback = configuration.get(TOTAL_COST_FALLBACK)
            if fallback:
                display.show(f"transaction {transaction_id}: {fallback}")
        return
    if _on(configuration, TARIFF_ENABLED):
        texts = [
            text
            for text in (
                _text((response.get("idTokenInfo") or {}).get("personalMessage")),
                _text(response.get("updatedPersonalMessage")),
            )
            if text is not None
        ]
        if texts:
            display.show_tariff(texts, transaction_id=transaction_id)
    if _on(configuration, COST_ENABLED) and "totalCost" in response:
        cost, currency = _money(response["totalCost"]), configuration.get(CURRENCY)
        if message.kind == "stop":
            display.show_final_cost(transaction_id, cost, currency=currency)
        else:
            display.show_running_cost(transaction_id, cost, currency=currency)
