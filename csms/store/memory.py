"""The store ports (``csms.services.ports``) in memory: the same rules as PostgreSQL, in
plain Python, for unit tests. The contract tests (tests/contract/) run against both and
compare them with each other.

Single process, no durability; every write is visible at once. What the PostgreSQL schema
refuses is refused here too: a row about a charger or session that does not exist raises
NotFound (a foreign key there), a sequenced message without seqNo or trigger reason
ValueError (NOT NULL there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from csms.domain.accounts import Standing
from csms.domain.certificates import IssuedCertificate
from csms.domain.chargers import Charger, ConnectorStatus
from csms.domain.clock import Clock, utc_now
from csms.domain.credentials import PasswordRotation
from csms.domain.fleet_config import HistoryEntry
from csms.domain.id_tokens import IdToken
from csms.domain.meter_values import MeterSample
from csms.domain.reports import Availability, Notification, VariableRow
from csms.domain.security_profiles import SecurityState
from csms.domain.sites import Assignment, Scope, Site
from csms.domain.tariff_catalog import SessionCost, TariffPush, TariffVersion
from csms.domain.transactions import EventRecord, Transaction
from csms.errors import NotFound
from csms.store.memory_certificates import MemoryCertificates, MemoryPasswordRotations
from csms.store.memory_chargers import MemoryChargers, MemorySecurityProfiles, MemoryTokens
from csms.store.memory_fleet_config import MemoryConfig, MemoryLogs
from csms.store.memory_reports import MemoryReports
from csms.store.memory_sessions import MemoryMeters, MemoryPricing, MemorySessions
from csms.store.memory_tariffs import MemoryTariffs


class _Data:
    """What every port of one MemoryStores shares (a charger's removal removes its data)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.chargers: dict[str, Charger] = {}
        self.epochs: dict[str, int] = {}  # connection_epoch, not part of Charger
        self.connectors: dict[tuple[str, int, int], ConnectorStatus] = {}
        self.tokens: dict[str, IdToken] = {}  # by lower-case id
        self.standings: dict[str, Standing] = {}  # the token's billing account, by lower id
        self.sessions: dict[int, Transaction] = {}
        self.start_keys: dict[tuple[str, str], int] = {}
        self.session_ids: dict[tuple[str, str], int] = {}
        self.events: dict[tuple[int, int], EventRecord] = {}
        self.samples: dict[tuple[Any, ...], tuple[int | None, MeterSample]] = {}
        self.notifications: list[tuple[str, Notification]] = []
        self.configuration: dict[tuple[str, str], tuple[str | None, bool | None, datetime]] = {}
        self.variables: dict[tuple[str, tuple[Any, ...]], tuple[VariableRow, datetime]] = {}
        self.availability: dict[tuple[str, int, int], Availability] = {}
        # pricing and tariffs
        self.costs: dict[int, SessionCost] = {}
        self.states: dict[tuple[int, datetime], bool] = {}
        self.sites: dict[str, Site] = {}
        self.charger_sites: dict[str, str] = {}
        self.tariffs: dict[str, tuple[str, datetime]] = {}  # id -> (description, created_at)
        self.versions: dict[tuple[str, int], TariffVersion] = {}
        self.assignments: dict[tuple[Scope, str], Assignment] = {}
        self.pushes: dict[str, TariffPush] = {}
        # configuration history (csms.store.memory_fleet_config keeps the rest)
        self.history: list[HistoryEntry] = []
        self.on_forget: list[Callable[[str], None]] = []
        self.security_profiles: dict[str, SecurityState] = {}
        # certificates and credentials (csms.store.memory_certificates)
        self.issued: dict[int, IssuedCertificate] = {}
        self.rotations: dict[str, PasswordRotation] = {}

    def change(
        self,
        charge_point_id: str,
        setting: str,
        old: str | None,
        new: str | None,
        *,
        first: bool,
        source: str,
        by: str | None,
    ) -> None:
        """Keep a change in the history as PostgreSQL does (a first report is none)."""
        if (first and source != "applied") or (not first and old == new):
            return
        entry = HistoryEntry(
            len(self.history) + 1, charge_point_id, setting, old, new, source, by, self.clock()
        )
        self.history.append(entry)

    def registered(self, charge_point_id: str) -> None:
        """NotFound unless the charger is registered (PostgreSQL: the foreign key)."""
        if charge_point_id not in self.chargers:
            raise NotFound(f"charger {charge_point_id} not found")

    def forget(self, charge_point_id: str) -> None:
        self.epochs.pop(charge_point_id, None)
        self.security_profiles.pop(charge_point_id, None)
        self.charger_sites.pop(charge_point_id, None)
        self.pushes.pop(charge_point_id, None)
        self.assignments.pop((Scope.CHARGER, charge_point_id), None)
        pks = {pk for pk, s in self.sessions.items() if s.charge_point_id == charge_point_id}
        for pk in pks:
            del self.sessions[pk]
            self.costs.pop(pk, None)
        self.states = {k: v for k, v in self.states.items() if k[0] not in pks}
        for index in (self.start_keys, self.session_ids):
            for key in [k for k in index if k[0] == charge_point_id]:
                del index[key]
        self.events = {k: v for k, v in self.events.items() if k[0] not in pks}
        self.samples = {k: v for k, v in self.samples.items() if k[0] != charge_point_id}
        self.notifications = [n for n in self.notifications if n[0] != charge_point_id]
        self.connectors = {k: v for k, v in self.connectors.items() if k[0] != charge_point_id}
        self.configuration = {
            k: v for k, v in self.configuration.items() if k[0] != charge_point_id
        }
        self.variables = {k: v for k, v in self.variables.items() if k[0] != charge_point_id}
        self.availability = {k: v for k, v in self.availability.items() if k[0] != charge_point_id}
        self.history = [h for h in self.history if h.charge_point_id != charge_point_id]
        for forget in self.on_forget:
            forget(charge_point_id)
        self.issued = {k: v for k, v in self.issued.items() if v.charge_point_id != charge_point_id}
        self.rotations.pop(charge_point_id, None)


class MemoryStores:
    """Every port in memory (``csms.services.ports.Stores``)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        data = _Data(clock)
        self.chargers = MemoryChargers(data)
        self.tokens = MemoryTokens(data)
        self.sessions = MemorySessions(data)
        self.meters = MemoryMeters(data)
        self.reports = MemoryReports(data)
        self.pricing = MemoryPricing(data)
        self.tariffs = MemoryTariffs(data)
        self.jobs = MemoryJobQueue()
        self.config = MemoryConfig(data)
        self.logs = MemoryLogs(data)
        self.security_profiles = MemorySecurityProfiles(data)
        self.certificates = MemoryCertificates(data)
        self.passwords = MemoryPasswordRotations(data)


class MemoryJobQueue:
    """Jobs kept in a list (unit tests; a process without a database)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any], str | None]] = []

    async def enqueue(
        self,
        entrypoint: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: float = 0.0,
    ) -> bool:
        if dedupe_key is not None and any(key == dedupe_key for _, _, key in self.jobs):
            return False
        self.jobs.append((entrypoint, payload, dedupe_key))
        return True
