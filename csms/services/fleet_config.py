"""Configuration baselines, version neutral: profiles, drift, applies with per-key
outcomes, configuration reads on boot and on demand, and what a charger gets when it comes
back (docs/topics/fleet-operations.md).

Who runs what: operators (backoffice, CLI) manage profiles, read drift and history and ask
for applies and reads; an apply, and what a charger needs when it boots or reconnects, are
durable jobs run by ``csms worker`` (``APPLY_JOB``, ``CHARGER_BACK_JOB``), which sends
through the command bus. Nothing here waits on a charger's message path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from csms.domain.clock import Clock
from csms.domain.commands import new_request_id
from csms.domain.fleet_config import (
    NOT_SUPPORTED,
    OFFLINE,
    PENDING,
    PROTOCOL_VERSIONS,
    SUPERSEDED,
    ApplyItem,
    ChargerFacts,
    ConfigApply,
    ConfigProfile,
    DriftItem,
    HistoryEntry,
    NewItem,
    RefreshState,
    Reported,
    SettingId,
    applies_to,
    apply_plan,
    drift_of,
    effective,
    parse_profile,
    parse_setting,
    parse_setting_text,
    parse_settings,
    same_value,
    setting_json,
)
from csms.errors import (
    ChargerNotConnected,
    CommandError,
    CommandTimeout,
    InvalidInput,
    NodeUnavailable,
    NotFound,
)
from csms.services.fleet_config_versions import VERSIONS, VersionConfig
from csms.services.ports import CommandSender, ConfigStore, JobQueue

log = logging.getLogger(__name__)

APPLY_JOB = "config.apply"
CHARGER_BACK_JOB = "config.charger_back"
OFFLINE_SWEEP = "config.offline_sweep"
OPERATOR = "operator"
BOOT = "boot"
REAPPLY_BY = "reapply-on-boot"
BOOT_READ_BY = "boot"
FULL_INVENTORY = "FullInventory"
REQUESTED = "Requested"
ACCEPTED_READ = "Accepted"
COMPLETE = "Complete"
FAILED_READ = "Failed"
AT_ONCE = 20  # chargers an apply talks to at once
# the bus errors after which a charger gets its values when it is back
NOT_REACHED = (ChargerNotConnected, CommandTimeout, NodeUnavailable)


@dataclass(frozen=True, slots=True)
class PlannedCharger:
    """What an apply does at one charger: (setting text, value, outcome, detail) each."""

    charge_point_id: str
    connected: bool
    items: list[tuple[str, str, str, str]]


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    """An apply asked (``apply`` None for a dry run) and its plan."""

    profile: ConfigProfile
    apply: ConfigApply | None
    plan: list[PlannedCharger]


@dataclass(frozen=True, slots=True)
class RefreshResult:
    charge_point_id: str
    status: str  # Complete (1.6), Accepted (a 2.0.1 report follows)
    request_id: int | None
    settings: int  # how many values the charger reports now


class ConfigService:
    def __init__(
        self,
        store: ConfigStore,
        jobs: JobQueue,
        *,
        clock: Clock,
        command_timeout: float = 30.0,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._clock = clock
        self.command_timeout = command_timeout

    # -- profiles ----------------------------------------------------------------------------

    async def add_profile(self, data: Mapping[str, Any], *, by: str | None) -> ConfigProfile:
        """InvalidInput naming the field, AlreadyExists."""
        return await self._store.add_profile(parse_profile(data), by=by)

    async def update_profile(
        self, profile_id: str, changes: Mapping[str, Any], *, by: str | None
    ) -> ConfigProfile:
        """Fields given replace the profile's; ``set`` ({key: value}) and ``unset`` ([key])
        change single settings. InvalidInput, NotFound."""
        profile = await self.profile(profile_id)
        if "id" in changes and changes["id"] != profile_id:
            raise InvalidInput("id cannot change (add a profile under the new id)")
        data: dict[str, Any] = {
            "id": profile.id,
            "ocpp_version": profile.ocpp_version,
            "settings": [setting_json(d) for d in profile.settings],
            "selector": profile.selector.as_json(),
            "priority": profile.priority,
            "description": profile.description,
            "reapply_on_boot": profile.reapply_on_boot,
        }
        data.update({k: v for k, v in changes.items() if k not in ("set", "unset")})
        if "ocpp_version" in changes and "settings" not in changes:
            if str(changes["ocpp_version"]) != profile.ocpp_version:
                raise InvalidInput("settings: give the settings of the new OCPP version too")
        if changes.get("set") or changes.get("unset"):
            data["settings"] = _edited(data, changes.get("set") or {}, changes.get("unset") or [])
        return await self._store.update_profile(parse_profile(data), by=by)

    async def profile(self, profile_id: str) -> ConfigProfile:
        found = await self._store.get_profile(profile_id)
        if found is None:
            raise NotFound(f"profile {profile_id} not found")
        return found

    async def profiles(self) -> list[ConfigProfile]:
        return await self._store.list_profiles()

    async def remove_profile(self, profile_id: str) -> None:
        await self._store.remove_profile(profile_id)

    async def targets(self, profile: ConfigProfile) -> list[ChargerFacts]:
        """The registered chargers the profile selects (of its OCPP version)."""
        return [f for f in await self._store.charger_facts() if applies_to(profile, f)]

    # -- drift -------------------------------------------------------------------------------

    async def drift(
        self,
        *,
        site: str | None = None,
        charge_point_id: str | None = None,
        profile_id: str | None = None,
    ) -> list[DriftItem]:
        """Every desired setting of the chosen chargers against what they reported, by
        charger then setting (``profile_id``: only the settings that profile decides)."""
        profiles = await self._store.list_profiles()
        if profile_id is not None and not any(p.id == profile_id for p in profiles):
            raise NotFound(f"profile {profile_id} not found")
        ids = None if charge_point_id is None else [charge_point_id]
        facts = await self._store.charger_facts(ids)
        if charge_point_id is not None and not facts:
            raise NotFound(f"charger {charge_point_id} not found")
        facts = [f for f in facts if site is None or f.site_id == site]
        wanted = {f.charge_point_id: effective(profiles, f) for f in facts}
        wanted = {
            cp: {s: e for s, e in want.items() if profile_id is None or e.profile_id == profile_id}
            for cp, want in wanted.items()
        }
        chosen = [cp for cp, want in wanted.items() if want]
        reported = await self._store.reported(chosen)
        outcomes = await self._store.latest_outcomes(chosen)
        items: list[DriftItem] = []
        for cp in chosen:
            last = {parse_setting_text(k): v for k, v in outcomes.get(cp, {}).items()}
            items.extend(drift_of(cp, wanted[cp], reported.get(cp), last))
        return items

    # -- applies -----------------------------------------------------------------------------

    async def plan(self, profile: ConfigProfile) -> list[PlannedCharger]:
        """What applying ``profile`` would do now, per selected charger."""
        profiles = await self._store.list_profiles()
        targets = await self.targets(profile)
        reported = await self._store.reported([t.charge_point_id for t in targets])
        planned = []
        for facts in targets:
            desired = effective(profiles, facts)
            steps = apply_plan(desired, profile.id, reported.get(facts.charge_point_id))
            items = [
                (setting.text(), value, outcome, detail)
                for setting, (value, outcome, detail) in steps.items()
            ]
            for d in profile.settings:
                winner = desired.get(d.setting)
                if winner is not None and winner.profile_id != profile.id:
                    detail = f"profile {winner.profile_id} decides it"
                    items.append((d.setting.text(), d.value, SUPERSEDED, detail))
            items.sort()
            planned.append(PlannedCharger(facts.charge_point_id, facts.connected, items))
        return planned

    async def request_apply(
        self, profile_id: str, *, by: str | None, dry_run: bool = False
    ) -> ApplyRequest:
        """Plan the apply; unless ``dry_run``, record it (Pending items) and queue the job
        that sends them. InvalidInput when the profile selects no charger."""
        profile = await self.profile(profile_id)
        planned = await self.plan(profile)
        if not planned:
            raise InvalidInput(
                f"profile {profile_id} selects no registered {profile.ocpp_version} charger"
            )
        if dry_run:
            return ApplyRequest(profile, None, planned)
        items: list[NewItem] = [
            (p.charge_point_id, setting, value, outcome, detail)
            for p in planned
            for setting, value, outcome, detail in p.items
        ]
        apply_id = await self._store.create_apply(
            profile_id, reason=OPERATOR, by=by, items=items, at=self._clock()
        )
        await self._jobs.enqueue(APPLY_JOB, {"apply_id": apply_id}, dedupe_key=f"apply:{apply_id}")
        found = await self._store.get_apply(apply_id)
        assert found is not None
        return ApplyRequest(profile, found, planned)

    async def apply(self, apply_id: int) -> ConfigApply:
        found = await self._store.get_apply(apply_id)
        if found is None:
            raise NotFound(f"apply {apply_id} not found")
        return found

    async def applies(
        self, *, profile_id: str | None = None, before_id: int | None = None, limit: int = 50
    ) -> list[ConfigApply]:
        return await self._store.list_applies(
            profile_id=profile_id, before_id=before_id, limit=limit
        )

    async def apply_items(
        self, apply_id: int, *, charge_point_id: str | None = None
    ) -> list[ApplyItem]:
        await self.apply(apply_id)
        return await self._store.apply_items(apply_id, charge_point_id=charge_point_id)

    async def history(
        self,
        charge_point_id: str,
        *,
        setting: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[HistoryEntry]:
        return await self._store.history(
            charge_point_id, setting=setting, before_id=before_id, limit=limit
        )

    async def refresh_state(self, charge_point_id: str) -> RefreshState | None:
        return await self._store.refresh_state(charge_point_id)

    # -- the worker's jobs ------------------------------------------------------------------

    async def run_apply(self, sender: CommandSender, apply_id: int) -> None:
        """Send every Pending item of the apply (job ``APPLY_JOB``; run again, it sends what
        is still Pending)."""
        applied = await self.apply(apply_id)
        by = _sender_name(applied)
        items = await self._store.apply_items(apply_id, outcomes=[PENDING])
        by_charger: dict[str, list[ApplyItem]] = {}
        for item in items:
            by_charger.setdefault(item.charge_point_id, []).append(item)
        slots = asyncio.Semaphore(AT_ONCE)

        async def one(cp: str, waiting: list[ApplyItem]) -> None:
            async with slots:
                try:
                    await self._send(sender, cp, waiting, by)
                except NotFound:  # removed meanwhile (its items with it)
                    log.info("apply %d: %s was removed", apply_id, cp)

        async with asyncio.TaskGroup() as group:
            for cp, waiting in by_charger.items():
                group.create_task(one(cp, waiting))
        await self._store.finish_apply(apply_id, self._clock())

    async def charger_back(
        self,
        sender: CommandSender,
        charge_point_id: str,
        *,
        booted: bool,
        protocol: str | None = None,
    ) -> None:
        """A charger booted (Accepted) or reconnected (job ``CHARGER_BACK_JOB``). After a
        boot: its configuration is read again, RebootRequired items are confirmed against
        what it reports now, and profiles with ``reapply_on_boot`` are applied again where
        it drifted. Either way, what waits for it (Offline, Pending) is sent."""
        try:
            if protocol is not None:
                await self._store.set_protocol(charge_point_id, protocol)
            if booted:
                await self.refresh(sender, charge_point_id, by=BOOT_READ_BY)
                await self._confirm_reboot(sender, charge_point_id)
            await self.send_waiting(sender, charge_point_id)
            if booted:
                await self._reapply(sender, charge_point_id)
        except NOT_REACHED as exc:
            log.info("%s went away before its configuration was done: %s", charge_point_id, exc)
        except NotFound:
            log.info("%s was removed before its configuration was done", charge_point_id)

    async def connected_with_waiting(self) -> list[ChargerFacts]:
        """Connected chargers that have items waiting."""
        waiting = await self._store.chargers_waiting()
        if not waiting:
            return []
        return [f for f in await self._store.charger_facts(waiting) if f.connected]

    async def offline_sweep(self, connected: Sequence[str]) -> int:
        """Queue the job of each connected charger that still has values waiting (its own
        job may have run before an apply marked it offline). How many were queued."""
        queued = 0
        for cp in connected:
            if await self._store.waiting_items(cp):
                queued += await self.enqueue_back(cp, booted=False)
        return queued

    async def enqueue_back(
        self, charge_point_id: str, *, booted: bool, protocol: str | None = None
    ) -> int:
        """Queue ``charger_back`` (what the node does after a boot or a reconnect)."""
        kind = "boot" if booted else "connect"
        queued = await self._jobs.enqueue(
            CHARGER_BACK_JOB,
            {"charge_point_id": charge_point_id, "booted": booted, "protocol": protocol},
            dedupe_key=f"config-{kind}:{charge_point_id}",
        )
        return int(queued)

    async def refresh(
        self, sender: CommandSender, charge_point_id: str, *, by: str | None
    ) -> RefreshResult:
        """Read the charger's whole configuration now: 1.6 GetConfiguration (every key,
        complete when this returns), 2.0.1 GetBaseReport(FullInventory) (B07: the report
        follows in NotifyReport parts; the read is complete when the last has arrived).
        CommandError when the charger cannot be reached or refuses."""
        facts = await self._facts(charge_point_id)
        adapter = self._adapter(facts)
        now = self._clock()
        request_id = new_request_id() if adapter.reports_later else None
        # recorded before asking: the report's first part may come before the answer
        await self._store.refresh_requested(charge_point_id, request_id=request_id, by=by, at=now)
        if request_id is not None:
            await self._store.report_requested(
                charge_point_id, request_id, report_base=FULL_INVENTORY, by=by, at=now
            )
        try:
            await adapter.read_all(
                sender, charge_point_id, request_id=request_id, by=by, timeout=self.command_timeout
            )
        except CommandError as exc:
            await self._store.refresh_status(
                charge_point_id, FAILED_READ, str(exc), at=now, request_id=request_id
            )
            raise
        if request_id is None:
            await self._store.refresh_status(charge_point_id, COMPLETE, "", at=self._clock())
        else:  # unless the whole report is in already
            await self._store.refresh_status(
                charge_point_id,
                ACCEPTED_READ,
                "",
                at=now,
                request_id=request_id,
                from_status=REQUESTED,
            )
        state = await self._store.refresh_state(charge_point_id)
        reported = await self._store.reported([charge_point_id])
        return RefreshResult(
            charge_point_id,
            state.refresh_status or REQUESTED if state is not None else REQUESTED,
            request_id,
            len(reported.get(charge_point_id, {})),
        )

    async def send_waiting(self, sender: CommandSender, charge_point_id: str) -> None:
        """Send the items waiting for the charger (Pending, Offline) of every apply."""
        waiting = await self._store.waiting_items(charge_point_id)
        by_apply: dict[int, list[ApplyItem]] = {}
        for item in waiting:
            by_apply.setdefault(item.apply_id, []).append(item)
        for apply_id, items in by_apply.items():
            applied = await self._store.get_apply(apply_id)
            if applied is None:
                continue
            await self._send(sender, charge_point_id, items, _sender_name(applied))
            if not await self._store.apply_items(apply_id, outcomes=[PENDING]):
                await self._store.finish_apply(apply_id, self._clock())

    # -- internals ---------------------------------------------------------------------------

    async def _facts(self, charge_point_id: str) -> ChargerFacts:
        found = await self._store.charger_facts([charge_point_id])
        if not found:
            raise NotFound(f"charger {charge_point_id} not found")
        return found[0]

    @staticmethod
    def _adapter(facts: ChargerFacts) -> VersionConfig:
        if facts.ocpp_version is None:
            raise InvalidInput(
                f"charger {facts.charge_point_id}: its OCPP version is not known yet (it never "
                "connected and is not pinned)"
            )
        return VERSIONS[facts.ocpp_version]

    async def _send(
        self, sender: CommandSender, charge_point_id: str, items: Sequence[ApplyItem], by: str
    ) -> None:
        """Send these items of one apply to one charger and record each outcome."""
        if not items:
            return
        apply_id = items[0].apply_id
        facts = await self._facts(charge_point_id)
        adapter = self._adapter(facts)
        reported = (await self._store.reported([charge_point_id])).get(charge_point_id, {})
        values = [(parse_setting_text(i.setting), i.value) for i in items]
        now = self._clock
        try:
            written = await adapter.write(
                sender, charge_point_id, values, reported, by=by, timeout=self.command_timeout
            )
        except NOT_REACHED as exc:
            detail = f"{exc.code}: sent when the charger connects again"
            outcomes = [(i.setting, OFFLINE, detail) for i in items]
            await self._store.record_outcomes(apply_id, charge_point_id, outcomes, at=now())
            return
        outcomes = [(s.text(), outcome, detail) for s, outcome, detail in written]
        await self._store.record_outcomes(apply_id, charge_point_id, outcomes, at=now())

    async def _confirm_reboot(self, sender: CommandSender, charge_point_id: str) -> None:
        """RebootRequired items: the boot happened; read their values again and say what
        the charger reports now."""
        pending = await self._store.reboot_pending(charge_point_id)
        if not pending:
            return
        facts = await self._facts(charge_point_id)
        settings = [parse_setting_text(i.setting) for i in pending]
        reported = (await self._store.reported([charge_point_id])).get(charge_point_id, {})
        await self._adapter(facts).read(
            sender,
            charge_point_id,
            settings,
            reported,
            by=BOOT_READ_BY,
            timeout=self.command_timeout,
        )
        now = (await self._store.reported([charge_point_id])).get(charge_point_id, {})
        done = []
        for item, setting in zip(pending, settings, strict=True):
            have = now.get(setting)
            value = None if have is None else have.value
            state = "in effect" if same_value(item.value, value) else "not in effect"
            done.append((item.apply_id, item.setting, f"rebooted; {state} (reports {value})"))
        await self._store.mark_rebooted(charge_point_id, done, self._clock())

    async def _reapply(self, sender: CommandSender, charge_point_id: str) -> None:
        """Profiles with ``reapply_on_boot`` that select the charger: their settings that
        drifted are applied again (an apply of reason boot)."""
        profiles = await self._store.list_profiles()
        facts = await self._facts(charge_point_id)
        chosen = [p for p in profiles if p.reapply_on_boot and applies_to(p, facts)]
        if not chosen:
            return
        desired = effective(profiles, facts)
        adapter = self._adapter(facts)
        reported = (await self._store.reported([charge_point_id])).get(charge_point_id, {})
        mine = [s for s, e in desired.items() if any(e.profile_id == p.id for p in chosen)]
        await adapter.read(
            sender, charge_point_id, mine, reported, by=BOOT_READ_BY, timeout=self.command_timeout
        )
        reported = (await self._store.reported([charge_point_id])).get(charge_point_id, {})
        for profile in chosen:
            steps = apply_plan(desired, profile.id, reported)
            items: list[NewItem] = [
                (charge_point_id, s.text(), value, outcome, detail)
                for s, (value, outcome, detail) in steps.items()
                if outcome in (PENDING, NOT_SUPPORTED)
            ]
            if not any(item[3] == PENDING for item in items):
                continue
            apply_id = await self._store.create_apply(
                profile.id, reason=BOOT, by=REAPPLY_BY, items=items, at=self._clock()
            )
            applied = await self._store.get_apply(apply_id)
            assert applied is not None
            pending = await self._store.apply_items(apply_id, outcomes=[PENDING])
            await self._send(sender, charge_point_id, pending, _sender_name(applied))
            await self._store.finish_apply(apply_id, self._clock())


def _sender_name(applied: ConfigApply) -> str:
    """Who the history names for what an apply changed."""
    who = applied.requested_by or "csms"
    return f"{who} (profile {applied.profile_id}, apply {applied.id})"


def _edited(data: Mapping[str, Any], set_: Any, unset: Any) -> list[dict[str, Any]]:
    """The profile's settings with ``set`` ({key: value}) and without ``unset`` ([keys])."""
    if not isinstance(set_, Mapping):
        raise InvalidInput("set must be an object {key: value}")
    if not isinstance(unset, list) or not all(isinstance(k, str) for k in unset):
        raise InvalidInput("unset must be a list of keys")
    version = str(data["ocpp_version"])
    current = parse_profile(data).settings
    removing = {parse_setting(version, key) for key in unset}
    missing = removing - {d.setting for d in current}
    if missing:
        raise InvalidInput(
            f"unset: the profile has no {', '.join(sorted(s.text() for s in missing))}"
        )
    adding = {d.setting: d for d in parse_settings(version, dict(set_))} if set_ else {}
    kept = [d for d in current if d.setting not in removing and d.setting not in adding]
    return [setting_json(d) for d in [*kept, *adding.values()]]


def protocol_version(protocol: str | None) -> str | None:
    return None if protocol is None else PROTOCOL_VERSIONS.get(protocol)


__all__ = [
    "APPLY_JOB",
    "CHARGER_BACK_JOB",
    "OFFLINE_SWEEP",
    "ApplyRequest",
    "ConfigService",
    "PlannedCharger",
    "RefreshResult",
    "Reported",
    "SettingId",
]
