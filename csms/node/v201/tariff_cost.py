"""I. Tariff and cost: what a 2.0.1 charger shows the driver, and its price display pushed.

- I01: the tariff text as ``personalMessage`` in ``idTokenInfo`` (AuthorizeResponse and the
  TransactionEventResponse that authorizes), when ``TariffCostCtrlr.Enabled[Tariff]`` is true
  (I01.FR.02).
- I02: the running cost as ``totalCost`` in the TransactionEventResponse to an Updated event
  for which a running cost was due (``CSMS_COST_UPDATE_INTERVAL``); I03: the final cost as
  ``totalCost`` in the response to Ended; both when ``Enabled[Cost]`` is true.
- Push: ``TariffFallbackMessage`` (I04), ``TotalCostFallbackMessage`` (I05) and
  ``Currency`` set with SetVariables, after GetVariables says what is enabled.
"""

from __future__ import annotations

from typing import Any

from csms.domain.id_tokens import Authorization
from csms.domain.price_display import (
    MAX_2_0_1_FALLBACK,
    TARIFF_COST_CTRLR,
    DisplayCapability,
    capability_v201,
)
from csms.domain.reports import DEFAULT_ATTRIBUTE, NO_EVSE, VariableRow
from csms.domain.tariff_catalog import (
    PUSH_ACCEPTED,
    PUSH_NOT_SUPPORTED,
    PUSH_REJECTED,
    SessionCost,
)
from csms.domain.transactions import SessionRef, TokenRef
from csms.node.context import Context
from csms.node.price_display import DisplayPush, PushOutcome
from csms.node.v201.convert import id_token_info

ACCEPTED = "Accepted"
CHANGED = frozenset({"Accepted", "RebootRequired"})
MAX_MESSAGE = 512  # MessageContentType.content


async def capability(ctx: Context) -> DisplayCapability:
    link = ctx.link
    if link.display is None:
        link.display = await ctx.services.pricing.capability(ctx.charge_point_id, link.protocol)
    return link.display


async def token_info(
    ctx: Context, authorization: Authorization, token: TokenRef | None
) -> dict[str, Any]:
    """idTokenInfo of a decision, with the driver's tariff text when the charger shows it."""
    info = id_token_info(authorization)
    if token is None or not authorization.accepted:
        return info
    try:
        if not (await capability(ctx)).tariff:
            return info
        price = await ctx.services.pricing.driver_price(
            ctx.charge_point_id, token, authorization.parent_id_token
        )
    except Exception:  # a price is a courtesy: the decision goes out regardless
        ctx.log.exception("no tariff text for the driver")
        return info
    if price is not None:
        languages = price.languages()
        language = languages[0] if languages else "en"
        info["personalMessage"] = {
            "format": "UTF8",
            "language": language,
            "content": price.text(language)[:MAX_MESSAGE],
        }
    return info


async def total_cost(ctx: Context, session: SessionRef | None, *, ended: bool) -> float | None:
    """The totalCost to answer with: the cost computed while this message was handled (the
    stored final one for a replayed Ended), when the charger shows costs."""
    if session is None:
        return None
    pricing = ctx.services.pricing
    fresh = pricing.take_fresh(session.pk)
    try:
        if fresh is None and ended:
            fresh = await _frozen(ctx, session)
        if fresh is None or fresh.incl_vat is None or not (await capability(ctx)).cost:
            return None
    except Exception:
        ctx.log.exception("no totalCost for the charger")
        return None
    return float(fresh.incl_vat)


async def _frozen(ctx: Context, session: SessionRef) -> SessionCost | None:
    stored = await ctx.services.pricing.stored_cost(session.pk)
    return stored if stored is not None and stored.final else None


# -- the price display, pushed ------------------------------------------------------------------


def _variable(name: str, instance: str | None = None) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": name}
    if instance is not None:
        variable["instance"] = instance
    return {"component": {"name": TARIFF_COST_CTRLR}, "variable": variable}


def _row(name: str, instance: str, value: str | None) -> VariableRow:
    return VariableRow(
        TARIFF_COST_CTRLR,
        "",
        NO_EVSE,
        NO_EVSE,
        name,
        instance,
        DEFAULT_ATTRIBUTE,
        value,
        None,
        None,
    )


async def push_display(ctx: Context, push: DisplayPush) -> PushOutcome:
    assert ctx.outbound is not None
    outbound, timeout = ctx.outbound, ctx.call_timeout
    asked = [_variable("Enabled", "Tariff"), _variable("Enabled", "Cost")]
    answer = await outbound.call("GetVariables", {"getVariableData": asked}, timeout)
    enabled: dict[str, str | None] = {}
    refused: list[str] = []
    for result in answer.get("getVariableResult", []):
        instance = result["variable"].get("instance", "")
        if result["attributeStatus"] == ACCEPTED:
            enabled[instance] = result.get("attributeValue")
        else:
            refused.append(f"Enabled[{instance}]: {result['attributeStatus']}")
    await ctx.services.reports.variables_reported(
        ctx.charge_point_id, [_row("Enabled", i, v) for i, v in enabled.items()]
    )
    shown = capability_v201(enabled)
    ctx.link.display = shown
    if not shown.shows_anything:
        detail = "; ".join(refused) or "TariffCostCtrlr.Enabled is false for Tariff and Cost"
        return PushOutcome(PUSH_NOT_SUPPORTED, detail)
    if push.tariff is None:
        return PushOutcome(PUSH_ACCEPTED, "no tariff applies: the display is left as it is")
    values: list[tuple[str, str]] = [("Currency", push.tariff.currency)]
    if shown.tariff:
        values.append(("TariffFallbackMessage", push.text[:MAX_2_0_1_FALLBACK]))
    if shown.cost:
        values.append(("TotalCostFallbackMessage", push.total_cost_fallback[:MAX_2_0_1_FALLBACK]))
    data = [{**_variable(name), "attributeValue": value} for name, value in values]
    answer = await outbound.call("SetVariables", {"setVariableData": data}, timeout)
    taken: list[VariableRow] = []
    rejected: list[str] = []
    sent = dict(values)
    for result in answer.get("setVariableResult", []):
        name = result["variable"]["name"]
        if result["attributeStatus"] in CHANGED and name in sent:
            taken.append(_row(name, "", sent[name]))
        else:
            rejected.append(f"{name}: {result['attributeStatus']}")
    await ctx.services.reports.variables_reported(ctx.charge_point_id, taken)
    if any(r.startswith("TariffFallbackMessage") for r in rejected) or not taken:
        return PushOutcome(PUSH_REJECTED, "; ".join(rejected))
    detail = f"TariffFallbackMessage set ({push.text})" if shown.tariff else "Currency set"
    if rejected:
        detail += "; not taken: " + ", ".join(rejected)
    return PushOutcome(PUSH_ACCEPTED, detail)
