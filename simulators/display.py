"""What the station's display shows the driver: tariff texts, running and final costs.

The version's handlers fill it (1.6: the California Pricing ``DataTransfer`` messages; 2.0.1:
``personalMessage``, ``totalCost`` and ``CostUpdated``); each change is one line on the
``simulators.display`` logger, which ``csms-sim run`` prints. Amounts are ``Decimal``, exactly
as the CSMS sent them; transaction ids are compared as text, so ``running_cost(100)`` and
``running_cost("100")`` are the same 1.6 transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Log = logging.Logger | logging.LoggerAdapter[Any]


@dataclass(frozen=True)
class Text:
    """One text for the driver, in one language (a MessageContentType)."""

    content: str
    language: str | None = None
    format: str | None = None


@dataclass
class TransactionCost:
    """Everything the display knows about the cost of one transaction."""

    transaction_id: str
    running_cost: Decimal | None = None
    final_cost: Decimal | None = None
    #: 1.6 RunningCost: ``Charging`` or ``Idle``
    state: str | None = None
    #: 1.6 RunningCost: the energy register (Wh) and time the cost is based on
    meter_wh: int | None = None
    timestamp: str | None = None
    #: 1.6 RunningCost: ``chargingPrice``, ``idlePrice``, ``nextPeriod``, ``triggerMeterValue``
    prices: dict[str, Any] = field(default_factory=dict)
    #: texts shown with the cost (1.6 FinalCost priceText; 2.0.1 updatedPersonalMessage)
    texts: list[Text] = field(default_factory=list)
    qr_code_text: str | None = None
    #: how many running-cost updates arrived
    updates: int = 0


def amount(value: Decimal, currency: str | None = None) -> str:
    """An amount as the display prints it: the CSMS's digits, then the currency if known."""
    return f"{value} {currency}" if currency else str(value)


class Display:
    """The display of one station (see the module docstring)."""

    def __init__(self, log: Log) -> None:
        self._log = log
        #: every line shown, oldest first
        self.lines: list[str] = []
        #: the last tariff text, in every language it came in (default language first)
        self.price_texts: list[Text] = []
        #: whom the last tariff text is for: an id token or a transaction id
        self.price_for: str | None = None
        self._costs: dict[str, TransactionCost] = {}
        self._final_waiters: dict[str, list[asyncio.Future[Decimal]]] = {}

    # -- what tests and scenarios read -------------------------------------------------------

    @property
    def price_text(self) -> str | None:
        """The last tariff text shown (in the default language), if any."""
        return self.price_texts[0].content if self.price_texts else None

    def cost(self, transaction_id: int | str) -> TransactionCost | None:
        """What is known about the cost of a transaction."""
        return self._costs.get(str(transaction_id))

    def running_cost(self, transaction_id: int | str) -> Decimal | None:
        """The last running cost of a transaction."""
        cost = self.cost(transaction_id)
        return cost.running_cost if cost else None

    def final_cost(self, transaction_id: int | str) -> Decimal | None:
        """The final cost of a transaction, once known."""
        cost = self.cost(transaction_id)
        return cost.final_cost if cost else None

    async def wait_final_cost(self, transaction_id: int | str, timeout: float) -> Decimal | None:
        """The final cost, waiting up to ``timeout`` seconds for it; None if it did not come."""
        known = self.final_cost(transaction_id)
        if known is not None:
            return known
        future: asyncio.Future[Decimal] = asyncio.get_running_loop().create_future()
        waiters = self._final_waiters.setdefault(str(transaction_id), [])
        waiters.append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            if future in waiters:
                waiters.remove(future)

    # -- what handlers show -------------------------------------------------------------------

    def show(self, line: str) -> None:
        """Show one line (also a fallback message)."""
        self.lines.append(line)
        self._log.info("display: %s", line)

    def show_tariff(
        self,
        texts: Iterable[Text],
        *,
        id_token: str | None = None,
        transaction_id: int | str | None = None,
    ) -> None:
        """A driver-specific tariff (1.6 SetUserPrice, 2.0.1 personalMessage)."""
        self.price_texts = list(texts)
        whom = str(transaction_id) if transaction_id is not None else id_token
        self.price_for = whom
        label = "tariff"
        if transaction_id is not None:
            label = f"tariff for transaction {transaction_id}"
        elif id_token:
            label = f"tariff for {id_token}"
        for text in self.price_texts:
            self.show(f"{label}{_language(text)}: {text.content}")

    def show_running_cost(
        self,
        transaction_id: int | str,
        cost: Decimal,
        *,
        currency: str | None = None,
        state: str | None = None,
        meter_wh: int | None = None,
        timestamp: str | None = None,
        prices: Mapping[str, Any] | None = None,
        texts: Iterable[Text] = (),
        qr_code_text: str | None = None,
    ) -> None:
        """The cost so far (1.6 RunningCost, 2.0.1 totalCost while charging or CostUpdated)."""
        record = self._record(transaction_id)
        record.running_cost = cost
        record.updates += 1
        record.state = state or record.state
        record.meter_wh = meter_wh if meter_wh is not None else record.meter_wh
        record.timestamp = timestamp or record.timestamp
        if prices:
            record.prices = dict(prices)
        details = [d for d in (state, _unit_prices(prices or {})) if d]
        suffix = f" ({'; '.join(details)})" if details else ""
        self.show(f"transaction {transaction_id}: {amount(cost, currency)} so far{suffix}")
        self._show_texts(record, transaction_id, texts, qr_code_text)

    def show_final_cost(
        self,
        transaction_id: int | str,
        cost: Decimal,
        *,
        currency: str | None = None,
        texts: Iterable[Text] = (),
        qr_code_text: str | None = None,
    ) -> None:
        """The final cost (1.6 FinalCost, 2.0.1 totalCost in the answer to Ended)."""
        record = self._record(transaction_id)
        record.final_cost = cost
        self.show(f"transaction {transaction_id}: total {amount(cost, currency)}")
        self._show_texts(record, transaction_id, texts, qr_code_text)
        for future in self._final_waiters.pop(str(transaction_id), []):
            if not future.done():
                future.set_result(cost)

    def _show_texts(
        self,
        record: TransactionCost,
        transaction_id: int | str,
        texts: Iterable[Text],
        qr_code_text: str | None,
    ) -> None:
        shown = list(texts)
        if shown:
            record.texts = shown
        for text in shown:
            self.show(f"transaction {transaction_id}{_language(text)}: {text.content}")
        if qr_code_text:
            record.qr_code_text = qr_code_text
            self.show(f"transaction {transaction_id}: QR code {qr_code_text}")

    def _record(self, transaction_id: int | str) -> TransactionCost:
        key = str(transaction_id)
        if key not in self._costs:
            self._costs[key] = TransactionCost(key)
        return self._costs[key]


def _language(text: Text) -> str:
    return f" [{text.language}]" if text.language else ""


def _unit_prices(prices: Mapping[str, Any]) -> str:
    """``0.123/kWh, 2.00/h, flat 42.42, idle 1.00/h`` from 1.6 RunningCost price components."""
    charging = prices.get("chargingPrice") or {}
    idle = prices.get("idlePrice") or {}
    parts = []
    if "kWhPrice" in charging:
        parts.append(f"{charging['kWhPrice']}/kWh")
    if "hourPrice" in charging:
        parts.append(f"{charging['hourPrice']}/h")
    if "flatFee" in charging:
        parts.append(f"flat {charging['flatFee']}")
    if "hourPrice" in idle:
        grace = f" after {idle['graceMinutes']} min" if "graceMinutes" in idle else ""
        parts.append(f"idle {idle['hourPrice']}/h{grace}")
    return ", ".join(parts)
