"""How the CLI prints money, volumes and a session's cost breakdown.

Amounts are printed with the currency's minor units (EUR 2 decimals, JPY 0, KWD 3: babel
knows them); volumes and unit prices as exact as they are stored, without trailing zeros.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from csms.cli.support import fmt, out, table

if TYPE_CHECKING:
    from csms.domain.tariff_catalog import SessionCost

KEY_WIDTH = 21  # the width of the field names of `csms transaction show`
UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": "session"}


def money(amount: Decimal | None, currency: str | None) -> str:
    """``3.50 EUR``: the amount to the currency's minor unit."""
    if amount is None:
        return "-"
    if currency is None:
        return plain(amount)
    from csms.domain.money import minor_unit_places

    places = minor_unit_places(currency)
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f} {currency}"


def unit_price(price: Decimal, currency: str) -> str:
    """``0.25 EUR``, ``1.00 EUR``, ``0.2975 EUR``: at least the currency's minor unit
    places, more where the price has them."""
    from csms.domain.money import minor_unit_places

    exponent = price.normalize().as_tuple().exponent
    places = max(minor_unit_places(currency), -exponent if isinstance(exponent, int) else 0)
    return f"{price.quantize(Decimal(1).scaleb(-places)):f} {currency}"


def plain(value: Decimal) -> str:
    """``10`` for 10.000000000, ``0.25`` for 0.2500: the value, no exponent."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(rate: Decimal | None) -> str:
    return "-" if rate is None else f"{plain(rate)}%"


def priced(cost: SessionCost | None) -> bool:
    """Whether the session has a tariff (a cost, or one to come)."""
    return cost is not None and cost.tariff_id is not None


def cost_json(cost: SessionCost | None) -> dict[str, Any] | None:
    """The stored cost for ``--json`` (None: the session is not priced)."""
    if cost is None or not priced(cost):
        return None
    return {
        "tariff_id": cost.tariff_id,
        "tariff_version": cost.tariff_version,
        "currency": cost.currency,
        "state": _state(cost),
        "computed_at": cost.computed_at,
        "excl_vat": cost.excl_vat,
        "vat": cost.vat,
        "incl_vat": cost.incl_vat,
        "breakdown": cost.breakdown,
    }


def _state(cost: SessionCost) -> str:
    if cost.breakdown is None:
        return "none_yet"
    return "final" if cost.final else "running"


def print_cost(cost: SessionCost | None) -> None:
    """The cost section of ``csms transaction show``: tariff, lines, totals."""
    if cost is None or not priced(cost):
        _field("cost", "not priced (no tariff applied when the session started)")
        return
    _field("tariff", f"{cost.tariff_id} version {cost.tariff_version}")
    if cost.breakdown is None:
        _field("cost", "none computed yet (at the first meter value or at the end)")
        return
    from csms.domain.cost import CostBreakdown

    breakdown = CostBreakdown.from_json(cost.breakdown)
    currency = breakdown.currency
    state = "final" if cost.final else "running (the session goes on)"
    _field("cost", f"{state}, computed {fmt(cost.computed_at)}")
    out()
    table(
        [
            "dimension",
            "element",
            "volume",
            "billed",
            "unit",
            "unit_price",
            "vat_rate",
            "excl_vat",
            "vat",
            "incl_vat",
            "from",
            "to",
        ],
        [
            [
                line.dimension.value,
                line.element,
                plain(line.volume),
                plain(line.billed_volume),
                UNITS.get(line.dimension.value, ""),
                unit_price(line.unit_price, currency),
                percent(line.vat_rate),
                money(line.excl_vat, currency),
                money(line.vat, currency),
                money(line.incl_vat, currency),
                line.started_at,
                line.ended_at,
            ]
            for line in breakdown.lines
        ],
    )
    out()
    _field("total excl. VAT", money(breakdown.total_excl_vat, currency))
    _field("VAT", money(breakdown.total_vat, currency))
    _field("total incl. VAT", money(breakdown.total_incl_vat, currency))
    if breakdown.capped:
        _field("capped by", breakdown.capped)


def _field(key: str, value: str) -> None:
    out(f"{key:{KEY_WIDTH}} {value}")
