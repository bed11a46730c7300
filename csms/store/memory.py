"""The store ports (``csms.services.ports``) in memory: the same rules as PostgreSQL, in
plain Python, for unit tests. The contract tests (tests/contract/) run against both and
compare them with each other.

Single process, no durability; every write is visible at once. What the PostgreSQL schema
refuses is refused here too: a row about a charger or session that does not exist raises
NotFound (a foreign key there), a sequenced message without seqNo or trigger reason
ValueError (NOT NULL there).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from csms.domain.accounts import Standing
from csms.domain.certificates import IssuedCertificate
from csms.domain.chargers import Boot, Charger, ConnectorStatus, Presence, registration_status
from csms.domain.clock import Clock, utc_now
from csms.domain.credentials import PasswordRotation
from csms.domain.fleet_config import HistoryEntry, variable_setting
from csms.domain.id_tokens import IdToken
from csms.domain.meter_values import ENERGY_REGISTER, MeterSample, SampleBatch
from csms.domain.reports import (
    Availability,
    ConfigurationRow,
    ConfigurationValue,
    Notification,
    VariableRow,
    variable_value,
)
from csms.domain.security_profiles import Admission, SecurityState, Upgrade, admit
from csms.domain.sites import Assignment, Scope, Site, applicable
from csms.domain.tariff_catalog import (
    PUSH_FAILED,
    PUSH_PENDING,
    Resolved,
    SessionCost,
    TariffInfo,
    TariffPush,
    TariffVersion,
)
from csms.domain.transactions import (
    CLOSED_BY_CSMS,
    ENDING_FLAGS,
    Ending,
    EventRecord,
    NewSession,
    SessionChanges,
    Transaction,
)
from csms.errors import AlreadyExists, InvalidInput, NotFound
from csms.store.memory_certificates import MemoryCertificates, MemoryPasswordRotations
from csms.store.memory_fleet_config import MemoryConfig, MemoryLogs

_CHARGER_FIELDS = {"password_hash", "auth_mode", "boot_policy", "ocpp_version", "description"}
_MAX_DRAWN_ID = 2**31 - 1
_ID_ATTEMPTS = 8
_DRAWN_PROTOCOL = "ocpp1.6"  # its transaction ids are unique across chargers
_WH_FACTOR = {"": Decimal(1), "Wh": Decimal(1), "kWh": Decimal(1000)}
_SITE_FIELDS = {f.name for f in dataclasses.fields(Site)} - {"id", "created_at"}
_COORDINATE = Decimal("0.000001")  # numeric(9, 6) in PostgreSQL


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


class MemoryChargers:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def add(
        self,
        charge_point_id: str,
        *,
        password_hash: str | None,
        boot_policy: str = "accept",
        ocpp_version: str | None = None,
        description: str = "",
    ) -> Charger:
        if charge_point_id in self._data.chargers:
            raise AlreadyExists(f"charger {charge_point_id} exists already")
        charger = Charger(
            charge_point_id=charge_point_id,
            password_hash=password_hash,
            auth_mode="basic" if password_hash is not None else "none",
            boot_policy=boot_policy,
            ocpp_version=ocpp_version,
            description=description,
            registration_status=None,
            vendor=None,
            model=None,
            serial_number=None,
            firmware_version=None,
            iccid=None,
            imsi=None,
            meter_type=None,
            meter_serial_number=None,
            connected_protocol=None,
            connected_node=None,
            last_boot_at=None,
            last_heartbeat_at=None,
            last_seen_at=None,
            firmware_status=None,
            diagnostics_status=None,
            created_at=self._data.clock(),
        )
        self._data.chargers[charge_point_id] = charger
        return charger

    async def get(self, charge_point_id: str) -> Charger | None:
        return self._data.chargers.get(charge_point_id)

    async def update(self, charge_point_id: str, **changes: Any) -> Charger:
        unknown = set(changes) - _CHARGER_FIELDS
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        return self._change(charge_point_id, **changes)

    def _change(self, charge_point_id: str, **changes: Any) -> Charger:
        charger = self._data.chargers.get(charge_point_id)
        if charger is None:
            raise NotFound(f"charger {charge_point_id} not found")
        changed = dataclasses.replace(charger, **changes)
        self._data.chargers[charge_point_id] = changed
        return changed

    async def remove(self, charge_point_id: str) -> None:
        if self._data.chargers.pop(charge_point_id, None) is None:
            raise NotFound(f"charger {charge_point_id} not found")
        self._data.forget(charge_point_id)

    async def record_boot(self, boot: Boot) -> str:
        charger = self._data.chargers.get(boot.charge_point_id)
        if charger is None:
            return "Rejected"
        status = registration_status(charger.boot_policy)
        self._change(
            boot.charge_point_id,
            registration_status=status,
            last_boot_at=boot.at,
            last_seen_at=boot.at,
            vendor=boot.identity.get("vendor"),
            model=boot.identity.get("model"),
            serial_number=boot.identity.get("serial_number"),
            firmware_version=boot.identity.get("firmware_version"),
            iccid=boot.identity.get("iccid"),
            imsi=boot.identity.get("imsi"),
            meter_type=boot.identity.get("meter_type"),
            meter_serial_number=boot.identity.get("meter_serial_number"),
        )
        return status

    async def record_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> None:
        self._data.registered(charge_point_id)
        key = (charge_point_id, status.evse_id, status.connector_id)
        kept = self._data.connectors.get(key)
        if kept is None or kept.status_at <= status.status_at:
            self._data.connectors[key] = status

    async def list_connectors(self, charge_point_id: str) -> list[ConnectorStatus]:
        return [
            status
            for key, status in sorted(self._data.connectors.items(), key=lambda kv: kv[0])
            if key[0] == charge_point_id
        ]

    async def record_presence(self, presence: Presence) -> None:
        cp = presence.charge_point_id
        charger = self._data.chargers.get(cp)
        if charger is None:
            return
        if presence.protocol is not None:
            self._data.epochs[cp] = presence.epoch
            self._change(
                cp,
                connected_protocol=presence.protocol,
                connected_node=presence.node_id,
                last_seen_at=presence.at,
            )
        elif charger.connected_node == presence.node_id and self._data.epochs.get(cp) == (
            presence.epoch
        ):
            self._data.epochs.pop(cp, None)
            self._change(cp, connected_protocol=None, connected_node=None, last_seen_at=presence.at)

    async def list_presence(
        self, *, node_id: str | None = None, excluding_nodes: Sequence[str] | None = None
    ) -> list[Presence]:
        found = []
        for cp, charger in sorted(self._data.chargers.items()):
            node = charger.connected_node
            if node is None or (node_id is not None and node != node_id):
                continue
            if excluding_nodes is not None and node in excluding_nodes:
                continue
            at = charger.last_seen_at or charger.created_at
            found.append(Presence(cp, charger.connected_protocol, node, self._data.epochs[cp], at))
        return found

    async def clear_presence(self, stale: Sequence[Presence]) -> list[str]:
        cleared = []
        for presence in stale:
            cp = presence.charge_point_id
            charger = self._data.chargers.get(cp)
            if (
                charger is not None
                and charger.connected_node == presence.node_id
                and self._data.epochs.get(cp) == presence.epoch
            ):
                self._data.epochs.pop(cp, None)
                self._change(cp, connected_protocol=None, connected_node=None)
                cleared.append(cp)
        return sorted(cleared)

    def note_heartbeat(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id in self._data.chargers:
            self._change(charge_point_id, last_heartbeat_at=at, last_seen_at=at)

    async def record_charger_status(
        self,
        charge_point_id: str,
        *,
        firmware_status: str | None = None,
        diagnostics_status: str | None = None,
    ) -> None:
        charger = self._data.chargers.get(charge_point_id)
        if charger is None:
            return
        self._change(
            charge_point_id,
            firmware_status=_first(firmware_status, charger.firmware_status),
            diagnostics_status=_first(diagnostics_status, charger.diagnostics_status),
        )


class MemoryTokens:
    def __init__(self, data: _Data) -> None:
        self._data = data

    async def get(self, id_token: str) -> IdToken | None:
        return self._data.tokens.get(id_token.lower())

    def add(self, token: IdToken) -> None:
        """Register a token (what ``csms.store.id_tokens.add_id_token`` does)."""
        self._data.tokens[token.id_token.lower()] = token

    async def get_with_standing(self, id_token: str) -> tuple[IdToken | None, Standing | None]:
        token = self._data.tokens.get(id_token.lower())
        return token, None if token is None else self._data.standings.get(id_token.lower())

    def bill_to(self, id_token: str, standing: Standing | None) -> None:
        """The token bills to an account in this standing (None: to none); what linking it
        to an account with that status and wallet balance does in PostgreSQL."""
        if standing is None:
            self._data.standings.pop(id_token.lower(), None)
        else:
            self._data.standings[id_token.lower()] = standing


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


class MemoryReports:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._next_id = 1

    async def record_notification(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        *,
        kind: str | None = None,
        occurred_at: datetime | None = None,
    ) -> None:
        self._data.registered(charge_point_id)
        notification = Notification(
            self._next_id, action, kind, occurred_at, payload, self._data.clock()
        )
        self._next_id += 1
        self._data.notifications.append((charge_point_id, notification))

    async def list_notifications(
        self,
        charge_point_id: str,
        *,
        actions: Sequence[str] | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Notification]:
        found = [
            n
            for cp, n in reversed(self._data.notifications)
            if cp == charge_point_id
            and (actions is None or n.action in actions)
            and (before_id is None or n.id < before_id)
        ]
        return found[:limit]

    async def upsert_configuration(
        self,
        charge_point_id: str,
        rows: Sequence[ConfigurationRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        if rows:
            self._data.registered(charge_point_id)
        now = self._data.clock()
        before = {key: self._data.configuration.get((charge_point_id, key)) for key, _, _ in rows}
        for key, value, readonly in rows:
            old = self._data.configuration.get((charge_point_id, key))
            known = old[1] if old is not None else None
            self._data.configuration[(charge_point_id, key)] = (
                value,
                _first(readonly, known),
                now,
            )
        for key, was in before.items():  # one change per key, as one statement makes
            value = self._data.configuration[(charge_point_id, key)][0]
            old_value = None if was is None else was[0]
            self._data.change(
                charge_point_id, key, old_value, value, first=was is None, source=source, by=by
            )

    async def forget_configuration(
        self, charge_point_id: str, *, keeping: Sequence[str], by: str | None = None
    ) -> None:
        kept = set(keeping)
        for cp, key in sorted(self._data.configuration):
            if cp == charge_point_id and key not in kept:
                self._forget_key(charge_point_id, key, by)

    async def forget_keys(
        self, charge_point_id: str, keys: Sequence[str], *, by: str | None = None
    ) -> None:
        for key in sorted(set(keys)):
            if (charge_point_id, key) in self._data.configuration:
                self._forget_key(charge_point_id, key, by)

    def _forget_key(self, charge_point_id: str, key: str, by: str | None) -> None:
        value = self._data.configuration.pop((charge_point_id, key))[0]
        self._data.change(charge_point_id, key, value, None, first=False, source="removed", by=by)

    async def list_configuration(self, charge_point_id: str) -> list[ConfigurationValue]:
        return [
            ConfigurationValue(key, value, readonly, at)
            for (cp, key), (value, readonly, at) in sorted(self._data.configuration.items())
            if cp == charge_point_id
        ]

    async def upsert_variables(
        self,
        charge_point_id: str,
        rows: Sequence[VariableRow],
        *,
        source: str = "reported",
        by: str | None = None,
    ) -> None:
        if rows:
            self._data.registered(charge_point_id)
        now = self._data.clock()
        before = {
            (charge_point_id, tuple(row[:7])): self._data.variables.get(
                (charge_point_id, tuple(row[:7]))
            )
            for row in rows
        }
        for row in rows:
            key = (charge_point_id, tuple(row[:7]))
            old = self._data.variables.get(key)
            if old is not None:
                row = row._replace(
                    mutability=_first(row.mutability, old[0].mutability),
                    characteristics=_first(row.characteristics, old[0].characteristics),
                )
            self._data.variables[key] = (row, now)
        for key, was in before.items():
            row = self._data.variables[key][0]
            old_value = None if was is None else was[0].value
            self._data.change(
                charge_point_id,
                variable_setting(row),
                old_value,
                row.value,
                first=was is None,
                source=source,
                by=by,
            )

    async def forget_variables(
        self, charge_point_id: str, keeping: Sequence[str], *, by: str | None = None
    ) -> None:
        kept = set(keeping)
        for key, (row, _) in sorted(self._data.variables.items(), key=lambda kv: kv[0]):
            if key[0] != charge_point_id or variable_setting(row) in kept:
                continue
            del self._data.variables[key]
            self._data.change(
                charge_point_id,
                variable_setting(row),
                row.value,
                None,
                first=False,
                source="removed",
                by=by,
            )

    async def list_variables(self, charge_point_id: str) -> list[ConfigurationValue]:
        return [
            variable_value(row, at)
            for (cp, _), (row, at) in sorted(self._data.variables.items(), key=lambda kv: kv[0])
            if cp == charge_point_id
        ]

    async def record_availability(
        self, charge_point_id: str, *, evse_id: int, connector_id: int, operative: bool, answer: str
    ) -> None:
        self._data.registered(charge_point_id)
        self._data.availability[(charge_point_id, evse_id, connector_id)] = Availability(
            evse_id, connector_id, operative, answer, self._data.clock()
        )

    async def list_availability(self, charge_point_id: str) -> list[Availability]:
        return [
            a for key, a in sorted(self._data.availability.items()) if key[0] == charge_point_id
        ]


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


def _rounded(site: Site) -> Site:
    """Coordinates to six decimals, half away from zero, as PostgreSQL's numeric(9, 6)."""
    latitude, longitude = (
        None if c is None else Decimal(c).quantize(_COORDINATE, ROUND_HALF_UP)
        for c in (site.latitude, site.longitude)
    )
    return dataclasses.replace(site, latitude=latitude, longitude=longitude)


class MemoryTariffs:
    def __init__(self, data: _Data) -> None:
        self._data = data

    # -- sites ------------------------------------------------------------------------------

    async def add_site(self, site: Site) -> Site:
        if site.id in self._data.sites:
            raise AlreadyExists(f"site {site.id} exists already")
        stored = _rounded(dataclasses.replace(site, created_at=self._data.clock()))
        self._data.sites[site.id] = stored
        return stored

    async def get_site(self, site_id: str) -> Site | None:
        return self._data.sites.get(site_id)

    async def list_sites(self) -> list[Site]:
        return [self._data.sites[k] for k in sorted(self._data.sites)]

    async def update_site(self, site_id: str, **changes: Any) -> Site:
        unknown = set(changes) - _SITE_FIELDS
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        site = self._data.sites.get(site_id)
        if site is None:
            raise NotFound(f"site {site_id} not found")
        changed = _rounded(dataclasses.replace(site, **changes))
        self._data.sites[site_id] = changed
        return changed

    async def remove_site(self, site_id: str) -> None:
        if self._data.sites.pop(site_id, None) is None:
            raise NotFound(f"site {site_id} not found")
        self._data.assignments.pop((Scope.SITE, site_id), None)
        for cp in [cp for cp, s in self._data.charger_sites.items() if s == site_id]:
            del self._data.charger_sites[cp]

    async def set_charger_site(self, charge_point_id: str, site_id: str | None) -> None:
        if site_id is not None and site_id not in self._data.sites:
            raise NotFound(f"site {site_id} not found")
        self._data.registered(charge_point_id)
        if site_id is None:
            self._data.charger_sites.pop(charge_point_id, None)
        else:
            self._data.charger_sites[charge_point_id] = site_id

    async def site_of(self, charge_point_id: str) -> Site | None:
        site_id = self._data.charger_sites.get(charge_point_id)
        return None if site_id is None else self._data.sites[site_id]

    async def charger_sites(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> dict[str, str | None]:
        wanted = self._data.chargers if charge_point_ids is None else charge_point_ids
        return {cp: self._data.charger_sites.get(cp) for cp in wanted if cp in self._data.chargers}

    # -- tariffs ----------------------------------------------------------------------------

    def _version(
        self,
        tariff_id: str,
        version: int,
        definition: dict[str, Any],
        currency: str,
        by: str | None,
    ) -> TariffVersion:
        made = TariffVersion(tariff_id, version, definition, currency, self._data.clock(), by)
        self._data.versions[(tariff_id, version)] = made
        return made

    def _draft(self, tariff_id: str) -> TariffVersion | None:
        drafts = [
            v for (t, _), v in self._data.versions.items() if t == tariff_id and not v.published
        ]
        return drafts[0] if drafts else None

    async def add_tariff(
        self,
        tariff_id: str,
        *,
        description: str,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
    ) -> TariffVersion:
        if tariff_id in self._data.tariffs:
            raise AlreadyExists(f"tariff {tariff_id} exists already")
        self._data.tariffs[tariff_id] = (description, self._data.clock())
        return self._version(tariff_id, 1, definition, currency, created_by)

    async def save_draft(
        self,
        tariff_id: str,
        *,
        definition: dict[str, Any],
        currency: str,
        created_by: str | None,
        description: str | None = None,
    ) -> TariffVersion:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        if description is not None:
            self._data.tariffs[tariff_id] = (description, self._data.tariffs[tariff_id][1])
        draft = self._draft(tariff_id)
        if draft is not None:
            return self._version(tariff_id, draft.version, definition, currency, created_by)
        latest = max(v for (t, v) in self._data.versions if t == tariff_id)
        return self._version(tariff_id, latest + 1, definition, currency, created_by)

    async def publish(
        self, tariff_id: str, *, published_by: str | None, at: datetime
    ) -> TariffVersion:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        draft = self._draft(tariff_id)
        if draft is None:
            raise InvalidInput(f"tariff {tariff_id}: no draft to publish (edit it first)")
        published = dataclasses.replace(draft, published_at=at, published_by=published_by)
        self._data.versions[(tariff_id, draft.version)] = published
        return published

    async def get_version(self, tariff_id: str, version: int) -> TariffVersion | None:
        return self._data.versions.get((tariff_id, version))

    async def current_version(self, tariff_id: str) -> TariffVersion | None:
        published = [v for v in await self.list_versions(tariff_id) if v.published]
        return published[-1] if published else None

    async def list_versions(self, tariff_id: str) -> list[TariffVersion]:
        return sorted(
            (v for (t, _), v in self._data.versions.items() if t == tariff_id),
            key=lambda v: v.version,
        )

    async def list_tariffs(self) -> list[TariffInfo]:
        found = []
        for tariff_id in sorted(self._data.tariffs):
            description, created_at = self._data.tariffs[tariff_id]
            versions = await self.list_versions(tariff_id)
            published = [v.version for v in versions if v.published]
            found.append(
                TariffInfo(
                    tariff_id,
                    description,
                    created_at,
                    versions[-1].version,
                    published[-1] if published else None,
                )
            )
        return found

    async def describe(self, tariff_id: str, description: str) -> None:
        found = self._data.tariffs.get(tariff_id)
        if found is None:
            raise NotFound(f"tariff {tariff_id} not found")
        self._data.tariffs[tariff_id] = (description, found[1])

    async def remove_tariff(self, tariff_id: str) -> None:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        if any(c.tariff_id == tariff_id for c in self._data.costs.values()):
            raise InvalidInput(
                f"tariff {tariff_id} priced sessions: it cannot be deleted (unassign it instead)"
            )
        del self._data.tariffs[tariff_id]
        for version_key in [k for k in self._data.versions if k[0] == tariff_id]:
            del self._data.versions[version_key]
        assigned = [k for k, a in self._data.assignments.items() if a.tariff_id == tariff_id]
        for assignment_key in assigned:
            del self._data.assignments[assignment_key]
        for cp in [cp for cp, p in self._data.pushes.items() if p.tariff_id == tariff_id]:
            del self._data.pushes[cp]

    # -- assignments ------------------------------------------------------------------------

    async def assign(
        self, scope: Scope, target: str, tariff_id: str, *, created_by: str | None
    ) -> Assignment:
        if tariff_id not in self._data.tariffs:
            raise NotFound(f"tariff {tariff_id} not found")
        made = Assignment(scope, target, tariff_id, created_by, self._data.clock())
        self._data.assignments[(scope, target)] = made
        return made

    async def unassign(self, scope: Scope, target: str) -> None:
        if self._data.assignments.pop((scope, target), None) is None:
            raise NotFound(f"no tariff is assigned to {scope.value} {target or '(default)'}")

    async def list_assignments(self) -> list[Assignment]:
        return sorted(self._data.assignments.values(), key=lambda a: (a.scope.value, a.target))

    async def display_assignments(
        self, charge_point_ids: Sequence[str], site_ids: Sequence[str]
    ) -> list[Assignment]:
        chargers, sites = set(charge_point_ids), set(site_ids)
        return [
            a
            for a in await self.list_assignments()
            if a.scope is Scope.DEFAULT
            or (a.scope is Scope.CHARGER and a.target in chargers)
            or (a.scope is Scope.SITE and a.target in sites)
        ]

    # -- pushes -----------------------------------------------------------------------------

    async def request_pushes(self, targets: Sequence[tuple[str, str | None, int | None]]) -> None:
        now = self._data.clock()
        latest = {cp: (tariff_id, version) for cp, tariff_id, version in targets}
        for cp, (tariff_id, _) in latest.items():  # all or nothing (PostgreSQL: one statement)
            if cp in self._data.chargers and tariff_id is not None:
                if tariff_id not in self._data.tariffs:
                    raise NotFound(f"tariff {tariff_id} not found")
        for cp, (tariff_id, version) in latest.items():
            if cp in self._data.chargers:
                self._data.pushes[cp] = TariffPush(
                    cp, tariff_id, version, PUSH_PENDING, "", 0, now, now
                )

    async def resolve(self, charge_point_id: str, groups: Sequence[str]) -> Resolved:
        site_id = self._data.charger_sites.get(charge_point_id)
        site = None if site_id is None else self._data.sites[site_id]
        assigned = {(a.scope, a.target): a.tariff_id for a in self._data.assignments.values()}
        chosen = applicable(
            assigned, charge_point_id=charge_point_id, site_id=site_id, groups=groups
        )
        version = None
        if chosen is not None:
            version = await self.current_version(chosen.tariff_id)
        return Resolved(site, chosen, version)

    async def pending_pushes(
        self, charge_point_ids: Sequence[str], *, retry_failed: bool = False
    ) -> list[TariffPush]:
        wanted = set(charge_point_ids)
        statuses = {PUSH_PENDING, PUSH_FAILED} if retry_failed else {PUSH_PENDING}
        return [
            p
            for cp, p in sorted(self._data.pushes.items())
            if cp in wanted and p.status in statuses
        ]

    async def record_push(
        self, charge_point_id: str, *, requested_at: datetime, status: str, detail: str
    ) -> bool:
        push = self._data.pushes.get(charge_point_id)
        if push is None or push.requested_at != requested_at:
            return False
        self._data.pushes[charge_point_id] = dataclasses.replace(
            push,
            status=status,
            detail=detail[:500],
            attempts=push.attempts + 1,
            updated_at=self._data.clock(),
        )
        return True

    async def list_pushes(
        self,
        *,
        tariff_id: str | None = None,
        charge_point_id: str | None = None,
        charge_point_ids: Sequence[str] | None = None,
    ) -> list[TariffPush]:
        return [
            p
            for cp, p in sorted(self._data.pushes.items())
            if (tariff_id is None or p.tariff_id == tariff_id)
            and (charge_point_ids is None or cp in charge_point_ids)
            and (charge_point_id is None or cp == charge_point_id)
        ]


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


class MemorySecurityProfiles:
    def __init__(self, data: _Data) -> None:
        self._data = data

    def _state(self, charge_point_id: str) -> SecurityState:
        self._data.registered(charge_point_id)
        return self._data.security_profiles.get(charge_point_id) or SecurityState(charge_point_id)

    async def get(self, charge_point_id: str) -> SecurityState | None:
        if charge_point_id not in self._data.chargers:
            return None
        return self._state(charge_point_id)

    async def admit(self, charge_point_id: str, profile: int, at: datetime) -> Admission:
        new, admission = admit(self._state(charge_point_id), profile, at)
        if admission.admitted:
            self._data.security_profiles[charge_point_id] = new
        return admission

    async def set_minimum(self, charge_point_id: str, minimum: int) -> SecurityState:
        new = dataclasses.replace(self._state(charge_point_id), minimum=minimum)
        self._data.security_profiles[charge_point_id] = new
        return new

    async def start_upgrade(self, charge_point_id: str, upgrade: Upgrade) -> SecurityState:
        new = dataclasses.replace(self._state(charge_point_id), upgrade=upgrade)
        self._data.security_profiles[charge_point_id] = new
        return new

    async def finish_upgrade(
        self, charge_point_id: str, upgrade_id: str, state: str, detail: str, at: datetime
    ) -> bool:
        current = self._data.security_profiles.get(charge_point_id)
        upgrade = None if current is None else current.upgrade
        if current is None or upgrade is None or upgrade.id != upgrade_id:
            return False
        if upgrade.state != "pending":
            return False
        finished = dataclasses.replace(upgrade, state=state, detail=detail, finished_at=at)
        self._data.security_profiles[charge_point_id] = dataclasses.replace(
            current, upgrade=finished
        )
        return True

    async def note_upgrade(
        self,
        charge_point_id: str,
        upgrade_id: str,
        detail: str,
        *,
        restore: dict[str, Any] | None = None,
    ) -> None:
        current = self._data.security_profiles.get(charge_point_id)
        if current is None or current.upgrade is None or current.upgrade.id != upgrade_id:
            return
        kept = current.upgrade.restore if restore is None else dict(restore)
        noted = dataclasses.replace(current.upgrade, detail=detail, restore=kept)
        self._data.security_profiles[charge_point_id] = dataclasses.replace(current, upgrade=noted)
