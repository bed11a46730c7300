"""Charging sessions, version neutral: authorize tokens, start, update and end sessions.

The 1.6 and 2.0.1 handlers translate their messages into :class:`SessionEvent`s and call
:meth:`SessionService.start`, :meth:`~SessionService.update` or :meth:`~SessionService.end`.
What makes an acknowledged message impossible to lose or to apply twice:

1. meter samples are stored first (a replay stores them again as no-ops: they have a
   unique key);
2. a sequenced message (2.0.1 seqNo) is recorded and applied in one statement, so a crash
   cannot leave it recorded but unapplied for its replay to skip; an end is applied first
   (ending is itself idempotent) and only then recorded;
3. a start the CSMS names is found again by its start key; a second end changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from csms.domain.accounts import refusal
from csms.domain.clock import Clock
from csms.domain.id_tokens import NO_AUTHORIZATION, Authorization, TokenStatus, authorize
from csms.domain.meter_values import MeterSample, SampleBatch, first_and_last_register_wh
from csms.domain.transactions import (
    CLOSE_CONNECTOR_AVAILABLE,
    CLOSE_NOT_ONGOING,
    CLOSE_REBOOTED,
    CLOSE_SUPERSEDED,
    CLOSED_BY_CSMS,
    EventRecord,
    NamedBy,
    NewSession,
    Phase,
    SessionEvent,
    SessionRef,
    TokenRef,
    Transaction,
    authorized_after,
    changes_of,
    closing,
    ending,
    start_key,
    token_starts,
)
from csms.services.hooks import (
    ConnectorStatusChanged,
    Hooks,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
)
from csms.services.link import ChargerLink
from csms.services.ports import MeterStore, SessionStore, TokenStore

log = logging.getLogger(__name__)

AVAILABLE = "Available"  # a connector status: nothing plugged in
IDLE = "Idle"  # a charging state: authorized, no EV connected yet (2.0.1)


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """What a transaction message came to: the session (None: not ours / unknown), the
    decision on its token (None: it had none), and whether it changed anything."""

    session: SessionRef | None
    authorization: Authorization | None
    fresh: bool


class SessionService:
    def __init__(
        self,
        sessions: SessionStore,
        tokens: TokenStore,
        meters: MeterStore,
        *,
        clock: Clock,
        hooks: Hooks,
        billing: bool = False,
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens
        self._meters = meters
        self._clock = clock
        self._hooks = hooks
        self._billing = billing

    # -- tokens ------------------------------------------------------------------------------

    async def authorize(
        self,
        token: TokenRef,
        *,
        starting: bool = False,
        excluding_pk: int | None = None,
        to_charge: bool = True,
    ) -> Authorization:
        """The decision for ``token`` now; ``starting`` adds the concurrent-session check.

        With billing on, a token that would be Accepted ``to_charge`` (an Authorize, a
        start) is also judged by the standing of the account it bills to: blocked or closed
        answers Blocked, a prepaid wallet below its minimum NoCredit (read with the token in
        one query; :func:`csms.domain.accounts.refusal`). A token presented to stop is not: ending a
        session never waits on money."""
        if token.type == NO_AUTHORIZATION:
            return Authorization(TokenStatus.ACCEPTED)
        standing = None
        if self._billing and to_charge:
            record, standing = await self._tokens.get_with_standing(token.id_token)
        else:
            record = await self._tokens.get(token.id_token)
        others = 0
        if starting and record is not None and not record.allow_concurrent:
            others = await self._sessions.count_active_for_token(
                token.id_token, excluding_pk=excluding_pk
            )
        decision = authorize(record, self._clock(), other_active_sessions=others, starting=starting)
        refused = None if standing is None or not decision.accepted else refusal(standing)
        if refused is None:
            return decision
        log.info("token refused: %s (%s)", refused.detail, refused.reason)
        return Authorization(refused.status, decision.expiry_date, decision.parent_id_token)

    # -- meter values outside sessions -------------------------------------------------------

    async def meter_values(
        self, link: ChargerLink, evse_id: int, connector_id: int, samples: Sequence[MeterSample]
    ) -> None:
        """Samples that belong to no session (a connector's or the station's meter)."""
        await self._meters.add_samples(link.charge_point_id, evse_id, connector_id, None, samples)

    # -- the session lifecycle ---------------------------------------------------------------

    async def start(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        if event.named_by is NamedBy.CSMS:
            return await self._start_named_by_csms(link, event)
        return await self._sequenced(link, event)

    async def update(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        if event.named_by is NamedBy.CSMS:
            return await self._update_named_by_csms(link, event)
        return await self._sequenced(link, event)

    async def end(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        if event.named_by is NamedBy.CSMS:
            return await self._end_named_by_csms(link, event)
        return await self._sequenced(link, event)

    # -- sessions the CSMS names (1.6) ---------------------------------------------------------

    async def _start_named_by_csms(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        token = event.token
        assert token is not None and event.connector_id is not None
        assert event.meter_start_wh is not None
        key = start_key(event.connector_id, token.id_token, event.at, event.meter_start_wh)
        replayed = await self._sessions.find_started(link.charge_point_id, key)
        if replayed is not None:
            link.log.info("start replayed: transaction %s", replayed.transaction_id)
            return self._known_start(link, replayed)
        # A session is recorded whatever the decision: the charger may have started it
        # offline and will stop it itself when told the token is not Accepted (1.6 5.19).
        authorization = await self.authorize(token, starting=True)
        session, created = await self._sessions.create_started(
            link.charge_point_id,
            NewSession(
                protocol=event.protocol,
                start_key=key,
                evse_id=event.evse_id or 0,
                connector_id=event.connector_id,
                id_token=token.id_token,
                id_token_type=token.type,
                started_at=event.at,
                meter_start_wh=event.meter_start_wh,
                reservation_id=event.reservation_id,
                authorization_status=authorization.status.value,
                parent_id_token=authorization.parent_id_token,
            ),
        )
        if not created:  # the same start, arrived twice at once
            return self._known_start(link, session)
        link.sessions.remember(session.ref)
        await self._close_superseded(
            link.charge_point_id, session.id, session.evse_id, session.connector_id, event.at
        )
        link.log.info(
            "transaction %s started on connector %d (%s)",
            session.transaction_id,
            session.connector_id,
            authorization.status.value,
        )
        await self._hooks.emit(
            SessionStarted(link.charge_point_id, session.ref, authorization, event)
        )
        return SessionOutcome(session.ref, authorization, True)

    @staticmethod
    def _known_start(link: ChargerLink, session: Transaction) -> SessionOutcome:
        """A replayed start is answered as the first one was."""
        link.sessions.remember(session.ref)
        status = TokenStatus(session.authorization_status or TokenStatus.INVALID.value)
        return SessionOutcome(
            session.ref, Authorization(status, None, session.parent_id_token), False
        )

    async def _named_by_csms(self, link: ChargerLink, transaction_id: str) -> SessionRef | None:
        """A session of this charger by the id we gave it (None: unknown, or another
        charger's); looked up once per connection."""
        ref = link.sessions.get(transaction_id)
        if ref is None:
            session = await self._sessions.get(link.charge_point_id, transaction_id)
            if session is None:
                return None
            ref = session.ref
            link.sessions.remember(ref)
        return ref

    async def _update_named_by_csms(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        assert event.transaction_id is not None
        ref = await self._named_by_csms(link, event.transaction_id)
        if ref is None:
            link.log.warning("meter values for unknown transaction %s", event.transaction_id)
        await self._store_samples(link, event, ref)
        if ref is not None and self._hooks.wants(SessionUpdated):
            await self._hooks.emit(SessionUpdated(link.charge_point_id, ref, event.samples, event))
        return SessionOutcome(ref, None, ref is not None)

    async def _end_named_by_csms(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        assert event.transaction_id is not None
        authorization = (
            None if event.token is None else await self.authorize(event.token, to_charge=False)
        )
        session = await self._sessions.get(link.charge_point_id, event.transaction_id)
        if session is None:
            # Unknown here, or another charger's: answered so the charger drops it.
            link.log.warning("stop for unknown transaction %s", event.transaction_id)
            return SessionOutcome(None, authorization, False)
        await self._store_samples(link, event, session.ref)
        ended = await self._finish(link, session, event, None)
        if not ended:
            link.log.info("stop of transaction %s replayed: no change", session.transaction_id)
        return SessionOutcome(session.ref, authorization, ended)

    # -- sessions the charger names (2.0.1), every message sequenced ---------------------------

    async def _sequenced(self, link: ChargerLink, event: SessionEvent) -> SessionOutcome:
        assert event.transaction_id is not None and event.seq_no is not None
        known = link.sessions.get(event.transaction_id)
        if known is not None and event.phase is Phase.UPDATED and event.token is None:
            # a periodic update of a session this connection has seen: one statement, its
            # samples included
            fresh = await self._record_and_apply(known, event, None, samples_of=link)
            return await self._updated(link, known, event, None, fresh)
        session = await self._sessions.open_named(
            link.charge_point_id,
            event.transaction_id,
            protocol=event.protocol,
            started_at=event.at,
            evse_id=event.evse_id or 0,
            connector_id=event.connector_id or 0,
        )
        ref = session.ref
        link.sessions.remember(ref)
        if event.phase is Phase.ENDED:
            await self._store_samples(link, event, ref)  # before the end reads the register
        authorization = None
        if event.token is not None:
            # E01.FR.11 / E05.FR.01: verify the token even if the charger authorized it.
            starts = token_starts(event, session)
            authorization = await self.authorize(
                event.token, starting=starts, excluding_pk=ref.pk, to_charge=starts
            )
        if event.phase is Phase.ENDED:
            await self._sessions.apply(ref.pk, changes_of(event, authorization))
            await self._finish(link, session, event, authorization)
            fresh = await self._sessions.record_event(self._record(ref, event, authorization))
            if not fresh:
                self._replayed(link, event)
            return SessionOutcome(ref, authorization, fresh)
        fresh = await self._record_and_apply(ref, event, authorization, samples_of=link)
        if event.phase is Phase.UPDATED:
            return await self._updated(link, ref, event, authorization, fresh)
        if fresh:
            link.log.info("transaction %s started", ref.transaction_id)
            await self._close_superseded(
                link.charge_point_id,
                ref.pk,
                event.evse_id or session.evse_id,
                event.connector_id or session.connector_id,
                event.at,
            )
            await self._hooks.emit(SessionStarted(link.charge_point_id, ref, authorization, event))
        else:
            self._replayed(link, event)
        return SessionOutcome(ref, authorization, fresh)

    async def _updated(
        self,
        link: ChargerLink,
        ref: SessionRef,
        event: SessionEvent,
        authorization: Authorization | None,
        fresh: bool,
    ) -> SessionOutcome:
        if fresh:
            if self._hooks.wants(SessionUpdated):  # the hot path: build it only if wanted
                await self._hooks.emit(
                    SessionUpdated(link.charge_point_id, ref, event.samples, event)
                )
        else:
            self._replayed(link, event)
        return SessionOutcome(ref, authorization, fresh)

    @staticmethod
    def _replayed(link: ChargerLink, event: SessionEvent) -> None:
        link.log.info(
            "transaction %s seqNo %s replayed: no change", event.transaction_id, event.seq_no
        )

    @staticmethod
    def _record(
        ref: SessionRef, event: SessionEvent, authorization: Authorization | None
    ) -> EventRecord:
        return EventRecord(
            ref.pk,
            event.phase.value,
            event.at,
            event.record or {},
            changes_of(event, authorization),
        )

    async def _record_and_apply(
        self,
        ref: SessionRef,
        event: SessionEvent,
        authorization: Authorization | None,
        *,
        samples_of: ChargerLink | None = None,
    ) -> bool:
        """Record and apply the event; with ``samples_of`` (its charger) its samples are
        stored in the same write, atomically: a replay after a crash finds both or neither,
        and a 2.0.1 event costs one round trip instead of two."""
        samples = None
        if samples_of is not None and event.samples:
            evse_id = ref.evse_id if event.evse_id is None else event.evse_id
            connector_id = ref.connector_id if event.connector_id is None else event.connector_id
            samples = SampleBatch(
                samples_of.charge_point_id, evse_id or 0, connector_id or 0, event.samples
            )
        return await self._sessions.record_and_apply(
            self._record(ref, event, authorization), samples
        )

    # -- shared ------------------------------------------------------------------------------

    async def _store_samples(
        self, link: ChargerLink, event: SessionEvent, ref: SessionRef | None
    ) -> None:
        """Samples before what they belong to is recorded: a replay after a crash stores
        them again as no-ops, so nothing is lost in between."""
        if not event.samples:
            return
        evse_id = event.evse_id
        connector_id = event.connector_id
        if ref is not None:
            evse_id = ref.evse_id if evse_id is None else evse_id
            connector_id = ref.connector_id if connector_id is None else connector_id
        await self._meters.add_samples(
            link.charge_point_id,
            evse_id or 0,
            connector_id or 0,
            None if ref is None else ref.pk,
            event.samples,
        )

    async def _finish(
        self,
        link: ChargerLink,
        session: Transaction,
        event: SessionEvent,
        authorization: Authorization | None,
    ) -> bool:
        """End the session with its energy (from the message's or the stored register
        readings where the message has none); False if it had ended before (unless the CSMS
        had closed it: the charger's stop wins, once)."""
        meter_start: Decimal | None = session.meter_start_wh
        meter_stop = event.meter_stop_wh
        if meter_stop is None:
            _, meter_stop = first_and_last_register_wh(event.samples)
        if meter_start is None or meter_stop is None:
            first, last = await self._meters.register_readings_wh(session.id)
            meter_start = first if meter_start is None else meter_start
            meter_stop = last if meter_stop is None else meter_stop
        authorized = authorized_after(session, event, authorization)
        how = ending(event, meter_start, meter_stop, authorized=authorized)
        if not await self._sessions.finish(session.id, how):
            return False
        replaces = session.closed_by == CLOSED_BY_CSMS
        if replaces:
            link.log.warning(
                "transaction %s: the charger's stop arrived after the CSMS had closed it "
                "(%s); its readings replace the estimate",
                session.transaction_id,
                session.close_reason,
            )
        else:
            link.log.info("transaction %s ended", session.transaction_id)
        await self._hooks.emit(
            SessionEnded(
                link.charge_point_id,
                session.ref,
                how.ended_at,
                how.meter_start_wh,
                how.meter_stop_wh,
                how.energy_wh,
                how.flags,
                how.stop_reason,
                event,
                replaces_close=replaces,
            )
        )
        return True

    # -- sessions the charger abandoned (docs/topics/sessions.md) ------------------------------

    async def open_sessions(self, charge_point_id: str) -> list[Transaction]:
        """The charger's sessions that have not ended."""
        return await self._sessions.open_sessions(charge_point_id)

    async def _close_superseded(
        self,
        charge_point_id: str,
        new_pk: int,
        evse_id: int | None,
        connector_id: int | None,
        started_at: datetime,
    ) -> None:
        """A session started on a connector / EVSE: an older open one there was abandoned."""
        if not evse_id and not connector_id:
            return  # nowhere known yet
        for old in await self._sessions.open_sessions(charge_point_id):
            if (
                old.id != new_pk
                and old.started_at < started_at
                and old.same_place(evse_id or 0, connector_id or 0)
            ):
                await self.close(charge_point_id, old, CLOSE_SUPERSEDED)

    async def on_connector_status(self, changed: ConnectorStatusChanged) -> None:
        """Available (nothing plugged in) with no activity of an open session there since:
        the charger abandoned it. A session waiting for its EV (charging state Idle) is
        left alone."""
        status = changed.status
        if status.status != AVAILABLE:
            return
        for session in await self._sessions.open_sessions(changed.charge_point_id):
            if session.charging_state == IDLE:
                continue
            if not session.same_place(status.evse_id, status.connector_id):
                continue
            last = await self._sessions.last_activity(session.id) or session.started_at
            if last < status.status_at:
                await self.close(changed.charge_point_id, session, CLOSE_CONNECTOR_AVAILABLE)

    async def close_after_reboot(self, grace: timedelta) -> list[Transaction]:
        """Sessions of chargers that rebooted more than ``grace`` ago without ending them or
        sending anything about them since (queued stops are delivered right after a boot)."""
        closed = []
        for session in await self._sessions.open_after_boot(self._clock() - grace):
            if await self.close(session.charge_point_id, session, CLOSE_REBOOTED):
                closed.append(session)
        return closed

    async def not_ongoing(self, charge_point_id: str, transaction_id: str) -> bool:
        """The charger says it is not doing this session and has nothing queued about it
        (2.0.1 GetTransactionStatus, E14): close it if open."""
        session = await self._sessions.get(charge_point_id, transaction_id)
        if session is None or not session.active:
            return False
        return await self.close(charge_point_id, session, CLOSE_NOT_ONGOING)

    async def close(self, charge_point_id: str, session: Transaction, reason: str) -> bool:
        """Close a session the charger abandoned, at its last known activity with its last
        register reading; never silently (logged, flagged, a SessionEnded hook). False if it
        had ended meanwhile."""
        last = await self._sessions.last_activity(session.id) or session.started_at
        first, latest = await self._meters.register_readings_wh(session.id)
        start = first if session.meter_start_wh is None else session.meter_start_wh
        how = closing(session, last, start, latest, reason)
        if not await self._sessions.finish(session.id, how):
            return False
        log.warning(
            "transaction %s closed by the CSMS (%s): ended at %s, %s Wh",
            session.transaction_id,
            reason,
            how.ended_at.isoformat(),
            how.energy_wh,
            extra={"charge_point_id": charge_point_id},
        )
        await self._hooks.emit(
            SessionEnded(
                charge_point_id,
                session.ref,
                how.ended_at,
                how.meter_start_wh,
                how.meter_stop_wh,
                how.energy_wh,
                how.flags,
                how.stop_reason,
                None,
                closed_by=CLOSED_BY_CSMS,
                close_reason=reason,
            )
        )
        return True
