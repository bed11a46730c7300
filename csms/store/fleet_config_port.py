"""``ConfigStore`` and ``LogStore`` (csms.services.ports) on PostgreSQL: ``csms.store.fleet_config``
and ``csms.store.charger_logs`` on a pool."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from csms.domain.charger_logs import LogRequest
from csms.domain.fleet_config import (
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
from csms.store import charger_logs
from csms.store import fleet_config as rows


class PostgresConfig:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        return await rows.add_profile(self._pool, spec, by=by)

    async def update_profile(self, spec: ProfileSpec, *, by: str | None) -> ConfigProfile:
        return await rows.update_profile(self._pool, spec, by=by)

    async def get_profile(self, profile_id: str) -> ConfigProfile | None:
        return await rows.get_profile(self._pool, profile_id)

    async def list_profiles(self) -> list[ConfigProfile]:
        return await rows.list_profiles(self._pool)

    async def remove_profile(self, profile_id: str) -> None:
        await rows.remove_profile(self._pool, profile_id)

    async def charger_facts(
        self, charge_point_ids: Sequence[str] | None = None
    ) -> list[ChargerFacts]:
        return await rows.charger_facts(self._pool, charge_point_ids)

    async def reported(
        self, charge_point_ids: Sequence[str]
    ) -> dict[str, dict[SettingId, Reported]]:
        return await rows.reported(self._pool, charge_point_ids)

    async def set_protocol(self, charge_point_id: str, protocol: str) -> None:
        await rows.set_protocol(self._pool, charge_point_id, protocol)

    async def refresh_requested(
        self, charge_point_id: str, *, request_id: int | None, by: str | None, at: datetime
    ) -> None:
        await rows.refresh_requested(
            self._pool, charge_point_id, request_id=request_id, by=by, at=at
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
        return await rows.refresh_status(
            self._pool,
            charge_point_id,
            status,
            detail,
            at=at,
            request_id=request_id,
            from_status=from_status,
        )

    async def refresh_state(self, charge_point_id: str) -> RefreshState | None:
        return await rows.refresh_state(self._pool, charge_point_id)

    async def report_requested(
        self,
        charge_point_id: str,
        request_id: int,
        *,
        report_base: str,
        by: str | None,
        at: datetime,
    ) -> None:
        await rows.report_requested(
            self._pool, charge_point_id, request_id, report_base=report_base, by=by, at=at
        )

    async def report_requester(self, charge_point_id: str, request_id: int) -> str | None:
        return await rows.report_requester(self._pool, charge_point_id, request_id)

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
        return await rows.report_part(
            self._pool,
            charge_point_id,
            request_id,
            seq_no=seq_no,
            last=last,
            settings=settings,
            at=at,
        )

    async def create_apply(
        self,
        profile_id: str,
        *,
        reason: str,
        by: str | None,
        items: Sequence[NewItem],
        at: datetime,
    ) -> int:
        return await rows.create_apply(
            self._pool, profile_id, reason=reason, by=by, items=items, at=at
        )

    async def get_apply(self, apply_id: int) -> ConfigApply | None:
        return await rows.get_apply(self._pool, apply_id)

    async def list_applies(
        self, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[ConfigApply]:
        return await rows.list_applies(
            self._pool, profile_id=profile_id, before_id=before_id, limit=limit
        )

    async def apply_items(
        self,
        apply_id: int,
        *,
        charge_point_id: str | None = None,
        outcomes: Sequence[str] | None = None,
    ) -> list[ApplyItem]:
        return await rows.apply_items(
            self._pool, apply_id, charge_point_id=charge_point_id, outcomes=outcomes
        )

    async def waiting_items(self, charge_point_id: str) -> list[ApplyItem]:
        return await rows.waiting_items(self._pool, charge_point_id)

    async def chargers_waiting(self) -> list[str]:
        return await rows.chargers_waiting(self._pool)

    async def record_outcomes(
        self,
        apply_id: int,
        charge_point_id: str,
        outcomes: Sequence[tuple[str, str, str]],
        *,
        at: datetime,
    ) -> None:
        await rows.record_outcomes(self._pool, apply_id, charge_point_id, outcomes, at=at)

    async def finish_apply(self, apply_id: int, at: datetime) -> None:
        await rows.finish_apply(self._pool, apply_id, at)

    async def reboot_pending(self, charge_point_id: str) -> list[ApplyItem]:
        return await rows.reboot_pending(self._pool, charge_point_id)

    async def mark_rebooted(
        self, charge_point_id: str, items: Sequence[tuple[int, str, str]], at: datetime
    ) -> None:
        await rows.mark_rebooted(self._pool, charge_point_id, items, at)

    async def latest_outcomes(self, charge_point_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        return await rows.latest_outcomes(self._pool, charge_point_ids)

    async def history(
        self,
        charge_point_id: str,
        *,
        setting: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        return await rows.history(
            self._pool, charge_point_id, setting=setting, before_id=before_id, limit=limit
        )


class PostgresLogs:
    """``LogStore`` on PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
        return await charger_logs.create_request(
            self._pool,
            charge_point_id,
            log_type=log_type,
            action=action,
            request_id=request_id,
            token_hash=token_hash,
            expires_at=expires_at,
            oldest_at=oldest_at,
            latest_at=latest_at,
            by=by,
            at=at,
        )

    async def remove_request(self, log_id: int) -> None:
        await charger_logs.remove_request(self._pool, log_id)

    async def set_file_name(self, log_id: int, file_name: str | None) -> None:
        await charger_logs.set_file_name(self._pool, log_id, file_name)

    async def record_status(
        self, charge_point_id: str, status: str, *, request_id: int | None, at: datetime
    ) -> int | None:
        return await charger_logs.record_status(
            self._pool, charge_point_id, status, request_id=request_id, at=at
        )

    async def get_request(self, log_id: int) -> LogRequest | None:
        return await charger_logs.get_request(self._pool, log_id)

    async def list_requests(
        self, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[LogRequest]:
        return await charger_logs.list_requests(
            self._pool, charge_point_id, before_id=before_id, limit=limit
        )
