"""Sessions, their meter samples and prices on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.domain.meter_values import MeterSample, SampleBatch
from csms.domain.tariff_catalog import SessionCost
from csms.domain.transactions import Ending, EventRecord, NewSession, SessionChanges, Transaction
from csms.store import meter_values, partitions, transactions
from csms.store.batching import BatchCall, BatchWriter, Row


class PostgresSessions:
    def __init__(self, pool: asyncpg.Pool, *, max_items: int) -> None:
        self._pool = pool

        async def record_and_apply(items: Sequence[tuple[EventRecord, list[Row]]]) -> list[bool]:
            events = [event for event, _ in items]
            samples = [rows for _, rows in items]
            try:
                return await record_and_apply_once(events, samples)
            except asyncpg.CheckViolationError as exc:
                if meter_values.MISSING_PARTITION not in str(exc):
                    raise
            # a sample in a week without a partition (old data replayed): make it, go again
            days = meter_values.days_of([row for rows in samples for row in rows])
            await partitions.ensure(pool, "meter_samples", days)
            return await record_and_apply_once(events, samples)

        async def record_and_apply_once(
            events: Sequence[EventRecord], samples: Sequence[Sequence[Row]]
        ) -> list[bool]:
            if len({e.pk for e in events}) == len(events):  # one round: one statement
                return await transactions.record_and_apply_many(pool, events, samples)
            # several rounds commit together, so a retry never finds half of them applied
            async with pool.acquire() as connection, connection.transaction():
                return await transactions.record_and_apply_many(connection, events, samples)

        async def open_sessions(ids: Sequence[str]) -> list[list[Transaction]]:
            found = await transactions.open_sessions_of(pool, ids)
            return [found[i] for i in ids]

        self._record_and_apply = BatchCall(record_and_apply, max_items=max_items)
        # asked at every connector status Available (a boot storm sends one per connector)
        self._open_sessions = BatchCall(open_sessions, max_items=max_items)

    async def find_started(self, charge_point_id: str, start_key: str) -> Transaction | None:
        return await transactions.find_started(self._pool, charge_point_id, start_key)

    async def create_started(
        self, charge_point_id: str, new: NewSession
    ) -> tuple[Transaction, bool]:
        return await transactions.create_started(self._pool, charge_point_id, new)

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
        return await transactions.open_named(
            self._pool,
            charge_point_id,
            transaction_id,
            protocol=protocol,
            started_at=started_at,
            evse_id=evse_id,
            connector_id=connector_id,
        )

    async def get(self, charge_point_id: str, transaction_id: str) -> Transaction | None:
        return await transactions.get(self._pool, charge_point_id, transaction_id)

    async def get_by_pk(self, pk: int) -> Transaction | None:
        return await transactions.get_by_pk(self._pool, pk)

    async def record_and_apply(
        self, event: EventRecord, samples: SampleBatch | None = None
    ) -> bool:
        rows = (
            []
            if samples is None
            else meter_values.rows_for(
                samples.charge_point_id,
                samples.evse_id,
                samples.connector_id,
                event.pk,
                samples.samples,
            )
        )
        return await self._record_and_apply((event, rows))

    async def record_event(self, event: EventRecord) -> bool:
        return await transactions.record_event(self._pool, event)

    async def apply(self, pk: int, changes: SessionChanges) -> None:
        await transactions.apply(self._pool, pk, changes)

    async def finish(self, pk: int, ending: Ending) -> bool:
        return await transactions.finish(self._pool, pk, ending)

    async def count_active_for_token(
        self, id_token: str, *, excluding_pk: int | None = None
    ) -> int:
        return await transactions.count_active_for_token(
            self._pool, id_token, excluding_pk=excluding_pk
        )

    async def open_sessions(self, charge_point_id: str) -> list[Transaction]:
        return await self._open_sessions(charge_point_id)

    async def last_activity(self, pk: int) -> datetime | None:
        return await transactions.last_activity(self._pool, pk)

    async def open_after_boot(self, booted_before: datetime) -> list[Transaction]:
        return await transactions.open_after_boot(self._pool, booted_before)

    async def drain(self) -> None:
        await self._record_and_apply.drain()
        await self._open_sessions.drain()


class PostgresMeters:
    def __init__(self, pool: asyncpg.Pool, *, max_rows: int, max_delay: float) -> None:
        self._pool = pool

        async def flush(rows: Sequence[Row]) -> None:
            await meter_values.insert_rows(pool, rows)

        # a write after a quiet moment goes at once; writes that keep coming start a flush
        # at most every max_delay, so each statement carries several (issue 16: 1.6
        # MeterValues at 1,000/s cost ~15 % less node CPU, p50 2 -> 5 ms)
        self.writer = BatchWriter(
            flush, max_rows=max_rows, max_delay=max_delay, min_interval=max_delay
        )

    async def add_samples(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_pk: int | None,
        samples: Sequence[MeterSample],
    ) -> None:
        await self.writer.write(
            meter_values.rows_for(charge_point_id, evse_id, connector_id, transaction_pk, samples)
        )

    async def register_readings_wh(
        self, transaction_pk: int
    ) -> tuple[Decimal | None, Decimal | None]:
        return await meter_values.register_readings_wh(self._pool, transaction_pk)


class PostgresPricing:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def set_tariff(
        self, pk: int, *, tariff_id: str, tariff_version: int, currency: str
    ) -> bool:
        return await transactions.set_tariff(
            self._pool, pk, tariff_id=tariff_id, tariff_version=tariff_version, currency=currency
        )

    async def session_cost(self, pk: int) -> SessionCost | None:
        return await transactions.session_cost(self._pool, pk)

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
        return await transactions.store_cost(
            self._pool,
            pk,
            excl_vat=excl_vat,
            vat=vat,
            incl_vat=incl_vat,
            breakdown=breakdown,
            at=at,
            final=final,
            replace_final=replace_final,
        )

    async def add_state(self, pk: int, at: datetime, charging: bool) -> None:
        await transactions.add_state(self._pool, pk, at, charging)

    async def states(self, pk: int) -> list[tuple[datetime, bool]]:
        return await transactions.states(self._pool, pk)

    async def register_readings(self, pk: int) -> list[tuple[datetime, Decimal]]:
        return await meter_values.register_readings(self._pool, pk)
