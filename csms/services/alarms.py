"""Alarms from what chargers report: hook subscribers that raise and clear (issue 15).

The node attaches :class:`AlarmService` to its hooks; the worker attaches it too (firmware
campaigns halt there) and runs the sweeps (csms.worker.alarms). The store port makes every
transition exactly once cluster-wide; a transition that happened is published on the live
stream (``publish``) after its commit. docs/topics/alarms.md lists every source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from csms.domain.alarms import (
    BOOT_REFUSED,
    FIRMWARE_FAILURES,
    FIRMWARE_SUCCESS,
    LOG_FAILURES,
    LOG_SUCCESS,
    AlarmType,
    Change,
    Condition,
    Effective,
    Severity,
    alarm_payload,
    connector_faulted,
    connector_subject,
    dedupe_key,
    energy_above_max,
    notify_event_conditions,
    register_backwards,
    security_alarm,
)
from csms.domain.clock import Clock
from csms.domain.meter_values import register_wh
from csms.services.hooks import (
    CertificateIssued,
    CertificateRenewalFailed,
    ChargerBooted,
    ConnectorStatusChanged,
    FirmwareCampaignChanged,
    FirmwareCampaignHalted,
    FirmwareStatusReported,
    Hooks,
    LogStatusReported,
    NotificationReceived,
    SecurityEventReported,
    SessionEnded,
    SessionUpdated,
)

log = logging.getLogger(__name__)

Publish = Callable[[str, str, dict[str, Any]], None]
"""(event type, charge point id or "", data): the live stream (EventPublisher.publish)."""

# A connector found without an open alarm is not asked again for this long (status
# notifications are frequent); the worker's sweep reconciles what this misses.
CLEAR_CACHE_SECONDS = 30.0
RULE_CACHE_SECONDS = 30.0
CACHE_LIMIT = 100_000


class AlarmStore(Protocol):
    """What the alarm service needs from storage (csms.store.alarms.PostgresAlarms)."""

    async def raise_alarm(
        self,
        condition: Condition,
        *,
        now: datetime,
        flapping_window: timedelta,
        severity: Severity | None = None,
    ) -> Change | None:
        """Raise unless open, disabled or in maintenance; reopen if cleared within the
        window. Exactly once across processes."""
        ...

    async def clear(
        self, key: str, *, now: datetime, by: str | None = None, note: str | None = None
    ) -> Change | None:
        """Clear the open alarm of ``key`` (None: none open). Exactly once."""
        ...

    async def effective(self, alarm_type: AlarmType, charge_point_id: str | None) -> Effective:
        """The rule in force for that type at that charger."""
        ...

    async def bump(self, key: str) -> int:
        """Add one to a counter, return the new count."""
        ...

    async def reset(self, key: str) -> bool:
        """Forget a counter; whether there was one."""
        ...


class AlarmService:
    def __init__(
        self,
        store: AlarmStore,
        *,
        clock: Clock,
        flapping_window: timedelta,
        publish: Publish | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._window = flapping_window
        self._publish = publish
        self._clear_seen: dict[str, float] = {}
        self._rules: dict[tuple[AlarmType, str | None], tuple[float, Effective]] = {}
        self._registers: dict[tuple[str, str], tuple[Decimal, datetime]] = {}

    # -- transitions -------------------------------------------------------------------------

    async def raise_(self, condition: Condition, severity: Severity | None = None) -> Change | None:
        self._clear_seen.pop(condition.key, None)
        change = await self._store.raise_alarm(
            condition, now=self._clock(), flapping_window=self._window, severity=severity
        )
        self.announce(change)
        return change

    async def clear(self, key: str, *, cached: bool = False) -> Change | None:
        """Clear ``key``'s open alarm; ``cached``: skip if this process found it clear
        moments ago."""
        if cached:
            seen = self._clear_seen.get(key)
            if seen is not None and time.monotonic() - seen < CLEAR_CACHE_SECONDS:
                return None
        change = await self._store.clear(key, now=self._clock())
        if cached:
            if len(self._clear_seen) > CACHE_LIMIT:
                self._clear_seen.clear()
            self._clear_seen[key] = time.monotonic()
        self.announce(change)
        return change

    def announce(self, change: Change | None) -> None:
        if change is not None and self._publish is not None:
            data = alarm_payload(change)
            charge_point_id = data.pop("charge_point_id") or ""  # the event's own field
            self._publish(change.event_type, charge_point_id, data)

    async def _rule(self, alarm_type: AlarmType, charge_point_id: str | None) -> Effective:
        now = time.monotonic()
        cached = self._rules.get((alarm_type, charge_point_id))
        if cached is not None and now - cached[0] < RULE_CACHE_SECONDS:
            return cached[1]
        rule = await self._store.effective(alarm_type, charge_point_id)
        if len(self._rules) > CACHE_LIMIT:
            self._rules.clear()
        self._rules[(alarm_type, charge_point_id)] = (now, rule)
        return rule

    # -- hook subscribers --------------------------------------------------------------------

    def attach(self, hooks: Hooks) -> None:
        hooks.subscribe(ConnectorStatusChanged, self.on_connector_status)
        hooks.subscribe(NotificationReceived, self.on_notification)
        hooks.subscribe(SecurityEventReported, self.on_security_event)
        hooks.subscribe(ChargerBooted, self.on_booted)
        hooks.subscribe(FirmwareStatusReported, self.on_firmware_status)
        hooks.subscribe(LogStatusReported, self.on_log_status)
        hooks.subscribe(CertificateRenewalFailed, self.on_renewal_failed)
        hooks.subscribe(CertificateIssued, self.on_certificate_issued)
        hooks.subscribe(SessionUpdated, self.on_session_updated)
        hooks.subscribe(SessionEnded, self.on_session_ended)

    def attach_campaigns(self, hooks: Hooks) -> None:
        """Where firmware campaigns run (the worker): halts raise, resumes clear."""
        hooks.subscribe(FirmwareCampaignHalted, self.on_campaign_halted)
        hooks.subscribe(FirmwareCampaignChanged, self.on_campaign_changed)

    async def on_connector_status(self, e: ConnectorStatusChanged) -> None:
        s = e.status
        subject = connector_subject(s.evse_id, s.connector_id)
        if connector_faulted(s.status, s.error_code):
            details: dict[str, Any] = {"status": s.status, "error_code": s.error_code}
            for name in ("info", "vendor_id", "vendor_error_code"):
                if getattr(s, name):
                    details[name] = getattr(s, name)
            code = "" if s.error_code in (None, "", "NoError") else f" ({s.error_code})"
            await self.raise_(
                Condition(
                    AlarmType.CONNECTOR_FAULTED,
                    e.charge_point_id,
                    subject,
                    f"connector {subject} {s.status}{code}",
                    details,
                )
            )
        else:
            key = dedupe_key(AlarmType.CONNECTOR_FAULTED, e.charge_point_id, subject)
            await self.clear(key, cached=True)

    async def on_notification(self, e: NotificationReceived) -> None:
        if e.action != "NotifyEvent":
            return
        for found in notify_event_conditions(e.payload):
            if found.active:
                await self.raise_(
                    Condition(
                        AlarmType.CHARGER_PROBLEM,
                        e.charge_point_id,
                        found.subject,
                        found.message,
                        found.details,
                    )
                )
            else:
                await self.clear(
                    dedupe_key(AlarmType.CHARGER_PROBLEM, e.charge_point_id, found.subject)
                )

    async def on_security_event(self, e: SecurityEventReported) -> None:
        severity = security_alarm(e.type)
        if severity is None:
            return
        details = {"type": e.type, "occurred_at": e.occurred_at.isoformat()}
        if e.tech_info:
            details["tech_info"] = e.tech_info
        await self.raise_(
            Condition(
                AlarmType.SECURITY_EVENT,
                e.charge_point_id,
                e.type,
                f"security event {e.type}",
                details,
            ),
            # a routine event (a reboot) is info at most, whatever the rule says
            severity=None if severity is Severity.CRITICAL else severity,
        )

    async def on_booted(self, e: ChargerBooted) -> None:
        counter = f"boot:{e.charge_point_id}"
        key = dedupe_key(AlarmType.BOOT_LOOP, e.charge_point_id)
        if e.registration_status not in BOOT_REFUSED:
            # one statement per Accepted boot: a boot_loop alarm implies a count
            if await self._store.reset(counter):
                await self.clear(key)
            return
        count = await self._store.bump(counter)
        rule = await self._rule(AlarmType.BOOT_LOOP, e.charge_point_id)
        if rule.threshold is not None and count >= rule.threshold:
            await self.raise_(
                Condition(
                    AlarmType.BOOT_LOOP,
                    e.charge_point_id,
                    "",
                    f"{count} boots in a row answered {e.registration_status}",
                    {"boots": count, "registration_status": e.registration_status},
                )
            )

    async def on_firmware_status(self, e: FirmwareStatusReported) -> None:
        key = dedupe_key(AlarmType.FIRMWARE_FAILED, e.charge_point_id)
        if e.status in FIRMWARE_FAILURES:
            await self.raise_(
                Condition(
                    AlarmType.FIRMWARE_FAILED,
                    e.charge_point_id,
                    "",
                    f"firmware update {e.status}",
                    {"status": e.status, "request_id": e.request_id, "action": e.action},
                )
            )
        elif e.status in FIRMWARE_SUCCESS:
            await self.clear(key)

    async def on_log_status(self, e: LogStatusReported) -> None:
        key = dedupe_key(AlarmType.LOG_UPLOAD_FAILED, e.charge_point_id)
        if e.status in LOG_FAILURES:
            await self.raise_(
                Condition(
                    AlarmType.LOG_UPLOAD_FAILED,
                    e.charge_point_id,
                    "",
                    f"{e.action}: {e.status}",
                    {"status": e.status, "request_id": e.request_id, "action": e.action},
                )
            )
        elif e.status in LOG_SUCCESS:
            await self.clear(key)

    async def on_renewal_failed(self, e: CertificateRenewalFailed) -> None:
        await self.raise_(
            Condition(
                AlarmType.CERTIFICATE_RENEWAL_FAILED,
                e.charge_point_id,
                "",
                f"certificate renewal failed: {e.reason}",
                {"reason": e.reason},
            )
        )

    async def on_certificate_issued(self, e: CertificateIssued) -> None:
        await self.clear(dedupe_key(AlarmType.CERTIFICATE_RENEWAL_FAILED, e.charge_point_id))

    async def on_campaign_halted(self, e: FirmwareCampaignHalted) -> None:
        await self.raise_(
            Condition(
                AlarmType.CAMPAIGN_HALTED,
                None,
                str(e.campaign_id),
                f"firmware campaign {e.campaign_id} halted in wave {e.wave}: {e.reason}",
                {"campaign_id": e.campaign_id, "wave": e.wave, "reason": e.reason},
            )
        )

    async def on_campaign_changed(self, e: FirmwareCampaignChanged) -> None:
        if e.kind in ("resumed", "cancelled", "completed"):
            await self.clear(dedupe_key(AlarmType.CAMPAIGN_HALTED, None, str(e.campaign_id)))

    async def on_session_updated(self, e: SessionUpdated) -> None:
        readings = [(s.sampled_at, wh) for s in e.samples if (wh := register_wh(s)) is not None]
        if not readings:
            return
        session = (e.charge_point_id, e.session.transaction_id)
        for at, wh in sorted(readings, key=lambda r: r[0]):
            previous = self._registers.get(session)
            if len(self._registers) > CACHE_LIMIT:
                self._registers.clear()
            self._registers[session] = (wh, at)
            if previous is None or at <= previous[1]:
                continue
            if register_backwards(previous[0], wh):
                await self.raise_(
                    Condition(
                        AlarmType.METER_BACKWARDS,
                        e.charge_point_id,
                        e.session.transaction_id,
                        f"energy register went from {previous[0]} Wh to {wh} Wh",
                        {
                            "transaction_id": e.session.transaction_id,
                            "from_wh": str(previous[0]),
                            "to_wh": str(wh),
                            "at": at.isoformat(),
                        },
                    )
                )
                continue
            rule = await self._rule(AlarmType.ENERGY_ABOVE_MAX, e.charge_point_id)
            if rule.threshold is not None and energy_above_max(
                previous[0], previous[1], wh, at, rule.threshold
            ):
                await self.raise_(
                    Condition(
                        AlarmType.ENERGY_ABOVE_MAX,
                        e.charge_point_id,
                        e.session.transaction_id,
                        f"{wh - previous[0]} Wh in {(at - previous[1]).total_seconds():.0f} s:"
                        f" above {rule.threshold} W",
                        {
                            "transaction_id": e.session.transaction_id,
                            "from_wh": str(previous[0]),
                            "to_wh": str(wh),
                            "max_watts": rule.threshold,
                        },
                    )
                )

    def on_session_ended(self, e: SessionEnded) -> None:
        self._registers.pop((e.charge_point_id, e.session.transaction_id), None)
