"""Sessions, their meter samples and prices, in memory (csms.store.memory)."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from csms.domain.meter_values import ENERGY_REGISTER, MeterSample, SampleBatch
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import (
    CLOSED_BY_CSMS,
    ENDING_FLAGS,
    Ending,
    EventRecord,
    NewSession,
    SessionChanges,
    Transaction,
)
from csms.errors import NotFound

if TYPE_CHECKING:
    from csms.store.memory import _Data

_MAX_DRAWN_ID = 2**31 - 1
_ID_ATTEMPTS = 8
_DRAWN_PROTOCOL = "ocpp1.6"  # its transaction ids are unique across chargers
_WH_FACTOR = {"": Decimal(1), "Wh": Decimal(1), "kWh": Decimal(1000)}


def _first(*values: Any) -> Any:
    """SQL coalesce."""
    return next((v for v in values if v is not None), None)


def _applied(old: Transaction, new: SessionChanges) -> dict[str, Any]:
    """The rules of ``csms.store.transactions._UPDATE_RULES``."""
    seq_nos = [v for v in (old.last_seq_no, new.seq_no) if v is not None]
    starts = [v for v in (old.started_at, new.started_at) if v is not None]
    return {
        "last_seq_no": max(seq_nos) if seq_nos else None,
        "last_trigger_reason": _first(new.trigger_reason, old.last_trigger_reason),
        "offline": old.offline or new.offline,
        "started_at": min(starts),
        "evse_id": _first(new.evse_id, old.evse_id),
        "connector_id": _first(new.connector_id, old.connector_id),
        "id_token": _first(old.id_token, new.id_token),
        "id_token_type": _first(old.id_token_type, new.id_token_type),
        "authorization_status": _first(old.authorization_status, new.authorization_status),
        "parent_id_token": _first(old.parent_id_token, new.parent_id_token),
        "charging_state": _first(new.charging_state, old.charging_state),
        "remote_start_id": _first(old.remote_start_id, new.remote_start_id),
        "reservation_id": _first(old.reservation_id, new.reservation_id),
        "stop_id_token": _first(new.stop_id_token, old.stop_id_token),
    }


class MemorySessions:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._next_pk = 1

    def _insert(self, **values: Any) -> Transaction:
        row: dict[str, Any] = {f.name: None for f in dataclasses.fields(Transaction)}
        row.update(id=self._next_pk, offline=False, flags=[], **values)
        self._next_pk += 1
        session = Transaction(**row)
        self._data.sessions[session.id] = session
        self._data.session_ids[(session.charge_point_id, session.transaction_id)] = session.id
        return session

    async def find_started(self, charge_point_id: str, start_key: str) -> Transaction | None:
        pk = self._data.start_keys.get((charge_point_id, start_key))
        return None if pk is None else self._data.sessions[pk]

    async def create_started(
        self, charge_point_id: str, new: NewSession
    ) -> tuple[Transaction, bool]:
        self._data.registered(charge_point_id)
        for _ in range(_ID_ATTEMPTS):  # as PostgreSQL: draw, then insert or find the start
            transaction_id = str(secrets.randbelow(_MAX_DRAWN_ID) + 1)
            found = await self.find_started(charge_point_id, new.start_key)
            if found is not None:
                return found, False
            if not self._taken(charge_point_id, new.protocol, transaction_id):
                return self._start(charge_point_id, new, transaction_id), True
        raise RuntimeError("could not draw a free transaction id")

    def _taken(self, charge_point_id: str, protocol: str, transaction_id: str) -> bool:
        """Unique per charger; and across chargers for the ids of 1.6 sessions."""
        if (charge_point_id, transaction_id) in self._data.session_ids:
            return True
        return protocol == _DRAWN_PROTOCOL and any(
            s.protocol == _DRAWN_PROTOCOL and s.transaction_id == transaction_id
            for s in self._data.sessions.values()
        )

    def _start(self, charge_point_id: str, new: NewSession, transaction_id: str) -> Transaction:
        session = self._insert(
            charge_point_id=charge_point_id,
            protocol=new.protocol,
            transaction_id=transaction_id,
            evse_id=new.evse_id,
            connector_id=new.connector_id,
            id_token=new.id_token,
            id_token_type=new.id_token_type,
            parent_id_token=new.parent_id_token,
            authorization_status=new.authorization_status,
            reservation_id=new.reservation_id,
            started_at=new.started_at,
            meter_start_wh=Decimal(new.meter_start_wh),
        )
        self._data.start_keys[(charge_point_id, new.start_key)] = session.id
        return session

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
        self._data.registered(charge_point_id)
        found = await self.get(charge_point_id, transaction_id)
        if found is not None:
            return found
        return self._insert(
            charge_point_id=charge_point_id,
            protocol=protocol,
            transaction_id=transaction_id,
            evse_id=evse_id,
            connector_id=connector_id,
            started_at=started_at,
        )

    async def get(self, charge_point_id: str, transaction_id: str) -> Transaction | None:
        pk = self._data.session_ids.get((charge_point_id, transaction_id))
        return None if pk is None else self._data.sessions[pk]

    async def get_by_pk(self, pk: int) -> Transaction | None:
        return self._data.sessions.get(pk)

    async def record_and_apply(
        self, event: EventRecord, samples: SampleBatch | None = None
    ) -> bool:
        if samples is not None:
            self._recordable(event)  # all or nothing: a refused event stores no samples
            await MemoryMeters(self._data).add_samples(
                samples.charge_point_id,
                samples.evse_id,
                samples.connector_id,
                event.pk,
                samples.samples,
            )
        if not await self.record_event(event):
            return False
        await self.apply(event.pk, event.changes)
        return True

    def _recordable(self, event: EventRecord) -> None:
        if event.changes.seq_no is None or event.changes.trigger_reason is None:
            raise ValueError("a sequenced message needs its seqNo and trigger reason")
        if event.pk not in self._data.sessions:
            raise NotFound(f"transaction {event.pk} not found")

    async def record_event(self, event: EventRecord) -> bool:
        self._recordable(event)
        seq_no = event.changes.seq_no
        assert seq_no is not None  # _recordable
        if (event.pk, seq_no) in self._data.events:
            return False
        self._data.events[(event.pk, seq_no)] = event
        return True

    async def apply(self, pk: int, changes: SessionChanges) -> None:
        old = self._data.sessions.get(pk)
        if old is None or old.ended_at is not None:
            return
        self._data.sessions[pk] = dataclasses.replace(old, **_applied(old, changes))

    async def finish(self, pk: int, ending: Ending) -> bool:
        old = self._data.sessions.get(pk)
        if old is None:
            return False
        late_stop = ending.close_reason is None and old.closed_by == CLOSED_BY_CSMS
        if old.ended_at is not None and not late_stop:
            return False
        self._data.sessions[pk] = dataclasses.replace(
            old,
            ended_at=ending.ended_at,
            meter_stop_wh=ending.meter_stop_wh,
            energy_wh=ending.energy_wh,
            flags=[*(f for f in old.flags if f not in ENDING_FLAGS), *ending.flags],
            stop_reason=ending.stop_reason,
            stop_id_token=_first(ending.stop_id_token, old.stop_id_token),
            meter_start_wh=_first(old.meter_start_wh, ending.meter_start_wh),
            closed_by=ending.closed_by,
            close_reason=_first(ending.close_reason, old.close_reason),
        )
        return True

    async def open_sessions(self, charge_point_id: str) -> list[Transaction]:
        found = [
            s
            for s in self._data.sessions.values()
            if s.charge_point_id == charge_point_id and s.ended_at is None
        ]
        return sorted(found, key=lambda s: (s.started_at, s.id))

    async def last_activity(self, pk: int) -> datetime | None:
        session = self._data.sessions.get(pk)
        if session is None:
            return None
        times = [session.started_at]
        times += [s.sampled_at for p, s in self._data.samples.values() if p == pk]
        times += [e.occurred_at for (p, _), e in self._data.events.items() if p == pk]
        return max(times)

    async def open_after_boot(self, booted_before: datetime) -> list[Transaction]:
        found = []
        for session in sorted(self._data.sessions.values(), key=lambda s: s.id):
            charger = self._data.chargers.get(session.charge_point_id)
            boot = None if charger is None else charger.last_boot_at
            if session.ended_at is not None or boot is None or not boot < booted_before:
                continue
            last = await self.last_activity(session.id)
            if last is not None and last < boot:
                found.append(session)
        return found

    async def count_active_for_token(
        self, id_token: str, *, excluding_pk: int | None = None
    ) -> int:
        wanted = id_token.lower()
        return sum(
            1
            for s in self._data.sessions.values()
            if s.id_token is not None
            and s.id_token.lower() == wanted
            and s.ended_at is None
            and s.authorized
            and s.id != excluding_pk
        )


class MemoryMeters:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def add_samples(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_pk: int | None,
        samples: Sequence[MeterSample],
    ) -> None:
        if not samples:
            return
        self._data.registered(charge_point_id)
        if transaction_pk is not None and transaction_pk not in self._data.sessions:
            raise NotFound(f"transaction {transaction_pk} not found")
        for s in samples:
            key = (
                charge_point_id,
                evse_id,
                connector_id,
                s.sampled_at,
                s.measurand,
                s.phase,
                s.location,
                s.context,
            )
            self._data.samples.setdefault(key, (transaction_pk, s))

    def of_session(self, transaction_pk: int) -> list[MeterSample]:
        """The samples stored for a session, by time."""
        found = [s for pk, s in self._data.samples.values() if pk == transaction_pk]
        return sorted(found, key=lambda s: (s.sampled_at, s.measurand, s.phase))

    async def register_readings_wh(
        self, transaction_pk: int
    ) -> tuple[Decimal | None, Decimal | None]:
        readings = sorted(
            (s.sampled_at, s.value * _WH_FACTOR[s.unit])
            for s in self.of_session(transaction_pk)
            if s.measurand == ENERGY_REGISTER
            and s.phase == ""
            and s.value is not None
            and s.unit in _WH_FACTOR
        )
        if not readings:
            return None, None
        return readings[0][1], readings[-1][1]


class MemoryPricing:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def _cost(self, pk: int) -> SessionCost:
        if pk not in self._data.sessions:
            raise NotFound(f"session {pk} not found")
        return self._data.costs.get(
            pk, SessionCost(None, None, None, None, None, None, None, None, False)
        )

    async def set_tariff(
        self, pk: int, *, tariff_id: str, tariff_version: int, currency: str
    ) -> bool:
        version = self._data.versions.get((tariff_id, tariff_version))
        if version is None or version.published_at is None:
            raise NotFound(f"tariff {tariff_id} has no published version {tariff_version}")
        if pk not in self._data.sessions:
            return False  # PostgreSQL: no row to update
        cost = self._cost(pk)
        if cost.tariff_id is not None:
            return False
        self._data.costs[pk] = dataclasses.replace(
            cost, tariff_id=tariff_id, tariff_version=tariff_version, currency=currency
        )
        return True

    async def session_cost(self, pk: int) -> SessionCost | None:
        return self._cost(pk) if pk in self._data.sessions else None

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
        if pk not in self._data.sessions:
            return False  # PostgreSQL: no row to update
        cost = self._cost(pk)
        if cost.final and not (final and replace_final):
            return False  # a running cost only while no final one is kept
        self._data.costs[pk] = dataclasses.replace(
            cost,
            excl_vat=excl_vat,
            vat=vat,
            incl_vat=incl_vat,
            breakdown=breakdown,
            computed_at=at,
            final=final,
        )
        return True

    async def add_state(self, pk: int, at: datetime, charging: bool) -> None:
        self._cost(pk)  # the session must exist
        self._data.states.setdefault((pk, at), charging)

    async def states(self, pk: int) -> list[tuple[datetime, bool]]:
        return sorted((at, charging) for (p, at), charging in self._data.states.items() if p == pk)

    async def register_readings(self, pk: int) -> list[tuple[datetime, Decimal]]:
        found = [
            (s.sampled_at, s.value * _WH_FACTOR[s.unit])
            for p, s in self._data.samples.values()
            if p == pk
            and s.measurand == ENERGY_REGISTER
            and s.phase == ""
            and s.value is not None
            and s.unit in _WH_FACTOR
        ]
        return sorted(found, key=lambda reading: reading[0])
