"""Pricing of sessions: the tariff version a session is priced with, its charging states,
its running cost and its final cost. Attached to the session hook points.

- SessionStarted: the tariff that applies (driver group > charger > site > default, its
  current published version) is fixed on the session, once.
- ConnectorStatusChanged (1.6: Charging / SuspendedEV / SuspendedEVSE / Finishing) and
  SessionUpdated (2.0.1 ``chargingState``): when the session charged and when it did not
  (idle fees are billed on the latter).
- SessionUpdated with meter samples: the running cost, at most once per
  ``update_interval`` per session, recomputed from what is stored (the session's readings
  and states), so a failover or a replayed message never changes a total.
- SessionEnded: the final cost, frozen on the session with its breakdown; the charger's own
  stop after a close by the CSMS replaces it once; anything later changes nothing.

Each running and final cost is emitted as :class:`SessionCostComputed` (the live stream).
The node's handlers ask :meth:`PricingService.take_fresh` for the cost computed while they
handled a message (to show it: 2.0.1 ``totalCost``, 1.6 ``RunningCost`` / ``FinalCost``).
"""

from __future__ import annotations

import decimal
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from csms.domain.clock import Clock
from csms.domain.cost import CostBreakdown, Reading, StateChange, Timeline, cost
from csms.domain.meter_values import MeterSample
from csms.domain.price_display import (
    TARIFF_COST_CTRLR,
    UNKNOWN,
    DisplayCapability,
    UnitPrices,
    capability_v16,
    capability_v201,
    unit_prices,
)
from csms.domain.sites import Applicable, group_targets
from csms.domain.tariff_catalog import SessionCost
from csms.domain.tariffs import Tariff, display_text, parse_tariff
from csms.domain.transactions import SessionRef, TokenRef
from csms.services.hooks import (
    ConnectorStatusChanged,
    Hooks,
    SessionCostComputed,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
)
from csms.services.ports import PricingStore, ReportStore, SessionStore, TariffStore

log = logging.getLogger(__name__)

CHARGING_STATUSES_16 = {"Charging": True, "SuspendedEV": False, "SuspendedEVSE": False}
CHARGING_STATUSES_16["Finishing"] = False
CHARGING_STATE_201 = "Charging"  # 2.0.1 chargingState; the others are not charging
ENERGY_REGISTER = "Energy.Active.Import.Register"
KEPT_SESSIONS = 65_536  # priced (and unpriced) sessions remembered by this process
PRICING_EVENT = "Pricing"  # the charger events pricing keeps (the charger's journal of notes)
LATE_EVENT = "late_event_after_final_cost"


@dataclass(slots=True)
class PricedSession:
    """What pricing remembers of a priced session while it runs."""

    ref: SessionRef
    charge_point_id: str
    tariff_id: str
    tariff_version: int
    tariff: Tariff
    zone: ZoneInfo
    started_at: datetime
    computed_at: datetime | None = None  # the last running cost (by the CSMS clock)
    charging: bool | None = None  # the last state recorded (None: none yet: charging)
    last: SessionCost | None = None


@dataclass(frozen=True, slots=True)
class DriverPrice:
    """The price a driver sees before charging (2.0.1 personalMessage, 1.6 SetUserPrice)."""

    applicable: Applicable
    tariff_version: int
    tariff: Tariff
    zone: ZoneInfo

    def text(self, language: str | None) -> str:
        return display_text(self.tariff, language)

    def languages(self) -> tuple[str, ...]:
        return tuple(t.language for t in self.tariff.texts)


class PricingService:
    def __init__(
        self,
        pricing: PricingStore,
        tariffs: TariffStore,
        sessions: SessionStore,
        reports: ReportStore,
        *,
        clock: Clock,
        hooks: Hooks,
        update_interval: float = 30.0,
        rounding: str = decimal.ROUND_HALF_UP,
        default_time_zone: str = "UTC",
    ) -> None:
        self._pricing = pricing
        self._tariffs = tariffs
        self._sessions = sessions
        self._reports = reports
        self._clock = clock
        self._hooks = hooks
        self.update_interval = timedelta(seconds=update_interval)
        self.rounding = rounding
        self.default_zone = ZoneInfo(default_time_zone)
        # session pk -> what pricing knows of it (None: not priced)
        self._known: OrderedDict[int, PricedSession | None] = OrderedDict()
        # priced sessions whose final cost this process froze: what comes later is noted
        self._frozen: OrderedDict[int, SessionRef] = OrderedDict()
        # (charger, evse, connector) -> the session pk there, for 1.6 status changes
        self._places: OrderedDict[tuple[str, int, int], int] = OrderedDict()
        # costs computed while a message was handled, for its handler to show
        self._fresh: OrderedDict[int, SessionCost] = OrderedDict()
        self._parsed: OrderedDict[tuple[str, int], Tariff] = OrderedDict()

    def attach(self) -> None:
        self._hooks.subscribe(SessionStarted, self.on_session_started)
        self._hooks.subscribe(SessionUpdated, self.on_session_updated)
        self._hooks.subscribe(ConnectorStatusChanged, self.on_connector_status)
        self._hooks.subscribe(SessionEnded, self.on_session_ended)

    # -- hook subscribers ---------------------------------------------------------------------

    async def on_session_started(self, e: SessionStarted) -> None:
        ref = e.session
        self._remember_place(e.charge_point_id, ref)
        token = e.event.start_token
        parent = None if e.authorization is None else e.authorization.parent_id_token
        groups = group_targets(None if token is None else token.id_token, parent)
        resolved = await self._tariffs.resolve(e.charge_point_id, groups)
        if resolved.version is not None:
            version = resolved.version
            await self._pricing.set_tariff(
                ref.pk,
                tariff_id=version.tariff_id,
                tariff_version=version.version,
                currency=version.currency,
            )  # False: an earlier message fixed it; what is stored wins (loaded below)
        self._known.pop(ref.pk, None)
        priced = await self._load(ref, e.charge_point_id)
        if priced is not None and e.event.charging_state is not None:
            charging = e.event.charging_state == CHARGING_STATE_201
            await self._state(priced, e.event.at, charging)

    async def on_session_updated(self, e: SessionUpdated) -> None:
        priced = await self._priced(e.session, e.charge_point_id)
        if priced is None:
            if e.session.pk in self._frozen:
                await self._late(e.charge_point_id, e.session, "a message about the session")
            return
        state = e.event.charging_state
        if state is not None:
            await self._state(priced, e.event.at, state == CHARGING_STATE_201)
        if _has_register(e.samples) and self._due(priced):
            await self.running(priced, at=e.event.at)

    async def on_connector_status(self, e: ConnectorStatusChanged) -> None:
        charging = CHARGING_STATUSES_16.get(e.status.status)
        if charging is None or e.status.evse_id != 0:  # 2.0.1 says it in chargingState
            return
        pk = self._places.get((e.charge_point_id, 0, e.status.connector_id))
        refs: dict[int, SessionRef] = {}
        if pk is None:  # started on another node, or before this process
            for open_session in await self._sessions.open_sessions(e.charge_point_id):
                ref = SessionRef(
                    open_session.id,
                    open_session.transaction_id,
                    open_session.evse_id,
                    open_session.connector_id,
                )
                refs[ref.pk] = ref
                self._remember_place(e.charge_point_id, ref)
            pk = self._places.get((e.charge_point_id, 0, e.status.connector_id))
            if pk is None:
                return
        if pk in self._known:
            priced = self._known[pk]
        elif pk in refs:
            priced = await self._load(refs[pk], e.charge_point_id)
        else:
            session = await self._sessions.get_by_pk(pk)
            if session is None or not session.active:
                return
            ref = SessionRef(pk, session.transaction_id, session.evse_id, session.connector_id)
            priced = await self._load(ref, e.charge_point_id)
        if priced is not None:
            await self._state(priced, e.status.status_at, charging)

    async def on_session_ended(self, e: SessionEnded) -> None:
        self._forget_place(e.charge_point_id, e.session)
        pk = e.session.pk
        if pk in self._known and not e.replaces_close:
            priced = self._known[pk]
        else:  # from the store (started elsewhere; or the charger's stop after a close)
            self._known.pop(pk, None)
            priced = await self._load(e.session, e.charge_point_id, final_ok=True)
        if priced is None:
            if pk in self._frozen:
                await self._late(e.charge_point_id, e.session, "another end of the session")
            return
        if e.event is not None and e.event.charging_state is not None:
            await self._state(priced, e.event.at, e.event.charging_state == CHARGING_STATE_201)
        breakdown = await self._compute(priced)
        if breakdown is None:
            return
        now = self._clock()
        stored = await self._pricing.store_cost(
            priced.ref.pk,
            excl_vat=breakdown.total_excl_vat,
            vat=breakdown.total_vat,
            incl_vat=breakdown.total_incl_vat,
            breakdown=breakdown.to_json(),
            at=now,
            final=True,
            replace_final=e.replaces_close,
        )
        self._known.pop(priced.ref.pk, None)
        self._frozen[priced.ref.pk] = priced.ref
        if len(self._frozen) > KEPT_SESSIONS:
            self._frozen.popitem(last=False)
        if not stored:
            await self._late(e.charge_point_id, priced.ref, "another end of the session")
            return
        result = self._session_cost(priced, breakdown, now, final=True)
        self._keep_fresh(priced.ref.pk, result)
        await self._hooks.emit(SessionCostComputed(e.charge_point_id, priced.ref, result))

    # -- what handlers ask ------------------------------------------------------------------------

    def take_fresh(self, pk: int) -> SessionCost | None:
        """The cost computed for session ``pk`` while the current message was handled, once."""
        return self._fresh.pop(pk, None)

    async def stored_cost(self, pk: int) -> SessionCost | None:
        return await self._pricing.session_cost(pk)

    async def energy_wh(self, pk: int) -> Decimal | None:
        session = await self._sessions.get_by_pk(pk)
        return None if session is None else session.energy_wh

    async def priced(self, ref: SessionRef, charge_point_id: str) -> PricedSession | None:
        return await self._priced(ref, charge_point_id)

    async def running(
        self, priced: PricedSession, *, at: datetime | None = None
    ) -> SessionCost | None:
        """Recompute the running cost from what is stored, up to ``at`` (the message it is
        based on; default now), keep it and emit it (None: the session has ended: its final
        cost stands)."""
        breakdown = await self._compute(priced, until=at)
        if breakdown is None:
            return None
        now = self._clock()
        priced.computed_at = now
        kept = await self._pricing.store_cost(
            priced.ref.pk,
            excl_vat=breakdown.total_excl_vat,
            vat=breakdown.total_vat,
            incl_vat=breakdown.total_incl_vat,
            breakdown=breakdown.to_json(),
            at=now,
            final=False,
        )
        if not kept:
            return None
        result = self._session_cost(priced, breakdown, now, final=False)
        priced.last = result
        self._keep_fresh(priced.ref.pk, result)
        await self._hooks.emit(SessionCostComputed(priced.charge_point_id, priced.ref, result))
        return result

    def prices_now(self, priced: PricedSession, *, session_wh: Decimal = Decimal(0)) -> UnitPrices:
        return unit_prices(
            priced.tariff,
            self._clock(),
            zone=priced.zone,
            started_at=priced.started_at,
            session_wh=session_wh,
            charging=priced.charging is not False,
        )

    async def driver_price(
        self, charge_point_id: str, token: TokenRef, parent_id_token: str | None
    ) -> DriverPrice | None:
        """The tariff that would price a session of this driver here, now."""
        resolved = await self._tariffs.resolve(
            charge_point_id, group_targets(token.id_token, parent_id_token)
        )
        if resolved.version is None or resolved.applicable is None:
            return None
        version = resolved.version
        tariff = self._tariff(version.tariff_id, version.version, version.definition)
        zone = resolved.site.zone if resolved.site is not None else self.default_zone
        return DriverPrice(resolved.applicable, version.version, tariff, zone)

    async def capability(self, charge_point_id: str, protocol: str) -> DisplayCapability:
        """What the charger reported about its price display (UNKNOWN: nothing yet)."""
        if protocol == "ocpp1.6":
            rows = await self._reports.list_configuration(charge_point_id)
            return capability_v16({r.key: r.value for r in rows})
        rows = await self._reports.list_variables(charge_point_id)
        enabled = {
            r.variable_instance or "": r.value
            for r in rows
            if r.component == TARIFF_COST_CTRLR and r.variable == "Enabled"
        }
        return capability_v201(enabled) if enabled else UNKNOWN

    # -- the parts ---------------------------------------------------------------------------------

    async def _late(self, charge_point_id: str, ref: SessionRef, what: str) -> None:
        """Something arrived about a session whose final cost is frozen: it changes nothing,
        and the charger's events say so."""
        log.info(
            "%s after its final cost: the cost of session %s stays",
            what,
            ref.transaction_id,
            extra={"charge_point_id": charge_point_id},
        )
        await self._reports.record_notification(
            charge_point_id,
            PRICING_EVENT,
            {
                "transaction_id": ref.transaction_id,
                "note": f"{what} arrived after the final cost was frozen: the cost stays",
            },
            kind=LATE_EVENT,
            occurred_at=self._clock(),
        )

    async def _priced(self, ref: SessionRef, charge_point_id: str) -> PricedSession | None:
        if ref.pk in self._known:
            self._known.move_to_end(ref.pk)
            return self._known[ref.pk]
        return await self._load(ref, charge_point_id)

    async def _load(
        self, ref: SessionRef, charge_point_id: str, *, final_ok: bool = False
    ) -> PricedSession | None:
        """From the store: after a failover, or when another node started the session.
        A session whose final cost is frozen is not priced again (unless ``final_ok``)."""
        stored = await self._pricing.session_cost(ref.pk)
        priced: PricedSession | None = None
        if stored is not None and stored.final and not final_ok:
            self._frozen[ref.pk] = ref
            if len(self._frozen) > KEPT_SESSIONS:
                self._frozen.popitem(last=False)
        elif stored is not None and stored.tariff_id is not None:
            assert stored.tariff_version is not None
            version = await self._tariffs.get_version(stored.tariff_id, stored.tariff_version)
            session = await self._sessions.get_by_pk(ref.pk)
            if version is not None and session is not None and (session.active or final_ok):
                site = await self._tariffs.site_of(charge_point_id)
                states = await self._pricing.states(ref.pk)
                priced = PricedSession(
                    ref,
                    charge_point_id,
                    version.tariff_id,
                    version.version,
                    self._tariff(version.tariff_id, version.version, version.definition),
                    site.zone if site is not None else self.default_zone,
                    session.started_at,
                    computed_at=stored.computed_at,
                    charging=states[-1][1] if states else None,
                    last=stored if stored.computed_at is not None else None,
                )
        self._known[ref.pk] = priced
        if len(self._known) > KEPT_SESSIONS:
            self._known.popitem(last=False)
        return priced

    def _tariff(self, tariff_id: str, version: int, definition: dict[str, object]) -> Tariff:
        key = (tariff_id, version)
        found = self._parsed.get(key)
        if found is None:  # a published version never changes: parsed once
            found = self._parsed[key] = parse_tariff(definition)
            if len(self._parsed) > 256:
                self._parsed.popitem(last=False)
        return found

    async def _state(self, priced: PricedSession, at: datetime, charging: bool) -> None:
        if priced.charging is charging or (priced.charging is None and charging):
            return  # no change (before any state a session counts as charging)
        await self._pricing.add_state(priced.ref.pk, at, charging)
        priced.charging = charging

    def _due(self, priced: PricedSession) -> bool:
        return (
            priced.computed_at is None or self._clock() - priced.computed_at >= self.update_interval
        )

    async def _compute(
        self, priced: PricedSession, *, until: datetime | None = None
    ) -> CostBreakdown | None:
        session = await self._sessions.get_by_pk(priced.ref.pk)
        if session is None:
            return None
        readings = [Reading(at, wh) for at, wh in await self._pricing.register_readings(session.id)]
        ended_at = session.ended_at or until or self._clock()
        if session.ended_at is not None and session.meter_stop_wh is not None:
            readings.append(Reading(session.ended_at, session.meter_stop_wh))
        states = [StateChange(at, c) for at, c in await self._pricing.states(session.id)]
        timeline = Timeline(
            started_at=session.started_at,
            ended_at=max(ended_at, session.started_at),
            meter_start_wh=session.meter_start_wh,
            readings=tuple(readings),
            states=tuple(states),
        )
        return cost(priced.tariff, timeline, time_zone=priced.zone, rounding=self.rounding)

    def _session_cost(
        self, priced: PricedSession, breakdown: CostBreakdown, at: datetime, *, final: bool
    ) -> SessionCost:
        return SessionCost(
            priced.tariff_id,
            priced.tariff_version,
            breakdown.currency,
            breakdown.total_excl_vat,
            breakdown.total_vat,
            breakdown.total_incl_vat,
            breakdown.to_json(),
            at,
            final,
        )

    def _keep_fresh(self, pk: int, result: SessionCost) -> None:
        self._fresh[pk] = result
        if len(self._fresh) > 1024:  # computed without a handler to show it (a sweep close)
            self._fresh.popitem(last=False)

    def _remember_place(self, charge_point_id: str, ref: SessionRef) -> None:
        key = (charge_point_id, ref.evse_id, ref.connector_id)
        self._places[key] = ref.pk
        self._places.move_to_end(key)
        if len(self._places) > KEPT_SESSIONS:
            self._places.popitem(last=False)

    def _forget_place(self, charge_point_id: str, ref: SessionRef) -> None:
        key = (charge_point_id, ref.evse_id, ref.connector_id)
        if self._places.get(key) == ref.pk:
            del self._places[key]


def _has_register(samples: Sequence[MeterSample]) -> bool:
    return any(s.measurand == ENERGY_REGISTER for s in samples)
