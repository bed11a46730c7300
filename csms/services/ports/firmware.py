"""Firmware campaigns and charger logs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from csms.domain.charger_logs import LogRequest
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


class FirmwareStore(Protocol):
    """Firmware artifacts (their bytes streamed in and out, never whole in memory),
    campaigns, waves, targets and their history (csms.store.firmware)."""

    async def add_artifact(
        self,
        new: NewArtifact,
        chunks: AsyncIterator[bytes],
        seal: Callable[[], tuple[int, str]],
    ) -> Artifact:
        """Store the file and its row atomically; ``seal`` (after the last chunk) gives
        (size, sha256) or raises, and then nothing is kept. InvalidInput (a duplicate)."""
        ...

    async def get_artifact(self, artifact_id: int) -> Artifact | None: ...

    async def list_artifacts(self, *, after_id: int = 0, limit: int = 100) -> list[Artifact]: ...

    async def remove_artifact(self, artifact_id: int) -> None:
        """NotFound; InvalidInput when a campaign uses it."""
        ...

    def read_artifact(self, artifact_id: int, start: int, length: int) -> AsyncIterator[bytes]:
        """``length`` bytes from ``start``, chunk by chunk."""
        ...

    async def candidates(self, selector: Selector) -> list[CandidateCharger]: ...

    async def active_elsewhere(self, charge_point_ids: Sequence[str]) -> dict[str, int]:
        """Chargers of the list in a campaign not finished with them -> that campaign."""
        ...

    async def create_campaign(
        self,
        *,
        artifact_id: int,
        selector: dict[str, Any],
        options: CampaignOptions,
        waves: Sequence[WavePlan],
        targets: Sequence[NewTarget],
        created_by: str | None,
    ) -> int: ...

    async def get_campaign(self, campaign_id: int) -> Campaign | None: ...

    async def list_campaigns(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[Campaign]: ...

    async def active_campaigns(self) -> list[int]:
        """Running, paused or halted."""
        ...

    async def cancel_targets(self, campaign_id: int, actor: str | None) -> int: ...

    async def retry_failed(self, campaign_id: int, actor: str | None) -> tuple[int, int]:
        """(retried, skipped: in another campaign now)."""
        ...

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
        """Change the status if it is one of ``only_from``; False otherwise."""
        ...

    async def start_wave(self, campaign_id: int, number: int) -> bool: ...

    async def finish_waves(self, campaign_id: int, numbers: Sequence[int]) -> None: ...

    async def accept_failures(self, campaign_id: int, up_to_wave: int) -> None: ...

    async def waves(self, campaign_id: int) -> list[Wave]: ...

    async def wave_progress(self, campaign_id: int) -> list[WaveProgress]: ...

    async def state_counts(self, campaign_id: int) -> dict[str, int]: ...

    async def get_target(self, campaign_id: int, charge_point_id: str) -> TargetRow | None: ...

    async def active_target(self, charge_point_id: str) -> TargetRow | None: ...

    async def update_target(
        self,
        row: TargetRow,
        target: Target,
        *,
        note: str | None,
        actor: str | None = None,
        waiting: str | None = None,
    ) -> bool:
        """Write ``target`` if the row is still at ``row.revision``; False: read it again."""
        ...

    async def mark_sent(self, campaign_id: int, charge_point_id: str, request_id: int) -> bool:
        """Claim the one send of update ``request_id``."""
        ...

    async def set_waiting(self, campaign_id: int, waiting: dict[str, str | None]) -> None: ...

    async def dispatchable(
        self, campaign_id: int, *, up_to_wave: int, now: datetime, limit: int
    ) -> list[Dispatchable]: ...

    async def in_flight(self, campaign_id: int) -> int: ...

    async def due(self, campaign_id: int, now: datetime) -> list[TargetRow]: ...

    async def targets(
        self,
        campaign_id: int,
        *,
        states: Sequence[str] | None = None,
        after_position: int = -1,
        limit: int = 100,
    ) -> list[TargetRow]: ...

    async def events(
        self,
        campaign_id: int,
        *,
        charge_point_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[CampaignEvent]: ...

    async def record_event(
        self,
        campaign_id: int,
        kind: str,
        *,
        charge_point_id: str | None = None,
        state: str | None = None,
        detail: str | None = None,
        actor: str | None = None,
    ) -> None: ...


class LogStore(Protocol):
    """Diagnostics and log upload requests (the uploads are the backoffice's)."""

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
        """Status Requested; NotFound (charger), AlreadyExists (the token, or the requestId
        for the charger, is taken)."""
        ...

    async def remove_request(self, log_id: int) -> None:
        """A request whose command did not reach the charger."""
        ...

    async def set_file_name(self, log_id: int, file_name: str | None) -> None: ...

    async def record_status(
        self, charge_point_id: str, status: str, *, request_id: int | None, at: datetime
    ) -> int | None:
        """Append a status to the request with ``request_id``, or (None) to the charger's
        newest GetDiagnostics request not in a final status; its id, or None if none."""
        ...

    async def get_request(self, log_id: int) -> LogRequest | None: ...

    async def list_requests(
        self, charge_point_id: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[LogRequest]:
        """Newest first."""
        ...
