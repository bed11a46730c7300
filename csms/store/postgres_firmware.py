"""Firmware campaigns on PostgreSQL (csms.store.postgres)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

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
from csms.store import firmware
from csms.store.batching import BatchCall


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
