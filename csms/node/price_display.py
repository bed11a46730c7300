"""Tariff push: the price display of the chargers this node holds, applied.

The backoffice (or the CLI) requests a push per affected charger in PostgreSQL
(``csms.services.tariffs``); this node applies the pending ones of the chargers it holds
every ``CSMS_TARIFF_PUSH_INTERVAL`` seconds, and a charger's own (failed ones too) when it
boots or reconnects, so a charger that was offline gets its display when it is back. Each
version says how (``OcppVersion.push_display``: 1.6 California Pricing configuration keys,
2.0.1 TariffCostCtrlr variables) and what became of it is recorded per charger: accepted,
rejected, not_supported, failed (no answer: retried on its next connect).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg

from csms.domain.tariff_catalog import PUSH_FAILED, TariffPush
from csms.domain.tariffs import Tariff, display_text, parse_tariff
from csms.errors import CommandError, OcppError
from csms.services import Services
from csms.store.batching import BatchCall

if TYPE_CHECKING:
    from csms.node.connection import ChargerConnection
    from csms.node.context import Context

log = logging.getLogger(__name__)

MAX_AT_ONCE = 50  # pushes in flight per node


@dataclass(frozen=True, slots=True)
class DisplayPush:
    """What a charger's display should show: ``tariff`` None when none applies."""

    tariff: Tariff | None
    zone: ZoneInfo
    at: datetime
    total_cost_fallback: str

    @property
    def text(self) -> str:
        """The operator's first text (``tariff_alt_text``), else one derived from the prices."""
        if self.tariff is None:
            return ""
        texts = self.tariff.texts
        return display_text(self.tariff, texts[0].language if texts else None)


@dataclass(frozen=True, slots=True)
class PushOutcome:
    status: str  # csms.domain.tariff_catalog PUSH_*
    detail: str


Pusher = Callable[["Context", DisplayPush], Awaitable[PushOutcome]]


def display_of(tariff: Tariff, language: str | None = None) -> str:
    return display_text(tariff, language)


class DisplayPusher:
    """Applies the pushes due to the chargers connected here."""

    def __init__(
        self,
        connections: Mapping[str, ChargerConnection],
        services: Services,
        *,
        interval: float,
        total_cost_fallback: str,
    ) -> None:
        self.connections = connections
        self.services = services
        self.interval = interval
        self.total_cost_fallback = total_cost_fallback
        self._back = BatchCall(self._back_many, max_items=500)
        self._running: set[str] = set()
        self._slots = asyncio.Semaphore(MAX_AT_ONCE)

    async def run(self) -> None:
        """Apply what is pending every interval until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.push_due(list(self.connections), retry_failed=False)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("tariff push sweep failed: %s", exc)

    async def charger_back(self, connection: ChargerConnection) -> None:
        """A charger booted or reconnected: its display tariff is checked, and what is due
        (failed pushes too) is applied. Chargers coming back together (a boot storm) are
        checked together: a few statements per batch, not per charger."""
        await self._back(connection.charge_point_id)

    async def _back_many(self, charge_point_ids: Sequence[str]) -> list[None]:
        unique = list(dict.fromkeys(charge_point_ids))
        await self.services.tariffs.refresh_displays(unique)
        await self.push_due(unique, retry_failed=True)
        return [None] * len(charge_point_ids)

    async def push_due(self, charge_point_ids: Sequence[str], *, retry_failed: bool) -> int:
        """Apply the due pushes of these chargers (those connected here); returns how many
        were started."""
        if not charge_point_ids:
            return 0
        due = await self.services.tariffs.due_pushes(charge_point_ids, retry_failed=retry_failed)
        started = 0
        for push in due:
            connection = self.connections.get(push.charge_point_id)
            if connection is None or connection.closed or not connection.link.accepted:
                continue
            if push.charge_point_id in self._running:
                continue
            self._running.add(push.charge_point_id)
            connection.start_background(functools.partial(self._apply, connection, push))
            started += 1
        return started

    async def _apply(self, connection: ChargerConnection, push: TariffPush) -> None:
        cp = connection.charge_point_id
        try:
            async with self._slots:
                outcome = await self.apply(connection, push)
            recorded = await self.services.tariffs.push_done(push, outcome.status, outcome.detail)
            connection.link.log.info(
                "tariff push %s: %s%s",
                outcome.status,
                outcome.detail,
                "" if recorded else " (a newer push is due)",
            )
        finally:
            self._running.discard(cp)

    async def apply(self, connection: ChargerConnection, push: TariffPush) -> PushOutcome:
        """Push one charger's display now; the outcome (never raises for the charger's
        answers)."""
        tariff: Tariff | None = None
        if push.tariff_id is not None and push.tariff_version is not None:
            version = await self.services.tariffs.version(push.tariff_id, push.tariff_version)
            tariff = parse_tariff(version.definition)
        site = await self.services.tariffs.site_of(connection.charge_point_id)
        zone = site.zone if site is not None else self.services.pricing.default_zone
        display = DisplayPush(tariff, zone, self.services.clock(), self.total_cost_fallback)
        try:
            return await connection.version.push_display(connection.ctx, display)
        except (CommandError, OcppError) as exc:
            return PushOutcome(PUSH_FAILED, str(exc))
