"""The store ports (``csms.services.ports``) on PostgreSQL.

Per-charger writes on the node's hot paths are gathered across chargers: ``BatchCall``
turns many callers' single-item requests into one statement per batch (handshake lookups,
boots, connector statuses, presence, sequenced transaction messages) and ``BatchWriter``
does the same for rows (meter samples, which callers await, and heartbeats, which they do
not). On this kind of machine each round trip to PostgreSQL costs a wake-up of a database
process; gathered, a storm costs one per batch (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from csms.domain.accounts import Standing
from csms.domain.billing import Account, Bill, Charge, LedgerEntry, Review, SettlementFacts
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence
from csms.domain.firmware import Target
from csms.domain.firmware_campaigns import (
    Artifact,
    Campaign,
    CampaignEvent,
    CampaignOptions,
    CandidateCharger,
    Dispatchable,
    NewArtifact,
    NewTarget,
    Selector,
    TargetRow,
    Wave,
    WavePlan,
    WaveProgress,
)
from csms.domain.id_tokens import IdToken
from csms.domain.ledger import Entry
from csms.domain.meter_values import MeterSample, SampleBatch
from csms.domain.payments import Applied, Decide, Payment, StoredEvent, WebhookRecord
from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
)
from csms.domain.sites import Assignment, Scope, Site
from csms.domain.tariff_catalog import Resolved, SessionCost, TariffInfo, TariffPush, TariffVersion
from csms.domain.transactions import Ending, EventRecord, NewSession, SessionChanges, Transaction
from csms.store import (
    billing,
    charger_events,
    configuration,
    firmware,
    id_tokens,
    meter_values,
    partitions,
    payments,
    tariffs,
    transactions,
)
from csms.store import chargers as charger_rows
from csms.store.batching import BatchCall, BatchWriter, Row
from csms.store.certificates import PostgresCertificates, PostgresPasswordRotations
from csms.store.fleet_config_port import PostgresConfig, PostgresLogs
from csms.store.jobs import PgJobQueue
from csms.store.security_profiles import PostgresSecurityProfiles


class PostgresChargers:
    def __init__(self, pool: asyncpg.Pool, *, max_items: int, heartbeat_rows: int) -> None:
        self._pool = pool

        async def lookup(ids: Sequence[str]) -> list[Charger | None]:
            found = await charger_rows.get_chargers(pool, ids)
            return [found.get(i) for i in ids]

        async def boots(items: Sequence[Boot]) -> list[str]:
            statuses = await charger_rows.record_boots(pool, items)
            return [statuses.get(b.charge_point_id, "Rejected") for b in items]

        async def statuses(items: Sequence[tuple[str, ConnectorStatus]]) -> list[None]:
            await charger_rows.upsert_connector_statuses(pool, items)
            return [None] * len(items)

        async def presence(items: Sequence[Presence]) -> list[None]:
            await charger_rows.record_presence(pool, items)
            return [None] * len(items)

        async def heartbeats(rows: Sequence[Row]) -> None:
            await charger_rows.record_heartbeats(pool, rows)

        self._lookup = BatchCall(lookup, max_items=max_items)
        self._boot = BatchCall(boots, max_items=max_items)
        self._status = BatchCall(statuses, max_items=max_items)
        # one batch at a time: a connection and its disconnection must land in order
        self._presence = BatchCall(presence, max_items=max_items, max_inflight=1)
        # fire-and-forget: losing a heartbeat on a crash loses nothing of value
        self.heartbeats = BatchWriter(heartbeats, max_rows=heartbeat_rows, max_delay=0.2)

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str,
        ocpp_version: str | None,
        description: str,
    ) -> Charger:
        return await charger_rows.add_charger(
            self._pool,
            charge_point_id,
            password_hash=password_hash,
            boot_policy=boot_policy,
            ocpp_version=ocpp_version,
            description=description,
        )

    async def get(self, charge_point_id: str) -> Charger | None:
        return await self._lookup(charge_point_id)

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        return await charger_rows.update_charger(self._pool, charge_point_id, **changes)

    async def remove(self, charge_point_id: str) -> None:
        await charger_rows.remove_charger(self._pool, charge_point_id)

    async def record_boot(self, boot: Boot) -> str:
        return await self._boot(boot)

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        await self._status((charge_point_id, status))

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        return await charger_rows.list_connectors(self._pool, charge_point_id)

    async def record_presence(self, presence: Presence) -> None:
        await self._presence(presence)

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        return await charger_rows.list_presence(
            self._pool, node_id=node_id, excluding_nodes=excluding_nodes
        )

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        return await charger_rows.clear_presence(self._pool, stale)

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        self.heartbeats.add([(charge_point_id, at)])

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        await charger_rows.record_charger_status(
            self._pool,
            charge_point_id,
            firmware_status=firmware_status,
            diagnostics_status=diagnostics_status,
        )

    def batched_items(self) -> dict[str, int]:
        """How many requests each batched call has answered (tests, benchmarks)."""
        return {
            "lookup": self._lookup.items,
            "boot": self._boot.items,
            "connector_status": self._status.items,
            "presence": self._presence.items,
        }

    async def drain(self) -> None:
        for call in (self._lookup, self._boot, self._status, self._presence):
            await call.drain()
        await self.heartbeats.flush()


class PostgresTokens:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, id_token: str) -> IdToken | None:
        return await id_tokens.get_id_token(self._pool, id_token)

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        return await billing.token_with_standing(self._pool, id_token)


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


class PostgresReports:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        await charger_events.record(
            self._pool, charge_point_id, action, payload, kind=kind, occurred_at=occurred_at
        )

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        return await charger_events.list_events(
            self._pool, charge_point_id, actions=actions, limit=limit, before_id=before_id
        )

    async def upsert_configuration(
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        await configuration.upsert_configuration(
            self._pool, charge_point_id, rows, source=source, by=by
        )

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        await configuration.forget_configuration(
            self._pool, charge_point_id, keeping=keeping, by=by
        )

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        await configuration.forget_keys(self._pool, charge_point_id, keys, by=by)

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        return await configuration.list_configuration(self._pool, charge_point_id)

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        await charger_events.upsert_variables(
            self._pool, charge_point_id, rows, source=source, by=by
        )

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        await charger_events.forget_variables(self._pool, charge_point_id, keeping, by=by)

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        return await charger_events.list_variables(self._pool, charge_point_id)

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None:
        await configuration.record_availability(
            self._pool,
            charge_point_id,
            evse_id=evse_id,
            connector_id=connector_id,
            operative=operative,
            answer=answer,
        )

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        return await configuration.list_availability(self._pool, charge_point_id)


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


class PostgresTariffs:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_site(self, site: Site) -> Site:
        return await tariffs.add_site(self._pool, site)

    async def get_site(self, site_id: str) -> Site | None:
        return await tariffs.get_site(self._pool, site_id)

    async def list_sites(self) -> list[Site]:
        return await tariffs.list_sites(self._pool)

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        return await tariffs.update_site(self._pool, site_id, **changes)

    async def remove_site(self, site_id: str) -> None:
        await tariffs.remove_site(self._pool, site_id)

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        await tariffs.set_charger_site(self._pool, charge_point_id, site_id)

    async def site_of(self, charge_point_id: str) -> Site | None:
        return await tariffs.site_of(self._pool, charge_point_id)

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        return await tariffs.charger_sites(self._pool, charge_point_ids)

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        return await tariffs.add_tariff(
            self._pool,
            tariff_id,
            description=description,
            definition=definition,
            currency=currency,
            created_by=created_by,
        )

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        return await tariffs.save_draft(
            self._pool,
            tariff_id,
            definition=definition,
            currency=currency,
            created_by=created_by,
            description=description,
        )

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        return await tariffs.publish(self._pool, tariff_id, published_by=published_by, at=at)

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None:
        return await tariffs.get_version(self._pool, tariff_id, version)

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        return await tariffs.current_version(self._pool, tariff_id)

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]:
        return await tariffs.list_versions(self._pool, tariff_id)

    async def list_tariffs(self) -> list[TariffInfo]:
        return await tariffs.list_tariffs(self._pool)

    async def describe(self, tariff_id: str, description: str) -> None:
        await tariffs.describe(self._pool, tariff_id, description)

    async def remove_tariff(self, tariff_id: str) -> None:
        await tariffs.remove_tariff(self._pool, tariff_id)

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        return await tariffs.assign(self._pool, scope, target, tariff_id, created_by=created_by)

    async def unassign(self, scope: Scope, target: str) -> None:
        await tariffs.unassign(self._pool, scope, target)

    async def list_assignments(self) -> list[Assignment]:
        return await tariffs.list_assignments(self._pool)

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        return await tariffs.display_assignments(self._pool, charge_point_ids, site_ids)

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        await tariffs.request_pushes(self._pool, targets)

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        return await tariffs.resolve(self._pool, charge_point_id, groups)

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        return await tariffs.pending_pushes(self._pool, charge_point_ids, retry_failed=retry_failed)

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        return await tariffs.record_push(
            self._pool, charge_point_id, requested_at=requested_at, status=status, detail=detail
        )

    async def list_pushes(
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        return await tariffs.list_pushes(
            self._pool,
            tariff_id=tariff_id,
            charge_point_id=charge_point_id,
            charge_point_ids=charge_point_ids,
        )


class PostgresStores:
    """Every port (``csms.services.ports.Stores``) on one pool. ``flush()`` writes what the
    batch writers hold (call it before closing the pool)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_items: int = 500,
        write_batch_rows: int = 500,
        write_batch_delay: float = 0.005,
    ) -> None:
        self.pool = pool
        self.chargers = PostgresChargers(pool, max_items=max_items, heartbeat_rows=write_batch_rows)
        self.tokens = PostgresTokens(pool)
        self.sessions = PostgresSessions(pool, max_items=max_items)
        self.meters = PostgresMeters(pool, max_rows=write_batch_rows, max_delay=write_batch_delay)
        self.reports = PostgresReports(pool)
        self.pricing = PostgresPricing(pool)
        self.tariffs = PostgresTariffs(pool)
        self.jobs = PgJobQueue(pool)
        self.config = PostgresConfig(pool)
        self.logs = PostgresLogs(pool)
        self.security_profiles = PostgresSecurityProfiles(pool, max_items=max_items)
        self.certificates = PostgresCertificates(pool)
        self.passwords = PostgresPasswordRotations(pool)

    async def flush(self) -> None:
        """Wait for every batched call and write what is queued."""
        await self.sessions.drain()
        await self.meters.writer.flush()
        await self.chargers.drain()
        await self.security_profiles.drain()


class PostgresBilling:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_account(self, **fields: Any) -> Account:
        return await billing.add_account(self._pool, **fields)

    async def get_account(self, account_id: int) -> Account | None:
        return await billing.get_account(self._pool, account_id)

    async def account_of_user(self, user_id: int) -> Account | None:
        return await billing.account_of_user(self._pool, user_id)

    async def list_accounts(
        self, *, after_id: int = 0, limit: int = 100, status: str | None = None
    ) -> list[Account]:
        return await billing.list_accounts(
            self._pool, after_id=after_id, limit=limit, status=status
        )

    async def update_account(self, account_id: int, **changes: Any) -> Account:
        return await billing.update_account(self._pool, account_id, **changes)

    async def account_of_token(self, id_token: str) -> Account | None:
        return await billing.account_of_token(self._pool, id_token)

    async def link_token(self, id_token: str, account_id: int | None) -> None:
        await billing.link_token(self._pool, id_token, account_id)

    async def post(self, entry: Entry) -> int | None:
        return await billing.post_one(self._pool, entry)

    async def balances(self, account: Account) -> dict[str, Decimal]:
        return await billing.balances(self._pool, account)

    async def entries(
        self, *, account_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> list[LedgerEntry]:
        return await billing.entries(
            self._pool, account_id=account_id, after_id=after_id, limit=limit
        )

    async def trial_balance(self) -> dict[tuple[str, str], Decimal]:
        return await billing.trial_balance(self._pool)

    async def settlement_facts(self, transaction_pk: int) -> SettlementFacts | None:
        return await billing.settlement_facts(self._pool, transaction_pk)

    async def record_charge(
        self,
        *,
        transaction_pk: int,
        account: Account,
        bill: Bill,
        source: str,
        entry: Entry,
        release: Entry | None,
        resolve_review: tuple[str, dict[str, Any] | None, str | None] | None = None,
        at: datetime,
    ) -> Charge | None:
        return await billing.record_charge(
            self._pool,
            transaction_pk=transaction_pk,
            account=account,
            bill=bill,
            source=source,
            entry=entry,
            release=release,
            resolve_review=resolve_review,
            at=at,
        )

    async def record_review(self, transaction_pk: int, reason: str, detail: str) -> bool:
        return await billing.record_review(self._pool, transaction_pk, reason, detail)

    async def review_of(self, transaction_pk: int) -> Review | None:
        return await billing.review_of(self._pool, transaction_pk)

    async def list_reviews(
        self, *, status: str | None = "open", after_pk: int = 0, limit: int = 100
    ) -> list[Review]:
        return await billing.list_reviews(self._pool, status=status, after_pk=after_pk, limit=limit)

    async def waive(
        self,
        transaction_pk: int,
        *,
        detail: dict[str, Any],
        by: str | None,
        at: datetime,
        release: Entry | None,
    ) -> bool:
        return await billing.waive(
            self._pool, transaction_pk, detail=detail, by=by, at=at, release=release
        )

    async def set_session_energy(self, transaction_pk: int, energy_wh: Decimal) -> None:
        await billing.set_session_energy(self._pool, transaction_pk, energy_wh)

    async def unsettled(self, *, ended_before: datetime, limit: int = 500) -> list[int]:
        return await billing.unsettled(self._pool, ended_before=ended_before, limit=limit)

    async def list_charges(
        self,
        *,
        account_id: int | None = None,
        uninvoiced: bool = False,
        created_before: datetime | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Charge]:
        return await billing.list_charges(
            self._pool,
            account_id=account_id,
            uninvoiced=uninvoiced,
            created_before=created_before,
            after_id=after_id,
            limit=limit,
        )

    async def find_accounts(
        self,
        *,
        after_id: int = 0,
        limit: int = 100,
        status: str | None = None,
        kind: str | None = None,
        currency: str | None = None,
        user_id: int | None = None,
        text: str | None = None,
    ) -> list[Account]:
        return await billing.find_accounts(
            self._pool,
            after_id=after_id,
            limit=limit,
            status=status,
            kind=kind,
            currency=currency,
            user_id=user_id,
            text=text,
        )


class PostgresFirmware:
    """``csms.services.ports.FirmwareStore``: files in large objects, or in ``directory``
    (``CSMS_FIRMWARE_DIR``) when one is configured."""

    def __init__(self, pool: asyncpg.Pool, *, directory: Path | None = None) -> None:
        self._pool = pool
        self.directory = directory

        async def targets(ids: Sequence[str]) -> list[TargetRow | None]:
            return await firmware.active_targets(pool, ids)

        # asked at every boot and firmware status: one statement per batch of chargers
        self._active_target = BatchCall(targets)

    async def add_artifact(
        self,
        new: NewArtifact,
        chunks: AsyncIterator[bytes],
        seal: Callable[[], tuple[int, str]],
    ) -> Artifact:
        return await firmware.add_artifact(self._pool, new, chunks, seal, directory=self.directory)

    async def get_artifact(self, artifact_id: int) -> Artifact | None:
        return await firmware.get_artifact(self._pool, artifact_id)

    async def list_artifacts(self, *, after_id: int = 0, limit: int = 100) -> list[Artifact]:
        return await firmware.list_artifacts(self._pool, after_id=after_id, limit=limit)

    async def remove_artifact(self, artifact_id: int) -> None:
        await firmware.remove_artifact(self._pool, artifact_id, self.directory)

    def read_artifact(self, artifact_id: int, start: int, length: int) -> AsyncIterator[bytes]:
        return firmware.read_artifact(self._pool, artifact_id, start, length, self.directory)

    async def candidates(self, selector: Selector) -> list[CandidateCharger]:
        return await firmware.candidates(self._pool, selector)

    async def active_elsewhere(self, charge_point_ids: Sequence[str]) -> dict[str, int]:
        return await firmware.active_elsewhere(self._pool, charge_point_ids)

    async def create_campaign(
        self,
        *,
        artifact_id: int,
        selector: dict[str, Any],
        options: CampaignOptions,
        waves: Sequence[WavePlan],
        targets: Sequence[NewTarget],
        created_by: str | None,
    ) -> int:
        return await firmware.create_campaign(
            self._pool,
            artifact_id=artifact_id,
            selector=selector,
            options=options,
            waves=waves,
            targets=targets,
            created_by=created_by,
        )

    async def get_campaign(self, campaign_id: int) -> Campaign | None:
        return await firmware.get_campaign(self._pool, campaign_id)

    async def list_campaigns(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[Campaign]:
        return await firmware.list_campaigns(
            self._pool, status=status, after_id=after_id, limit=limit
        )

    async def active_campaigns(self) -> list[int]:
        return await firmware.active_campaigns(self._pool)

    async def cancel_targets(self, campaign_id: int, actor: str | None) -> int:
        async with self._pool.acquire() as connection, connection.transaction():
            return await firmware.cancel_targets(connection, campaign_id, actor)

    async def retry_failed(self, campaign_id: int, actor: str | None) -> tuple[int, int]:
        async with self._pool.acquire() as connection, connection.transaction():
            return await firmware.retry_failed(connection, campaign_id, actor)

    async def set_status(
        self,
        campaign_id: int,
        status: str,
        *,
        only_from: Sequence[str],
        actor: str | None,
        detail: str | None = None,
        halted_reason: str | None = None,
    ) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            return await firmware.set_status(
                connection,
                campaign_id,
                status,
                only_from=only_from,
                actor=actor,
                detail=detail,
                halted_reason=halted_reason,
            )

    async def start_wave(self, campaign_id: int, number: int) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            return await firmware.start_wave(connection, campaign_id, number)

    async def finish_waves(self, campaign_id: int, numbers: Sequence[int]) -> None:
        await firmware.finish_waves(self._pool, campaign_id, numbers)

    async def accept_failures(self, campaign_id: int, up_to_wave: int) -> None:
        await firmware.accept_failures(self._pool, campaign_id, up_to_wave)

    async def waves(self, campaign_id: int) -> list[Wave]:
        return await firmware.waves(self._pool, campaign_id)

    async def wave_progress(self, campaign_id: int) -> list[WaveProgress]:
        return await firmware.wave_progress(self._pool, campaign_id)

    async def state_counts(self, campaign_id: int) -> dict[str, int]:
        return await firmware.state_counts(self._pool, campaign_id)

    async def get_target(self, campaign_id: int, charge_point_id: str) -> TargetRow | None:
        return await firmware.get_target(self._pool, campaign_id, charge_point_id)

    async def active_target(self, charge_point_id: str) -> TargetRow | None:
        return await self._active_target(charge_point_id)

    async def update_target(
        self,
        row: TargetRow,
        target: Target,
        *,
        note: str | None,
        actor: str | None = None,
        waiting: str | None = None,
    ) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            return await firmware.update_target(
                connection, row, target, note=note, actor=actor, waiting=waiting
            )

    async def mark_sent(self, campaign_id: int, charge_point_id: str, request_id: int) -> bool:
        return await firmware.mark_sent(self._pool, campaign_id, charge_point_id, request_id)

    async def set_waiting(self, campaign_id: int, waiting: dict[str, str | None]) -> None:
        await firmware.set_waiting(self._pool, campaign_id, waiting)

    async def dispatchable(
        self, campaign_id: int, *, up_to_wave: int, now: datetime, limit: int
    ) -> list[Dispatchable]:
        return await firmware.dispatchable(
            self._pool, campaign_id, up_to_wave=up_to_wave, now=now, limit=limit
        )

    async def in_flight(self, campaign_id: int) -> int:
        return await firmware.in_flight(self._pool, campaign_id)

    async def due(self, campaign_id: int, now: datetime) -> list[TargetRow]:
        return await firmware.due(self._pool, campaign_id, now)

    async def targets(
        self,
        campaign_id: int,
        *,
        states: Sequence[str] | None = None,
        after_position: int = -1,
        limit: int = 100,
    ) -> list[TargetRow]:
        return await firmware.targets(
            self._pool, campaign_id, states=states, after_position=after_position, limit=limit
        )

    async def events(
        self,
        campaign_id: int,
        *,
        charge_point_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[CampaignEvent]:
        return await firmware.events(
            self._pool,
            campaign_id,
            charge_point_id=charge_point_id,
            after_id=after_id,
            limit=limit,
        )

    async def record_event(
        self,
        campaign_id: int,
        kind: str,
        *,
        charge_point_id: str | None = None,
        state: str | None = None,
        detail: str | None = None,
        actor: str | None = None,
    ) -> None:
        await firmware.record_event(
            self._pool,
            campaign_id,
            kind,
            charge_point_id=charge_point_id,
            state=state,
            detail=detail,
            actor=actor,
        )


class PostgresPayments:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_payment(
        self,
        *,
        account_id: int,
        provider: str,
        kind: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        invoice_id: int | None = None,
        created_by: str | None = None,
    ) -> tuple[Payment, bool]:
        return await payments.add_payment(
            self._pool,
            account_id=account_id,
            provider=provider,
            kind=kind,
            amount=amount,
            currency=currency,
            idempotency_key=idempotency_key,
            invoice_id=invoice_id,
            created_by=created_by,
        )

    async def add_refund(
        self,
        payment_id: int,
        *,
        amount: Decimal | None,
        idempotency_key: str,
        created_by: str | None,
    ) -> tuple[Payment, bool]:
        return await payments.add_refund(
            self._pool,
            payment_id,
            amount=amount,
            idempotency_key=idempotency_key,
            created_by=created_by,
        )

    async def get(self, payment_id: int) -> Payment | None:
        return await payments.get_payment(self._pool, payment_id)

    async def by_ref(self, provider: str, provider_ref: str) -> Payment | None:
        return await payments.payment_by_ref(self._pool, provider, provider_ref)

    async def by_key(self, idempotency_key: str) -> Payment | None:
        return await payments.payment_by_key(self._pool, idempotency_key)

    async def list_payments(
        self,
        *,
        account_id: int | None = None,
        status: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Payment]:
        return await payments.list_payments(
            self._pool,
            account_id=account_id,
            status=status,
            kind=kind,
            before_id=before_id,
            limit=limit,
        )

    async def refunds_of(self, payment_id: int) -> list[Payment]:
        return await payments.refunds_of(self._pool, payment_id)

    async def refunded_total(self, payment_id: int) -> Decimal:
        return await payments.refunded_total(self._pool, payment_id)

    async def invoice_account(self, invoice_id: int) -> int | None:
        return await payments.invoice_account(self._pool, invoice_id)

    async def claim_attempt(
        self, payment_id: int, attempt: int, *, check_at: datetime
    ) -> Payment | None:
        return await payments.claim_attempt(self._pool, payment_id, attempt, check_at=check_at)

    async def set_provider_ref(self, payment_id: int, provider_ref: str) -> None:
        await payments.set_provider_ref(self._pool, payment_id, provider_ref)

    async def reschedule(self, payment_id: int, at: datetime, *, failure: str | None) -> bool:
        return await payments.reschedule(self._pool, payment_id, at, failure=failure)

    async def due(self, *, now: datetime, limit: int = 500) -> list[tuple[int, datetime]]:
        return await payments.due(self._pool, now=now, limit=limit)

    async def apply(
        self, targets: Sequence[tuple[int, Decide]], *, event: WebhookRecord | None = None
    ) -> Applied:
        return await payments.apply(self._pool, targets, event=event)

    async def events_of(self, payment_id: int) -> list[StoredEvent]:
        return await payments.events_of(self._pool, payment_id)

    async def entries_of(self, payment_id: int) -> list[LedgerEntry]:
        return await payments.entries_of(self._pool, payment_id)
