"""Sessions, their meter samples and their prices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from csms.domain.meter_values import MeterSample, SampleBatch
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import Ending, EventRecord, NewSession, SessionChanges, Transaction


class SessionStore(Protocol):
    """Charging sessions (``transactions``) and their sequenced messages."""

    async def find_started(self, charge_point_id: str, start_key: str) -> Transaction | None:
        """The session a CSMS-named start with this key created."""
        ...

    async def create_started(
        self, charge_point_id: str, new: NewSession
    ) -> tuple[Transaction, bool]:
        """A new session with a random positive 31-bit transaction id unique across chargers
        (created True), or the one with the same start key (False)."""
        ...

    async def open_named(
        self,
        charge_point_id: str,
        transaction_id: str,
        *,
        protocol: str,
        started_at: datetime,
        evse_id: int,
        connector_id: int,
    ) -> Transaction:
        """The session the charger named ``transaction_id``; created with the given values
        if it does not exist, else returned unchanged."""
        ...

    async def get(self, charge_point_id: str, transaction_id: str) -> Transaction | None: ...

    async def get_by_pk(self, pk: int) -> Transaction | None: ...

    async def record_and_apply(
        self, event: EventRecord, samples: SampleBatch | None = None
    ) -> bool:
        """Record a sequenced message and apply its changes (both or neither; the changes
        are not applied to an ended session, but the message is kept). False, and nothing
        changes, if its seqNo was recorded for the session before. Events of one session
        apply in call order. Durable.

        ``samples`` (the message's, of session ``event.pk``) are stored with it, atomically,
        as ``MeterStore.add_samples`` would (a replayed sample adds nothing), whether or not
        the event is fresh: one write instead of two."""
        ...

    async def record_event(self, event: EventRecord) -> bool:
        """Record a sequenced message without applying it; False if its seqNo was
        recorded before."""
        ...

    async def apply(self, pk: int, changes: SessionChanges) -> None:
        """Apply changes to a session that has not ended (first token wins, newest state
        wins, the earliest start wins, offline sticks, a later stop token wins)."""
        ...

    async def finish(self, pk: int, ending: Ending) -> bool:
        """End a session (keeps a meter start it had; flags are added, replacing the ones an
        end decides). A charger's end (no ``close_reason``) applies to a session that has
        not ended, or that the CSMS closed (the charger's true stop wins, once); a CSMS
        close only to one that has not ended. False, and nothing changes, otherwise."""
        ...

    async def count_active_for_token(
        self, id_token: str, *, excluding_pk: int | None = None
    ) -> int:
        """Sessions of the token (case-insensitive) that have not ended and whose
        authorization status is Accepted, on any charger."""
        ...

    async def open_sessions(self, charge_point_id: str) -> list[Transaction]:
        """A charger's sessions that have not ended, by start time."""
        ...

    async def last_activity(self, pk: int) -> datetime | None:
        """The latest of the session's start, its meter samples' and its events' times."""
        ...

    async def open_after_boot(self, booted_before: datetime) -> list[Transaction]:
        """Sessions not ended of chargers whose last boot is before ``booted_before``, whose
        last activity is before that boot; by row id."""
        ...


class PricingStore(Protocol):
    """What pricing keeps on a session: its tariff version, its cost, its charging states."""

    async def set_tariff(
        self, pk: int, *, tariff_id: str, tariff_version: int, currency: str
    ) -> bool:
        """Fix the tariff version a session is priced with; once (False if it had one).
        Only a published version: NotFound for a draft or a version that does not exist."""
        ...

    async def session_cost(self, pk: int) -> SessionCost | None: ...

    async def store_cost(
        self,
        pk: int,
        *,
        excl_vat: Decimal,
        vat: Decimal,
        incl_vat: Decimal,
        breakdown: dict[str, Any],
        at: datetime,
        final: bool,
        replace_final: bool = False,
    ) -> bool:
        """Keep the cost: a running one only while no final one is kept, a final one once
        (or again with ``replace_final``). False, and nothing changes, otherwise."""
        ...

    async def add_state(self, pk: int, at: datetime, charging: bool) -> None:
        """When the session started or stopped charging; a second state at the same time
        adds nothing."""
        ...

    async def states(self, pk: int) -> list[tuple[datetime, bool]]:
        """By time."""
        ...

    async def register_readings(self, pk: int) -> list[tuple[datetime, Decimal]]:
        """The session's energy import register readings in Wh (phase total; unit Wh, kWh
        or none), by time."""
        ...


class MeterStore(Protocol):
    async def add_samples(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_pk: int | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Durable. A sample with the same charger, EVSE, connector, time, measurand, phase,
        location and context as a stored one is a replay: it adds nothing."""
        ...

    async def register_readings_wh(
        self, transaction_pk: int
    ) -> tuple[Decimal | None, Decimal | None]:
        """The first and last energy import register readings of a session, in Wh (phase
        total, unit Wh, kWh or none)."""
        ...
