"""Firmware artifacts and campaigns: what operators do (upload, create, pause, resume,
cancel, retry the failed), what the node records (:class:`FirmwareTracker`: statuses and
boots, whichever node holds the charger), and what ``csms worker`` runs
(:class:`FirmwareOrchestrator`: ticks that time out, halt, start waves and send updates).

Everything a campaign knows is in PostgreSQL; each step reads it, decides with the pure
state machine (:mod:`csms.domain.firmware`) and the planner
(:mod:`csms.domain.firmware_campaigns`), and writes the result only if nobody changed the
row meanwhile. So a worker, backoffice or node that restarts, or a charger that moves to
another node mid-download, loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from csms.domain import firmware as fw
from csms.domain.clock import Clock, format_timestamp
from csms.domain.commands import new_request_id
from csms.domain.firmware import (
    AlreadyAtVersion,
    Answered,
    Booted,
    Event,
    Send,
    SendFailed,
    StatusReported,
    Step,
    Tick,
)
from csms.domain.firmware_campaigns import (
    ACTIVE_STATUSES,
    CANCELLED,
    COMPLETED,
    HALTED,
    PAUSED,
    RUNNING,
    WAIT,
    Artifact,
    Campaign,
    CampaignEvent,
    CampaignOptions,
    NewArtifact,
    NewTarget,
    Selector,
    TargetRow,
    Wave,
    WaveProgress,
    in_windows,
    plan,
    rollout_order,
    rules_of,
    wave_plan,
)
from csms.domain.firmware_signing import (
    check_certificate,
    check_signature_text,
    signature_verifies,
)
from csms.errors import (
    ChargerNotConnected,
    CommandError,
    CommandTimeout,
    InvalidInput,
    NodeUnavailable,
    NotFound,
)
from csms.services.hooks import (
    ChargerBooted,
    FirmwareCampaignChanged,
    FirmwareCampaignHalted,
    FirmwareStatusReported,
    FirmwareTargetChanged,
    Hooks,
)
from csms.services.ports import FirmwareStore, JobQueue

log = logging.getLogger(__name__)

FIRMWARE_TICK = "firmware_tick"
FIRMWARE_SEND = "firmware_send"
PUBLISH_STATUS = "PublishFirmwareStatusNotification"  # a local controller's, not its own
V16 = "ocpp1.6"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TEXT = re.compile(r"^[\x20-\x7e]{1,50}$")  # versions, vendors, models: printable ASCII


# -- artifacts ----------------------------------------------------------------------------------


class _Digest:
    """Counts and hashes the chunks of an upload on their way to the store."""

    def __init__(self, chunks: AsyncIterator[bytes], max_bytes: int) -> None:
        self._chunks = chunks
        self._max = max_bytes
        self.size = 0
        self.hash = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            if self.size > self._max:
                raise InvalidInput(f"file: larger than the limit of {self._max} bytes")
            self.hash.update(chunk)
            yield chunk


def _text(value: str | None, what: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{what} is required")
        return None
    if not _TEXT.match(value):
        raise InvalidInput(f"{what}: 1-50 printable ASCII characters")
    return value


def clean_file_name(name: str) -> str:
    base = posixpath.basename(name.replace("\\", "/")).strip()
    if not base or base in (".", "..") or len(base) > 100 or not base.isprintable():
        raise InvalidInput("file name: 1-100 printable characters")
    return base


class ArtifactService:
    def __init__(self, store: FirmwareStore, *, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes

    async def upload(self, new: NewArtifact, chunks: AsyncIterator[bytes]) -> Artifact:
        """Store a firmware file, streamed; refused (nothing kept) when its SHA-256 is not
        the one given, it is larger than the limit, or its signature does not verify."""
        _text(new.version, "version", required=True)
        _text(new.vendor, "vendor")
        _text(new.model, "model")
        file_name = clean_file_name(new.file_name)
        expected = new.sha256.strip().lower() if new.sha256 else None
        if expected is not None and not _SHA256.match(expected):
            raise InvalidInput("sha256: 64 hexadecimal digits")
        signature = certificate = None
        if (new.signature is None) != (new.signing_certificate is None):
            raise InvalidInput("signature and signing certificate: give both or neither")
        if new.signature is not None and new.signing_certificate is not None:
            signature = check_signature_text(new.signature)
            certificate = new.signing_certificate.strip() + "\n"
            check_certificate(certificate)
        digest = _Digest(chunks, self._max_bytes)

        def seal() -> tuple[int, str]:
            found = digest.hash.hexdigest()
            if expected is not None and found != expected:
                raise InvalidInput(f"sha256: the file's is {found}, not {expected}")
            if digest.size == 0:
                raise InvalidInput("file: empty")
            if (
                signature is not None
                and certificate is not None
                and not signature_verifies(certificate, signature, digest.hash.digest())
            ):
                raise InvalidInput("signature: does not verify with the signing certificate")
            return digest.size, found

        stored = NewArtifact(
            version=new.version,
            file_name=file_name,
            vendor=new.vendor or None,
            model=new.model or None,
            signature=signature,
            signing_certificate=certificate,
            description=new.description,
            created_by=new.created_by,
        )
        artifact = await self._store.add_artifact(stored, digest.__aiter__(), seal)
        log.info(
            "firmware %s stored (artifact %d, %d bytes, sha256 %s)",
            artifact.version,
            artifact.id,
            artifact.size_bytes,
            artifact.sha256,
        )
        return artifact

    async def get(self, artifact_id: int) -> Artifact:
        found = await self._store.get_artifact(artifact_id)
        if found is None:
            raise NotFound(f"firmware artifact {artifact_id} not found")
        return found

    async def artifacts(self, *, after_id: int = 0, limit: int = 100) -> list[Artifact]:
        return await self._store.list_artifacts(after_id=after_id, limit=limit)

    async def remove(self, artifact_id: int) -> None:
        await self._store.remove_artifact(artifact_id)

    def read(self, artifact_id: int, start: int, length: int) -> AsyncIterator[bytes]:
        return self._store.read_artifact(artifact_id, start, length)


# -- applying events to targets -------------------------------------------------------------------


class _Targets:
    """Apply an event to a target and store it if nobody changed it meanwhile."""

    def __init__(self, store: FirmwareStore, hooks: Hooks) -> None:
        self._store = store
        self._hooks = hooks

    async def apply(
        self,
        row: TargetRow,
        event: Event,
        campaign: Campaign,
        *,
        actor: str | None = None,
        reread: Callable[[], Awaitable[TargetRow | None]] | None = None,
    ) -> Step | None:
        rules = rules_of(campaign)
        for _ in range(5):
            result = fw.step(row.target, event, rules)
            if not result.changed:
                return None
            if await self._store.update_target(row, result.target, note=result.note, actor=actor):
                new = result.target
                await self._hooks.emit(
                    FirmwareTargetChanged(
                        row.campaign_id,
                        row.charge_point_id,
                        new.state,
                        new.last_status,
                        new.failure if new.state in (fw.FAILED, fw.PENDING) else None,
                        new.attempts,
                    )
                )
                return result
            fresh = await (
                reread()
                if reread is not None
                else self._store.get_target(row.campaign_id, row.charge_point_id)
            )
            if fresh is None:
                return None
            row = fresh
        log.warning(
            "firmware target %s of campaign %d kept changing", row.charge_point_id, row.campaign_id
        )
        return None


# -- the node's side ------------------------------------------------------------------------------


class FirmwareTracker:
    """Records firmware statuses and boots against the charger's campaign, on whichever
    node holds the charger (hooks: FirmwareStatusReported, ChargerBooted)."""

    def __init__(self, store: FirmwareStore, *, clock: Clock, hooks: Hooks) -> None:
        self._store = store
        self._clock = clock
        self._targets = _Targets(store, hooks)

    def attach(self, hooks: Hooks) -> None:
        hooks.subscribe(FirmwareStatusReported, self.on_status)
        hooks.subscribe(ChargerBooted, self.on_booted)

    async def on_status(self, e: FirmwareStatusReported) -> None:
        if e.action == PUBLISH_STATUS:
            return
        await self._apply(e.charge_point_id, StatusReported(e.status, e.request_id, self._clock()))

    async def on_booted(self, e: ChargerBooted) -> None:
        version = e.identity.get("firmware_version")
        await self._apply(e.charge_point_id, Booted(version, self._clock()))

    async def _apply(self, charge_point_id: str, event: Event) -> None:
        row = await self._store.active_target(charge_point_id)
        if row is None:
            return
        campaign = await self._store.get_campaign(row.campaign_id)
        if campaign is None:
            return

        async def reread() -> TargetRow | None:
            return await self._store.active_target(charge_point_id)

        await self._targets.apply(row, event, campaign, reread=reread)


# -- operators ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaveStatus:
    wave: Wave
    progress: WaveProgress


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign with its waves' progress and its chargers' counts by state."""

    campaign: Campaign
    artifact: Artifact
    waves: list[WaveStatus]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


OVERLAP_SHOWN = 5


class CampaignService:
    def __init__(self, store: FirmwareStore, *, clock: Clock, hooks: Hooks) -> None:
        self._store = store
        self._clock = clock
        self._hooks = hooks

    async def create(
        self,
        artifact_id: int,
        selector: Selector,
        options: CampaignOptions,
        *,
        by: str | None,
    ) -> Campaign:
        """Select the chargers and start the campaign (its first wave goes at the worker's
        next tick). Refused when it selects no charger, when an explicitly listed charger is
        unknown or not one the artifact is for, or when a charger is in another campaign."""
        artifact = await self._store.get_artifact(artifact_id)
        if artifact is None:
            raise NotFound(f"firmware artifact {artifact_id} not found")
        found = await self._store.candidates(selector)
        if selector.chargers:
            known = {c.charge_point_id for c in found}
            unknown = [cp for cp in selector.chargers if cp not in known]
            if unknown and not (selector.site or selector.vendor or selector.model):
                raise InvalidInput(f"target: unknown charger {', '.join(unknown[:10])}")
        chosen = [c for c in found if artifact.applies_to(c)]
        if selector.chargers and len(chosen) < len(found):
            wrong = [c.charge_point_id for c in found if not artifact.applies_to(c)]
            raise InvalidInput(
                f"target: {', '.join(wrong[:10])}: not a {artifact.vendor or ''} "
                f"{artifact.model or ''} (the artifact is for those)".replace("  ", " ")
            )
        if not chosen:
            why = (
                f"; {len(found)} match but the artifact is for vendor {artifact.vendor} "
                f"model {artifact.model}"
                if found
                else ""
            )
            raise InvalidInput(f"target: selects no chargers{why}")
        ids = [c.charge_point_id for c in chosen]
        taken = await self._store.active_elsewhere(ids)
        if taken:
            shown = ", ".join(
                f"{cp} (campaign {campaign})"
                for cp, campaign in sorted(taken.items())[:OVERLAP_SHOWN]
            )
            more = f" and {len(taken) - OVERLAP_SHOWN} more" if len(taken) > OVERLAP_SHOWN else ""
            raise InvalidInput(
                f"target: {len(taken)} of the selected chargers are in a campaign that has not "
                f"finished with them: {shown}{more}; cancel that campaign or leave them out"
            )
        waves = wave_plan(len(ids), options.canary, options.waves)
        order = rollout_order(f"{artifact.id}:{self._clock().isoformat()}", ids)
        versions = {c.charge_point_id: c.firmware_version for c in chosen}
        targets: list[NewTarget] = []
        position = 0
        for wave in waves:
            for cp in order[position : position + wave.size]:
                targets.append(NewTarget(cp, wave.number, position, versions[cp]))
                position += 1
        campaign_id = await self._store.create_campaign(
            artifact_id=artifact.id,
            selector=selector.as_dict(),
            options=options,
            waves=waves,
            targets=targets,
            created_by=by,
        )
        campaign = await self.get(campaign_id)
        await self._hooks.emit(FirmwareCampaignChanged(campaign_id, "created", RUNNING, None, by))
        log.info(
            "firmware campaign %d: %s to %d chargers in %d waves (by %s)",
            campaign_id,
            artifact.version,
            len(targets),
            len(waves),
            by,
        )
        return campaign

    async def get(self, campaign_id: int) -> Campaign:
        found = await self._store.get_campaign(campaign_id)
        if found is None:
            raise NotFound(f"firmware campaign {campaign_id} not found")
        return found

    async def campaigns(
        self, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[Campaign]:
        return await self._store.list_campaigns(status=status, after_id=after_id, limit=limit)

    async def view(self, campaign_id: int) -> CampaignView:
        campaign = await self.get(campaign_id)
        artifact = await self._store.get_artifact(campaign.artifact_id)
        assert artifact is not None  # an artifact in use cannot be removed
        waves = await self._store.waves(campaign_id)
        progress = {p.number: p for p in await self._store.wave_progress(campaign_id)}
        return CampaignView(
            campaign,
            artifact,
            [WaveStatus(w, progress[w.number]) for w in waves],
            await self._store.state_counts(campaign_id),
        )

    async def targets(
        self,
        campaign_id: int,
        *,
        states: Sequence[str] | None = None,
        after_position: int = -1,
        limit: int = 100,
    ) -> list[TargetRow]:
        await self.get(campaign_id)
        unknown = sorted(set(states or ()) - set(fw.STATES))
        if unknown:
            raise InvalidInput(
                f"state: unknown {', '.join(unknown)} (states: {', '.join(fw.STATES)})"
            )
        return await self._store.targets(
            campaign_id, states=states, after_position=after_position, limit=limit
        )

    async def events(
        self,
        campaign_id: int,
        *,
        charge_point_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[CampaignEvent]:
        await self.get(campaign_id)
        return await self._store.events(
            campaign_id, charge_point_id=charge_point_id, after_id=after_id, limit=limit
        )

    async def _change(
        self, campaign_id: int, status: str, only_from: Sequence[str], by: str | None, kind: str
    ) -> Campaign:
        campaign = await self.get(campaign_id)
        if not await self._store.set_status(campaign_id, status, only_from=only_from, actor=by):
            current = (await self.get(campaign_id)).status
            raise InvalidInput(
                f"campaign {campaign_id} is {current}: only a {' or '.join(only_from)} "
                f"campaign can be {kind}"
            )
        await self._hooks.emit(FirmwareCampaignChanged(campaign_id, kind, status, None, by))
        log.info("firmware campaign %d %s by %s", campaign.id, kind, by)
        return await self.get(campaign_id)

    async def pause(self, campaign_id: int, *, by: str | None) -> Campaign:
        """No new updates are sent; chargers already updating go on and are tracked."""
        return await self._change(campaign_id, PAUSED, (RUNNING,), by, "paused")

    async def resume(self, campaign_id: int, *, by: str | None) -> Campaign:
        """A paused or halted campaign runs again; resuming a halted one accepts the
        failures of the waves started so far (they no longer halt it)."""
        campaign = await self.get(campaign_id)
        if campaign.status == HALTED:
            await self._store.accept_failures(campaign_id, campaign.current_wave)
        return await self._change(campaign_id, RUNNING, (PAUSED, HALTED), by, "resumed")

    async def cancel(self, campaign_id: int, *, by: str | None) -> Campaign:
        """Stops the campaign for good: every charger not finished is cancelled (one already
        downloading or installing carries on by itself; its statuses are kept as received)."""
        campaign = await self._change(
            campaign_id, CANCELLED, tuple(ACTIVE_STATUSES), by, "cancelled"
        )
        await self._store.cancel_targets(campaign_id, by)
        return campaign

    async def retry_failed(self, campaign_id: int, *, by: str | None) -> tuple[Campaign, int, int]:
        """Failed chargers are tried again from scratch (a completed campaign runs again);
        (campaign, retried, skipped: now in another campaign)."""
        campaign = await self.get(campaign_id)
        if campaign.status == CANCELLED:
            raise InvalidInput(f"campaign {campaign_id} is cancelled")
        retried, skipped = await self._store.retry_failed(campaign_id, by)
        if retried and campaign.status == COMPLETED:
            await self._store.set_status(
                campaign_id, RUNNING, only_from=(COMPLETED,), actor=by, detail="retry-failed"
            )
        await self._store.record_event(
            campaign_id, "retry_failed", detail=f"{retried} retried, {skipped} skipped", actor=by
        )
        await self._hooks.emit(
            FirmwareCampaignChanged(
                campaign_id,
                "retry_failed",
                (await self.get(campaign_id)).status,
                f"{retried} retried",
                by,
            )  # fmt: skip
        )
        return await self.get(campaign_id), retried, skipped


# -- the worker's side ----------------------------------------------------------------------------


class CommandSender(Protocol):
    """The command bus (csms.cluster.bus.CommandClient)."""

    async def send(
        self,
        charge_point_id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
    ) -> dict[str, Any]: ...


UrlSigner = Callable[[Artifact, str, datetime], str]  # (artifact, charger, retrieve at) -> URL


class FirmwareOrchestrator:
    """What ``csms worker`` does for campaigns: ``tick`` (timeouts, halts, waves, choosing
    whom to send the update now) and ``send`` (one charger's UpdateFirmware through the
    command bus). Both are jobs, safe to run twice."""

    def __init__(
        self,
        store: FirmwareStore,
        jobs: JobQueue,
        commands: CommandSender,
        sign_url: UrlSigner,
        *,
        clock: Clock,
        hooks: Hooks,
        command_timeout: float = 30.0,
        default_time_zone: str = "UTC",
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._commands = commands
        self._sign_url = sign_url
        self._clock = clock
        self._hooks = hooks
        self._targets = _Targets(store, hooks)
        self._command_timeout = command_timeout
        self._default_zone = default_time_zone

    async def enqueue_ticks(self) -> int:
        """A tick job for every campaign not finished (one at a time per campaign)."""
        campaigns = await self._store.active_campaigns()
        for campaign_id in campaigns:
            await self._jobs.enqueue(
                FIRMWARE_TICK, {"campaign_id": campaign_id}, dedupe_key=f"fw-tick:{campaign_id}"
            )
        return len(campaigns)

    async def tick(self, campaign_id: int) -> None:
        campaign = await self._store.get_campaign(campaign_id)
        if campaign is None or campaign.status not in ACTIVE_STATUSES:
            return
        now = self._clock()
        for row in await self._store.due(campaign_id, now):
            await self._targets.apply(row, Tick(now), campaign)
        if campaign.status != RUNNING:
            return
        progress = await self._store.wave_progress(campaign_id)
        decision = plan(
            campaign.status, campaign.current_wave, progress, campaign.options.max_failure_rate
        )
        if decision.halt_wave is not None and decision.halt_reason is not None:
            await self._halt(campaign, decision.halt_wave, decision.halt_reason)
            return
        done = [w.number for w in progress if w.number <= campaign.current_wave and w.done]
        if done:
            await self._store.finish_waves(campaign_id, done)
        if decision.completed:
            if await self._store.set_status(
                campaign_id, COMPLETED, only_from=(RUNNING,), actor=None
            ):
                await self._hooks.emit(
                    FirmwareCampaignChanged(campaign_id, "completed", COMPLETED, None, None)
                )
                log.info("firmware campaign %d completed", campaign_id)
            return
        current = campaign.current_wave
        if decision.start_wave is not None:
            if await self._store.start_wave(campaign_id, decision.start_wave):
                detail = f"wave {decision.start_wave}"
                await self._hooks.emit(
                    FirmwareCampaignChanged(campaign_id, "wave_started", RUNNING, detail, None)
                )
                log.info("firmware campaign %d: wave %d started", campaign_id, decision.start_wave)
            current = decision.start_wave
        await self._dispatch(campaign, current, now)

    async def _halt(self, campaign: Campaign, wave: int, reason: str) -> None:
        if await self._store.set_status(
            campaign.id, HALTED, only_from=(RUNNING,), actor=None, halted_reason=reason
        ):
            log.warning("firmware campaign %d halted: %s", campaign.id, reason)
            await self._hooks.emit(
                FirmwareCampaignChanged(campaign.id, "halted", HALTED, reason, None)
            )
            await self._hooks.emit(FirmwareCampaignHalted(campaign.id, wave, reason))

    async def _dispatch(self, campaign: Campaign, current_wave: int, now: datetime) -> None:
        budget = campaign.options.max_concurrent - await self._store.in_flight(campaign.id)
        if budget <= 0:
            return
        found = await self._store.dispatchable(
            campaign.id, up_to_wave=current_wave, now=now, limit=min(budget * 4 + 50, 5000)
        )
        waiting: dict[str, str | None] = {}
        for candidate in found:
            if budget <= 0:
                break
            row = candidate.row
            cp = row.charge_point_id
            if candidate.firmware_version == campaign.target_version:
                await self._targets.apply(row, AlreadyAtVersion(now), campaign)
                continue
            if candidate.connected_protocol is None:
                waiting[cp] = "offline"
                continue
            zone = ZoneInfo(candidate.time_zone or self._default_zone)
            if not in_windows(campaign.options.windows, now.astimezone(zone)):
                waiting[cp] = "maintenance window"
                continue
            if candidate.in_session and campaign.options.session_policy == WAIT:
                waiting[cp] = "session active"
                continue
            request_id = new_request_id()
            if await self._targets.apply(row, Send(request_id, now), campaign) is None:
                continue
            await self._jobs.enqueue(
                FIRMWARE_SEND,
                {
                    "campaign_id": campaign.id,
                    "charge_point_id": cp,
                    "request_id": request_id,
                    "protocol": candidate.connected_protocol,
                },
                dedupe_key=f"fw-send:{campaign.id}:{cp}:{request_id}",
            )
            budget -= 1
        await self._store.set_waiting(campaign.id, waiting)

    async def send(
        self, campaign_id: int, charge_point_id: str, request_id: int, protocol: str | None
    ) -> None:
        """Send one charger its update (at most once per request id), record the answer."""
        row = await self._store.get_target(campaign_id, charge_point_id)
        if row is None or row.target.state != fw.SENDING or row.target.request_id != request_id:
            return
        campaign = await self._store.get_campaign(campaign_id)
        artifact = (
            None if campaign is None else await self._store.get_artifact(campaign.artifact_id)
        )
        if campaign is None or artifact is None:
            return
        if not await self._store.mark_sent(campaign_id, charge_point_id, request_id):
            return  # sent before (a job run again): its answer, or its timeout, decides
        command, params = self.update_command(
            campaign, artifact, charge_point_id, request_id, protocol
        )
        event: Event
        try:
            result = await self._commands.send(
                charge_point_id, command, params, timeout=self._command_timeout
            )
        except (ChargerNotConnected, NodeUnavailable) as exc:
            event = SendFailed(request_id, f"not delivered: {exc}", self._clock(), offline=True)
        except CommandTimeout as exc:
            event = SendFailed(request_id, f"no answer: {exc}", self._clock(), retry=True)
        except CommandError as exc:
            event = SendFailed(request_id, f"{exc.code}: {exc.detail}", self._clock())
        else:
            response = result.get("response")
            status = response.get("status") if isinstance(response, dict) else None
            event = Answered(request_id, None if status is None else str(status), self._clock())
        row = await self._store.get_target(campaign_id, charge_point_id)
        if row is not None:
            await self._targets.apply(row, event, campaign)

    def update_command(
        self,
        campaign: Campaign,
        artifact: Artifact,
        charge_point_id: str,
        request_id: int,
        protocol: str | None,
    ) -> tuple[str, dict[str, Any]]:
        """``update_firmware`` (1.6 UpdateFirmware, 2.0.1 UpdateFirmware) or, for a signed
        artifact, ``signed_update_firmware`` (1.6 SignedUpdateFirmware, 2.0.1 UpdateFirmware
        with signature and signingCertificate: L01.FR.11)."""
        now = self._clock()
        options = campaign.options
        retrieve = max(now, options.retrieve_at) if options.retrieve_at is not None else now
        params: dict[str, Any] = {
            "location": self._sign_url(artifact, charge_point_id, retrieve),
            "retrieve_date": format_timestamp(retrieve),
            "request_id": request_id,
        }
        if artifact.signed:
            params["signature"] = artifact.signature
            params["certificate"] = artifact.signing_certificate
            if options.install_at is not None:
                params["install_date"] = format_timestamp(options.install_at)
            return "signed_update_firmware", params
        if options.install_at is not None and protocol != V16:  # 1.6 UpdateFirmware has none
            params["install_date"] = format_timestamp(options.install_at)
        return "update_firmware", params
