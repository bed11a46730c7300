"""1.6 California Pricing (docs/reference/california-pricing.md): DataTransfer vendorId
``org.openchargealliance.costmsg`` with SetUserPrice after an accepted Authorize,
RunningCost after StartTransaction and the meter values of a priced session, FinalCost after
StopTransaction; and the price display pushed as configuration keys (DefaultPrice,
DefaultPriceText,<language>, TimeOffset and its next transition).

Sent only to chargers whose ``CustomDisplayCostAndPrice`` reads true. Each message goes out
after the answer to the charger's message, beside the connection; a charger that answers
Rejected or a CALLERROR is not asked again (the note says not to retry).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from csms.domain.clock import format_timestamp
from csms.domain.cost import CostBreakdown
from csms.domain.id_tokens import Authorization
from csms.domain.meter_values import MeterSample, first_and_last_register_wh
from csms.domain.price_display import (
    COSTMSG,
    CUSTOM_DISPLAY_KEY,
    DECIMALS_KEY,
    LANGUAGE_KEY,
    MULTI_LANGUAGE_KEY,
    SUPPORTED_LANGUAGES_KEY,
    DisplayCapability,
    UnitPrices,
    capability_v16,
    next_offset_change,
    receipt_text,
    unit_prices,
    utc_offset,
)
from csms.domain.tariff_catalog import (
    PUSH_ACCEPTED,
    PUSH_NOT_SUPPORTED,
    PUSH_REJECTED,
    SessionCost,
)
from csms.domain.transactions import SessionRef, TokenRef
from csms.errors import CommandError, OcppError
from csms.node.context import Context
from csms.node.price_display import DisplayPush, PushOutcome, display_of
from csms.services.pricing import PricedSession

DATA_TRANSFER = "DataTransfer"
CAPABILITY_KEYS = [
    CUSTOM_DISPLAY_KEY,
    LANGUAGE_KEY,
    SUPPORTED_LANGUAGES_KEY,
    MULTI_LANGUAGE_KEY,
    DECIMALS_KEY,
]
CHANGED = frozenset({"Accepted", "RebootRequired"})


def costmsg(message_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """A DataTransfer.req of the extension: ``data`` is JSON text, its amounts numbers."""
    return {
        "vendorId": COSTMSG,
        "messageId": message_id,
        "data": json.dumps(data, separators=(",", ":"), default=_number),
    }


def _number(value: object) -> float | int:
    if isinstance(value, Decimal):  # the shortest repr of the rounded value: 3.31, never 3.3099
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _amount(value: Decimal, capability: DisplayCapability) -> Decimal:
    places = capability.decimals if capability.decimals is not None else 3
    return value.quantize(Decimal(1).scaleb(-min(places, 6)), rounding=ROUND_HALF_UP)


def charging_price(prices: UnitPrices, capability: DisplayCapability) -> dict[str, Decimal]:
    found = {"kWhPrice": prices.kwh, "hourPrice": prices.hour, "flatFee": prices.flat}
    return {k: _amount(v, capability) for k, v in found.items() if v is not None}


def idle_price(prices: UnitPrices, capability: DisplayCapability) -> dict[str, Any] | None:
    if not prices.has_idle_fee or prices.idle_hour is None:
        return None
    return {
        "graceMinutes": prices.grace_minutes,
        "hourPrice": _amount(prices.idle_hour, capability),
    }


async def capability(ctx: Context) -> DisplayCapability:
    """What the charger reported (from the store once per connection)."""
    link = ctx.link
    if link.display is None:
        link.display = await ctx.services.pricing.capability(ctx.charge_point_id, link.protocol)
    return link.display


async def probe(ctx: Context) -> DisplayCapability:
    """Ask the charger (GetConfiguration of the extension's keys); the answer is stored with
    its configuration and used from then on."""
    assert ctx.outbound is not None
    answer = await ctx.outbound.call("GetConfiguration", {"key": CAPABILITY_KEYS}, ctx.call_timeout)
    rows = [
        (entry["key"], entry.get("value"), entry["readonly"])
        for entry in answer.get("configurationKey", [])
    ]
    await ctx.services.reports.configuration_reported(ctx.charge_point_id, rows)
    shown = capability_v16({key: value for key, value, _ in rows})
    if not shown.known:  # the key is unknown to it: it has no such display
        shown = DisplayCapability(known=True)
    ctx.link.display = shown
    return shown


Build = Callable[[DisplayCapability], "dict[str, Any] | None"]


# -- after charger messages ---------------------------------------------------------------------


async def after_authorize(ctx: Context, token: TokenRef, authorization: Authorization) -> None:
    """SetUserPrice right after an accepted Authorize.conf."""
    if not authorization.accepted:
        return
    shown = await capability(ctx)
    if shown.known and not shown.tariff:
        return
    price = await ctx.services.pricing.driver_price(
        ctx.charge_point_id, token, authorization.parent_id_token
    )
    if price is None:
        return

    def build(shown: DisplayCapability) -> dict[str, Any]:
        data: dict[str, Any] = {"idToken": token.id_token, "priceText": price.text(shown.language)}
        extra = [
            {"format": "UTF8", "language": language, "content": price.text(language)}
            for language in price.languages()
            if shown.multi_language and language != shown.language and language in shown.languages
        ]
        if extra:
            data["priceTextExtra"] = extra
        return data

    _send_after(ctx, "SetUserPrice", build, tariff=True)


async def after_start(ctx: Context, session: SessionRef, meter_start_wh: Decimal) -> None:
    """RunningCost (the cost so far: 0 at the start) right after StartTransaction.conf."""
    pricing = ctx.services.pricing
    priced = await pricing.priced(session, ctx.charge_point_id)
    shown = await capability(ctx)
    if priced is None or (shown.known and not shown.cost):
        return
    running = pricing.take_fresh(session.pk) or await pricing.running(priced)
    amount = running.incl_vat if running is not None and running.incl_vat is not None else None
    _running_cost(ctx, priced, amount, ctx.services.clock(), meter_start_wh)


async def after_meter_values(
    ctx: Context, session: SessionRef, samples: Sequence[MeterSample]
) -> None:
    """RunningCost for the meter value just received, when a running cost was due."""
    pricing = ctx.services.pricing
    running = pricing.take_fresh(session.pk)
    if running is None or running.incl_vat is None:
        return
    priced = await pricing.priced(session, ctx.charge_point_id)
    shown = await capability(ctx)
    if priced is None or (shown.known and not shown.cost):
        return
    _, register = first_and_last_register_wh(samples)
    at = max((s.sampled_at for s in samples), default=ctx.services.clock())
    _running_cost(ctx, priced, running.incl_vat, at, register)


async def after_stop(ctx: Context, session: SessionRef) -> None:
    """FinalCost right after StopTransaction.conf."""
    pricing = ctx.services.pricing
    final = pricing.take_fresh(session.pk)
    if final is None or not final.final or final.incl_vat is None or final.breakdown is None:
        return
    shown = await capability(ctx)
    if shown.known and not shown.cost:
        return
    energy_wh = await pricing.energy_wh(session.pk)
    _send_after(
        ctx, "FinalCost", lambda shown: final_cost(session, final, shown, energy_wh), cost=True
    )


async def safely(ctx: Context, work: Awaitable[None]) -> None:
    """Pricing is a courtesy to the driver: it never fails the answer to the charger."""
    try:
        await work
    except Exception:
        ctx.log.exception("California Pricing message not sent")


def final_cost(
    session: SessionRef, final: SessionCost, shown: DisplayCapability, energy_wh: Decimal | None
) -> dict[str, Any]:
    assert final.incl_vat is not None and final.breakdown is not None
    breakdown = CostBreakdown.from_json(final.breakdown)
    return {
        "transactionId": int(session.transaction_id),
        "cost": _amount(final.incl_vat, shown),
        "priceText": receipt_text(breakdown, energy_wh),
    }


def _running_cost(
    ctx: Context,
    priced: PricedSession,
    amount: Decimal | None,
    at: datetime,
    register_wh: Decimal | None,
) -> None:
    prices = ctx.services.pricing.prices_now(priced)
    charging = priced.charging is not False

    def build(shown: DisplayCapability) -> dict[str, Any]:
        data: dict[str, Any] = {
            "transactionId": int(priced.ref.transaction_id),
            "timestamp": format_timestamp(at),
            "meterValue": int(register_wh) if register_wh is not None else 0,
            "cost": _amount(amount if amount is not None else Decimal(0), shown),
            "state": "Charging" if charging else "Idle",
            "chargingPrice": charging_price(prices, shown),
        }
        idle = idle_price(prices, shown)
        if idle is not None:
            data["idlePrice"] = idle
        return data

    _send_after(ctx, "RunningCost", build, cost=True)


def _send_after(
    ctx: Context, message_id: str, build: Build, *, tariff: bool = False, cost: bool = False
) -> None:
    """Send the message once the answer is out; a charger that has not said yet whether it
    shows prices and costs is asked first (one GetConfiguration per connection)."""
    outbound = ctx.outbound
    if outbound is None:
        return

    async def send() -> None:
        try:
            shown = ctx.link.display or await capability(ctx)
            if not shown.known:
                shown = await probe(ctx)
            if (tariff and not shown.tariff) or (cost and not shown.cost):
                return
            data = build(shown)
            if data is None:
                return
            answer = await outbound.call(DATA_TRANSFER, costmsg(message_id, data), ctx.call_timeout)
        except (CommandError, OcppError) as exc:
            ctx.log.info("%s not shown: %s", message_id, exc)
            return
        if answer.get("status") != "Accepted":
            ctx.log.info("%s answered %s", message_id, answer.get("status"))

    ctx.after_answer(send)


# -- the price display, pushed ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Change:
    key: str
    value: str
    required: bool


async def push_display(ctx: Context, push: DisplayPush) -> PushOutcome:
    """Ask what the charger shows, then set DefaultPrice (and its other languages) and the
    TimeOffset keys of its site."""
    assert ctx.outbound is not None
    outbound, timeout = ctx.outbound, ctx.call_timeout
    shown = await probe(ctx)
    if not shown.tariff:
        return PushOutcome(PUSH_NOT_SUPPORTED, f"{CUSTOM_DISPLAY_KEY} is not true")
    if push.tariff is None:
        return PushOutcome(PUSH_ACCEPTED, "no tariff applies: the display is left as it is")
    changes = _changes(push, shown)
    refused: list[str] = []
    for change in changes:
        result = await outbound.call(
            "ChangeConfiguration", {"key": change.key, "value": change.value}, timeout
        )
        status = result.get("status", "")
        if status in CHANGED:
            await ctx.services.reports.configuration_reported(
                ctx.charge_point_id, [(change.key, change.value, None)]
            )
        elif change.required:
            return PushOutcome(PUSH_REJECTED, f"{change.key}: {status}")
        else:
            refused.append(f"{change.key}: {status}")
    detail = f"DefaultPrice set ({push.text})"
    if refused:
        detail += "; not taken: " + ", ".join(refused)
    return PushOutcome(PUSH_ACCEPTED, detail)


def _changes(push: DisplayPush, shown: DisplayCapability) -> list[_Change]:
    assert push.tariff is not None
    tariff = push.tariff
    prices = unit_prices(tariff, push.at, zone=push.zone)
    default: dict[str, Any] = {
        "priceText": display_of(tariff, shown.language),
        "priceTextOffline": display_of(tariff, shown.language),
        "chargingPrice": charging_price(prices, shown),
    }
    changes = [_Change("DefaultPrice", json.dumps(default, default=_number), True)]
    if shown.multi_language:
        for text in tariff.texts:
            if text.language != shown.language and text.language in shown.languages:
                value = {"priceText": text.text, "priceTextOffline": text.text}
                changes.append(
                    _Change(f"DefaultPriceText,{text.language}", json.dumps(value), False)
                )
    changes.append(_Change("TimeOffset", utc_offset(push.zone, push.at), False))
    transition = next_offset_change(push.zone, push.at)
    if transition is not None:
        changes.append(
            _Change("NextTimeOffsetTransitionDateTime", format_timestamp(transition), False)
        )
        changes.append(
            _Change("TimeOffsetNextTransition", utc_offset(push.zone, transition), False)
        )
    return changes
