"""``ConfigStore`` and ``LogStore`` in memory: the rules of ``csms.store.fleet_config`` and
``csms.store.charger_logs`` in plain Python (the contract tests run both). Shares the charger
data of one ``MemoryStores``."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from csms.domain.charger_logs import FINAL_STATUSES, GET_DIAGNOSTICS, REQUESTED, LogRequest
from csms.domain.fleet_config import (
    PROTOCOL_VERSIONS,
    REBOOT_REQUIRED,
    SUPERSEDED,
    WAITING,
    ApplyItem,
    ChargerFacts,
    ConfigApply,
    ConfigProfile,
    HistoryEntry,
    NewItem,
    ProfileSpec,
    RefreshState,
    Reported,
    SettingId,
)
from csms.domain.reports import DEFAULT_ATTRIBUTE, device_model_key
from csms.errors import AlreadyExists, NotFound

if TYPE_CHECKING:
    from csms.store.memory import _Data


@dataclasses.dataclass
class _Report:
    report_base: str | None = None
    requested_by: str | None = None
    seq_nos: list[int] = dataclasses.field(default_factory=list)
    last_seq_no: int | None = None
    reported: list[str] = dataclasses.field(default_factory=list)
    completed: bool = False


@dataclasses.dataclass
class _Apply:
    id: int
    profile_id: str
    reason: str
    requested_by: str | None
    requested_at: datetime
    finished_at: datetime | None = None


class MemoryConfig:
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._profiles: dict[str, ConfigProfile] = {}
        self._states: dict[str, RefreshState] = {}
        self._reports: dict[tuple[str, int], _Report] = {}
        self._applies: dict[int, _Apply] = {}
        self._items: dict[tuple[int, str, str], ApplyItem] = {}
        data.on_forget.append(self._forget)

    def _forget(self, charge_point_id: str) -> None:
        self._states.pop(charge_point_id, None)
        self._reports = {k: v for k, v in self._reports.items() if k[0] != charge_point_id}
        self._items = {k: v for k, v in self._items.items() if k[1] != charge_point_id}

    # -- profiles ------------------------------------------------------------------------------

    def _profile(
        self, spec: ProfileSpec, by: str | None, created: ConfigProfile | None
    ) -> ConfigProfile:
        now = self._data.clock()
        return ConfigProfile(
            id=spec.id,
            ocpp_version=spec.ocpp_version,
            settings=spec.settings,
            selector=spec.selector,
            priority=spec.priority,
            description=spec.description,
            reapply_on_boot=spec.reapply_on_boot,
            created_by=by if created is None else created.created_by,
            created_at=now if created is None else created.created_at,
            updated_by=by,
            updated_at=now,
        )

    async def add_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        if spec.id in self._profiles:
            raise AlreadyExists(f"profile {spec.id} exists already")
        self._profiles[spec.id] = self._profile(spec, by, None)
        return self._profiles[spec.id]

    async def update_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        created = self._profiles.get(spec.id)
        if created is None:
            raise NotFound(f"profile {spec.id} not found")
        self._profiles[spec.id] = self._profile(spec, by, created)
        return self._profiles[spec.id]

    async def get_profile(self, profile_id: str) -> ConfigProfile | None:
        return self._profiles.get(profile_id)

    async def list_profiles(self) -> list[ConfigProfile]:
        return [self._profiles[k] for k in sorted(self._profiles)]

    async def remove_profile(self, profile_id: str) -> None:
        if self._profiles.pop(profile_id, None) is None:
            raise NotFound(f"profile {profile_id} not found")
        gone = {i for i, a in self._applies.items() if a.profile_id == profile_id}
        self._applies = {i: a for i, a in self._applies.items() if i not in gone}
        self._items = {k: v for k, v in self._items.items() if k[0] not in gone}

    # -- facts and reported values --------------------------------------------------------------

    async def charger_facts(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> list[ChargerFacts]:
        wanted = None if charge_point_ids is None else set(charge_point_ids)
        facts = []
        for cp in sorted(self._data.chargers):
            if wanted is not None and cp not in wanted:
                continue
            c = self._data.chargers[cp]
            state = self._states.get(cp)
            protocol = c.connected_protocol or c.ocpp_version or (state and state.protocol)
            facts.append(
                ChargerFacts(
                    charge_point_id=cp,
                    ocpp_version=PROTOCOL_VERSIONS.get(protocol) if protocol else None,
                    site_id=self._data.charger_sites.get(cp),
                    vendor=c.vendor,
                    model=c.model,
                    firmware_version=c.firmware_version,
                    connected=c.connected_protocol is not None,
                )
            )
        return facts

    async def reported(
        self, charge_point_ids: Sequence[str]
    ) -> dict[str, dict[SettingId, Reported]]:
        wanted = set(charge_point_ids)
        found: dict[str, dict[SettingId, Reported]] = {}
        for (cp, key), (value, readonly, _) in self._data.configuration.items():
            if cp in wanted:
                found.setdefault(cp, {})[SettingId(key)] = Reported(value, readonly)
        for (cp, _), (row, _) in self._data.variables.items():
            if cp not in wanted or row.attribute_type != DEFAULT_ATTRIBUTE:
                continue
            key = device_model_key(
                row.component, row.component_instance, row.variable, row.variable_instance
            )
            setting = SettingId(key, row.evse_id, row.connector_id)
            readonly = None if row.mutability is None else row.mutability == "ReadOnly"
            found.setdefault(cp, {})[setting] = Reported(row.value, readonly)
        return found

    # -- reads -----------------------------------------------------------------------------------

    def _state(self, charge_point_id: str) -> RefreshState:
        self._data.registered(charge_point_id)
        return self._states.get(charge_point_id) or RefreshState(
            charge_point_id, None, None, "", None, None, None, None
        )

    async def set_protocol(self, charge_point_id: str, protocol: str) -> None:
        state = self._state(charge_point_id)
        self._states[charge_point_id] = dataclasses.replace(state, protocol=protocol)

    async def refresh_requested(
        self, charge_point_id: str, *, request_id: int | None, by: str | None, at: datetime
    ) -> None:
        self._states[charge_point_id] = dataclasses.replace(
            self._state(charge_point_id),
            refresh_status="Requested",
            refresh_detail="",
            refresh_request_id=request_id,
            refresh_requested_by=by,
            refresh_requested_at=at,
        )

    async def refresh_status(
        self,
        charge_point_id: str,
        status: str,
        detail: str,
        *,
        at: datetime,
        request_id: int | None = None,
        from_status: str | None = None,
    ) -> bool:
        state = self._states.get(charge_point_id)
        if state is None:
            return False
        if request_id is not None and state.refresh_request_id != request_id:
            return False
        if from_status is not None and state.refresh_status != from_status:
            return False
        refreshed = at if status == "Complete" else state.refreshed_at
        self._states[charge_point_id] = dataclasses.replace(
            state, refresh_status=status, refresh_detail=detail, refreshed_at=refreshed
        )
        return True

    async def refresh_state(self, charge_point_id: str) -> RefreshState | None:
        return self._states.get(charge_point_id)

    async def report_requested(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        report_base: str,
        by: str | None,
        at: datetime,
    ) -> None:
        self._data.registered(charge_point_id)
        self._reports[(charge_point_id, request_id)] = _Report(report_base, by)

    async def report_requester(self, charge_point_id: str, request_id: int) -> str | None:
        report = self._reports.get((charge_point_id, request_id))
        return None if report is None else report.requested_by

    async def report_part(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        seq_no: int,
        last: bool,
        settings: Sequence[str],
        at: datetime,
    ) -> tuple[str | None, list[str]] | None:
        self._data.registered(charge_point_id)
        report = self._reports.setdefault((charge_point_id, request_id), _Report())
        if seq_no not in report.seq_nos:
            report.seq_nos.append(seq_no)
            report.reported.extend(settings)
        if last:
            report.last_seq_no = seq_no
        if report.completed or report.last_seq_no is None:
            return None
        if not set(range(report.last_seq_no + 1)) <= set(report.seq_nos):
            return None
        report.completed = True
        return report.report_base, list(report.reported)

    # -- applies ---------------------------------------------------------------------------------

    async def create_apply(
        self,
        profile_id: str,
        *,
        reason: str,
        by: str | None,
        items: Sequence[NewItem],
        at: datetime,
    ) -> int:
        if profile_id not in self._profiles:
            raise NotFound(f"profile {profile_id} not found")
        for cp, *_ in items:
            self._data.registered(cp)
        apply_id = max(self._applies, default=0) + 1
        self._applies[apply_id] = _Apply(apply_id, profile_id, reason, by, at)
        targets = {(cp, setting) for cp, setting, *_ in items}
        for key, item in list(self._items.items()):
            if (item.charge_point_id, item.setting) in targets and item.outcome in WAITING:
                self._items[key] = dataclasses.replace(
                    item,
                    outcome=SUPERSEDED,
                    detail=f"apply {apply_id} decides it now",
                    updated_at=at,
                )
        for cp, setting, value, outcome, detail in items:
            self._items[(apply_id, cp, setting)] = ApplyItem(
                apply_id, cp, setting, value, outcome, detail, None, at
            )
        return apply_id

    def _apply(self, applied: _Apply) -> ConfigApply:
        outcomes = Counter(i.outcome for k, i in self._items.items() if k[0] == applied.id)
        return ConfigApply(
            applied.id,
            applied.profile_id,
            applied.reason,
            applied.requested_by,
            applied.requested_at,
            applied.finished_at,
            dict(outcomes),
        )

    async def get_apply(self, apply_id: int) -> ConfigApply | None:
        applied = self._applies.get(apply_id)
        return None if applied is None else self._apply(applied)

    async def list_applies(
        self, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[ConfigApply]:
        found = [
            self._apply(a)
            for i, a in sorted(self._applies.items(), reverse=True)
            if (profile_id is None or a.profile_id == profile_id)
            and (before_id is None or i < before_id)
        ]
        return found[:limit]

    def _sorted(self, items: list[ApplyItem]) -> list[ApplyItem]:
        return sorted(items, key=lambda i: (i.apply_id, i.charge_point_id, i.setting))

    async def apply_items(
        self,
        apply_id: int,
        *,
        charge_point_id: str | None = None,
        outcomes: Sequence[str] | None = None,
    ) -> list[ApplyItem]:
        return self._sorted(
            [
                i
                for (a, cp, _), i in self._items.items()
                if a == apply_id
                and (charge_point_id is None or cp == charge_point_id)
                and (outcomes is None or i.outcome in outcomes)
            ]
        )

    async def waiting_items(self, charge_point_id: str) -> list[ApplyItem]:
        return self._sorted(
            [
                i
                for i in self._items.values()
                if i.charge_point_id == charge_point_id and i.outcome in WAITING
            ]
        )

    async def chargers_waiting(self) -> list[str]:
        return sorted({i.charge_point_id for i in self._items.values() if i.outcome in WAITING})

    async def record_outcomes(
        self,
        apply_id: int,
        charge_point_id: str,
        outcomes: Sequence[tuple[str, str, str]],
        *,
        at: datetime,
    ) -> None:
        for setting, outcome, detail in outcomes:
            key = (apply_id, charge_point_id, setting)
            item = self._items.get(key)
            if item is not None and item.outcome in WAITING:
                self._items[key] = dataclasses.replace(
                    item, outcome=outcome, detail=detail, updated_at=at
                )

    async def finish_apply(self, apply_id: int, at: datetime) -> None:
        applied = self._applies.get(apply_id)
        if applied is not None and applied.finished_at is None:
            applied.finished_at = at

    async def reboot_pending(self, charge_point_id: str) -> list[ApplyItem]:
        return self._sorted(
            [
                i
                for i in self._items.values()
                if i.charge_point_id == charge_point_id
                and i.outcome == REBOOT_REQUIRED
                and i.rebooted_at is None
            ]
        )

    async def mark_rebooted(
        self, charge_point_id: str, items: Sequence[tuple[int, str, str]], at: datetime
    ) -> None:
        for apply_id, setting, detail in items:
            key = (apply_id, charge_point_id, setting)
            item = self._items.get(key)
            if item is not None and item.rebooted_at is None:
                self._items[key] = dataclasses.replace(
                    item, rebooted_at=at, detail=detail, updated_at=at
                )

    async def latest_outcomes(self, charge_point_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        wanted = set(charge_point_ids)
        found: dict[str, dict[str, str]] = {}
        for item in self._sorted(list(self._items.values())):  # newest apply last
            if item.charge_point_id not in wanted or item.outcome == SUPERSEDED:
                continue
            outcome = item.outcome
            if outcome == REBOOT_REQUIRED and item.rebooted_at is not None:
                outcome = f"{REBOOT_REQUIRED} (rebooted)"
            found.setdefault(item.charge_point_id, {})[item.setting] = outcome
        return found

    async def history(
        self,
        charge_point_id: str,
        *,
        setting: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        found = [
            h
            for h in reversed(self._data.history)
            if h.charge_point_id == charge_point_id
            and (setting is None or h.setting == setting)
            and (before_id is None or h.id < before_id)
        ]
        return found[:limit]


class MemoryLogs:
    """``LogStore`` in memory."""

    def __init__(self, data: _Data) -> None:
        self._data = data
        self._requests: dict[int, LogRequest] = {}
        self._hashes: set[bytes] = set()
        data.on_forget.append(self._forget)

    def _forget(self, charge_point_id: str) -> None:
        self._requests = {
            i: r for i, r in self._requests.items() if r.charge_point_id != charge_point_id
        }

    async def create_request(
        self,
        charge_point_id: str,
        *,
        log_type: str,
        action: str,
        request_id: int,
        token_hash: bytes,
        expires_at: datetime,
        oldest_at: datetime | None,
        latest_at: datetime | None,
        by: str | None,
        at: datetime,
    ) -> LogRequest:
        self._data.registered(charge_point_id)
        if token_hash in self._hashes or any(
            r.charge_point_id == charge_point_id and r.request_id == request_id
            for r in self._requests.values()
        ):
            raise AlreadyExists("a log request with this token or requestId exists")
        self._hashes.add(token_hash)
        log_id = max(self._requests, default=0) + 1
        request = LogRequest(
            log_id, charge_point_id, log_type, action, request_id, expires_at, oldest_at,
            latest_at, by, at, None, REQUESTED, at, [{"status": REQUESTED, "at": at}],
            None, None, None, None, None, None,
        )  # fmt: skip
        self._requests[log_id] = request
        return request

    async def remove_request(self, log_id: int) -> None:
        self._requests.pop(log_id, None)

    async def set_file_name(self, log_id: int, file_name: str | None) -> None:
        if log_id in self._requests:
            self._requests[log_id] = dataclasses.replace(
                self._requests[log_id], file_name=file_name
            )

    async def record_status(
        self, charge_point_id: str, status: str, *, request_id: int | None, at: datetime
    ) -> int | None:
        for log_id in sorted(self._requests, reverse=True):
            r = self._requests[log_id]
            if r.charge_point_id != charge_point_id:
                continue
            if request_id is None:
                if r.action != GET_DIAGNOSTICS or r.status in FINAL_STATUSES:
                    continue
            elif r.request_id != request_id:
                continue
            self._requests[log_id] = dataclasses.replace(
                r, status=status, status_at=at, statuses=[*r.statuses, {"status": status, "at": at}]
            )
            return log_id
        return None

    async def get_request(self, log_id: int) -> LogRequest | None:
        return self._requests.get(log_id)

    async def list_requests(
        self, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[LogRequest]:
        found = [
            r
            for i, r in sorted(self._requests.items(), reverse=True)
            if r.charge_point_id == charge_point_id and (before_id is None or i < before_id)
        ]
        return found[:limit]
