"""Firmware campaigns: which chargers, in which waves, when, and when to stop. Pure: no I/O.

A campaign updates the chargers its selector picks (site, vendor, model, current firmware
version, or an explicit list) to one firmware artifact, wave by wave: a canary of N chargers
first, then waves that reach given percentages of the whole set (``10%,50%,100%``). A wave
starts when the one before it has finished (every charger succeeded, failed or was
cancelled); at most ``max_concurrent`` chargers update at once, only inside the maintenance
windows (local time of each charger's site) and, by default, never while a session is
active. A wave whose failures exceed ``max_failure_rate`` of its size halts the campaign
(:func:`plan`); the operator looks, then resumes (that wave's failures are accepted) or
cancels, and may first retry the failed chargers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from csms.domain.firmware import PHASES, Rules, Target
from csms.errors import InvalidInput

# campaign statuses
RUNNING = "running"
PAUSED = "paused"
HALTED = "halted"
CANCELLED = "cancelled"
COMPLETED = "completed"
CAMPAIGN_STATUSES = (RUNNING, PAUSED, HALTED, CANCELLED, COMPLETED)
ACTIVE_STATUSES = frozenset({RUNNING, PAUSED, HALTED})  # its chargers are taken

# when a charger has a session
WAIT = "wait"  # send the update only once its sessions have ended
SCHEDULE = "schedule"  # send it now; the charger installs after them (L01.FR.06, L02.FR.03)
SESSION_POLICIES = (WAIT, SCHEDULE)

SELECTOR_KEYS = ("site", "vendor", "model", "firmware_version", "chargers")
MAX_WAVES = 20
HUNDRED = Decimal(100)


# -- the selector ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selector:
    """Which chargers: every given criterion must hold (an explicit list, when given, is
    also a criterion: only those of the list that match the others)."""

    site: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    chargers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.site or self.vendor or self.model or self.firmware_version or self.chargers):
            raise InvalidInput(
                "target: give at least one of site, vendor, model, firmware_version, chargers"
            )

    def matches(self, charger: CandidateCharger) -> bool:
        return (
            (self.site is None or charger.site_id == self.site)
            and (self.vendor is None or charger.vendor == self.vendor)
            and (self.model is None or charger.model == self.model)
            and (self.firmware_version is None or charger.firmware_version == self.firmware_version)
            and (not self.chargers or charger.charge_point_id in self.chargers)
        )

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            k: getattr(self, k) for k in SELECTOR_KEYS[:4] if getattr(self, k) is not None
        }
        if self.chargers:
            found["chargers"] = list(self.chargers)
        return found


def selector_from(terms: Mapping[str, Any]) -> Selector:
    """A selector from ``{"model": "Y", "chargers": ["CP-1"]}``; unknown keys refused."""
    unknown = sorted(set(terms) - set(SELECTOR_KEYS))
    if unknown:
        raise InvalidInput(
            f"target: unknown key {', '.join(unknown)} (known: {', '.join(SELECTOR_KEYS)})"
        )
    values: dict[str, Any] = {}
    for key in SELECTOR_KEYS[:4]:
        value = terms.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"target: {key} must be a non-empty string")
        values[key] = value.strip()
    chargers = terms.get("chargers")
    if chargers is not None:
        if isinstance(chargers, str):
            chargers = [c for c in chargers.split(",") if c]
        if not isinstance(chargers, list) or not all(isinstance(c, str) for c in chargers):
            raise InvalidInput("target: chargers must be a list of charge point ids")
        values["chargers"] = tuple(dict.fromkeys(c.strip() for c in chargers if c.strip()))
    return Selector(**values)


def parse_target(texts: Iterable[str]) -> Selector:
    """``["model=Y", "site=AMS-1", "chargers=CP-1,CP-2"]`` (the CLI's ``--target``)."""
    terms: dict[str, Any] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not value.strip():
            raise InvalidInput(f"target: {text!r} is not KEY=VALUE")
        if key in terms:
            raise InvalidInput(f"target: {key} given twice")
        terms[key] = value.strip()
    return selector_from(terms)


@dataclass(frozen=True, slots=True)
class CandidateCharger:
    """What the selector and the applicability check look at."""

    charge_point_id: str
    vendor: str | None
    model: str | None
    firmware_version: str | None
    site_id: str | None


# -- waves ------------------------------------------------------------------------------------


def parse_percent(text: str | int | float | Decimal, what: str) -> Decimal:
    """``"5%"``, ``"5"`` or 5 -> Decimal 5 (0..100)."""
    raw = str(text).strip().removesuffix("%").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidInput(f"{what}: {text!r} is not a percentage") from None
    if not value.is_finite() or not 0 <= value <= HUNDRED:
        raise InvalidInput(f"{what}: {text!r} must be between 0% and 100%")
    return value


def parse_waves(texts: Sequence[str | int | float | Decimal]) -> list[Decimal]:
    """Cumulative percentages of the whole set, increasing, ending at 100%."""
    if not texts:
        raise InvalidInput("waves: give at least one percentage (the last must be 100%)")
    if len(texts) > MAX_WAVES:
        raise InvalidInput(f"waves: at most {MAX_WAVES}")
    waves = [parse_percent(t, "waves") for t in texts]
    if any(w <= 0 for w in waves):
        raise InvalidInput("waves: every percentage must be above 0%")
    if any(b <= a for a, b in zip(waves, waves[1:], strict=False)):
        raise InvalidInput("waves: percentages must increase (they are cumulative)")
    if waves[-1] != HUNDRED:
        raise InvalidInput("waves: the last wave must be 100% (every selected charger)")
    return waves


@dataclass(frozen=True, slots=True)
class WavePlan:
    number: int  # 0 is the canary when there is one
    label: str  # "canary", "10%", ...
    size: int


def wave_plan(total: int, canary: int, waves: Sequence[Decimal]) -> list[WavePlan]:
    """Wave sizes for ``total`` chargers: the canary, then each wave up to its cumulative
    percentage of ``total`` (rounded up); a wave the ones before it already cover is left
    out."""
    if canary < 0:
        raise InvalidInput("canary: must not be negative")
    plans: list[WavePlan] = []
    assigned = 0
    if canary:
        size = min(canary, total)
        plans.append(WavePlan(0, "canary", size))
        assigned = size
    for percent in waves:
        reach = min(total, math.ceil(percent * total / HUNDRED))
        if reach > assigned:
            plans.append(WavePlan(len(plans), f"{percent.normalize():f}%", reach - assigned))
            assigned = reach
    return plans


def rollout_order(campaign_key: str, charge_point_ids: Iterable[str]) -> list[str]:
    """The chargers in a stable pseudo-random order (the canary is a sample of the fleet,
    not its first ids)."""

    def key(cp: str) -> bytes:
        return hashlib.sha256(f"{campaign_key}\n{cp}".encode()).digest()

    return sorted(charge_point_ids, key=key)


# -- maintenance windows ----------------------------------------------------------------------

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window of local time; ``start`` > ``end`` crosses midnight (22:00-05:00)."""

    start: time
    end: time | None  # None: 24:00

    def contains(self, moment: time) -> bool:
        end = self.end
        if end is None:
            return moment >= self.start
        if self.start <= end:
            return self.start <= moment < end
        return moment >= self.start or moment < end

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def parse_window(text: str) -> Window:
    found = _WINDOW.match(text.strip())
    if found is None:
        raise InvalidInput(f"windows: {text!r} is not HH:MM-HH:MM (local time of the site)")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h2 == 24 and m2 != 0:
        raise InvalidInput(f"windows: {text!r}: 24:00 is the latest end")
    start, end = time(h1, m1), None if h2 == 24 else time(h2, m2)
    if end == start:
        raise InvalidInput(f"windows: {text!r} is empty")
    return Window(start, end)


def in_windows(windows: Sequence[Window], local: datetime) -> bool:
    """No window: any time."""
    moment = local.time().replace(tzinfo=None)
    return not windows or any(w.contains(moment) for w in windows)


# -- the campaign's rules ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignOptions:
    """Everything an operator chooses besides the selector and the artifact."""

    canary: int = 0
    waves: tuple[Decimal, ...] = (HUNDRED,)
    max_failure_rate: Decimal = Decimal(5)
    max_concurrent: int = 100
    windows: tuple[Window, ...] = ()
    session_policy: str = WAIT
    retrieve_at: datetime | None = None
    install_at: datetime | None = None
    max_attempts: int = 2
    retry_delay: float = 300.0
    timeouts: dict[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if self.canary < 0:
            raise InvalidInput("canary: must not be negative")
        if self.max_concurrent < 1:
            raise InvalidInput("max_concurrent: must be at least 1")
        if self.max_attempts < 1 or self.max_attempts > 10:
            raise InvalidInput("max_attempts: 1 to 10")
        if self.retry_delay < 0:
            raise InvalidInput("retry_delay: must not be negative")
        if self.session_policy not in SESSION_POLICIES:
            raise InvalidInput(f"session_policy: one of {', '.join(SESSION_POLICIES)}")
        if not 0 <= self.max_failure_rate <= HUNDRED:
            raise InvalidInput("max_failure_rate: between 0% and 100%")
        for phase, seconds in self.timeouts.items():
            if phase not in PHASES:
                raise InvalidInput(f"timeouts: unknown phase {phase} (phases: {', '.join(PHASES)})")
            if not isinstance(seconds, int | float) or seconds <= 0:
                raise InvalidInput(f"timeouts: {phase} must be a positive number of seconds")
        for name, value in (("retrieve_at", self.retrieve_at), ("install_at", self.install_at)):
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name}: give a time zone (e.g. 2027-01-10T02:00:00Z)")
        if len(self.name) > 200:
            raise InvalidInput("name: at most 200 characters")


# -- what a tick decides ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaveProgress:
    number: int
    size: int
    pending: int = 0
    in_flight: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    failures_accepted: bool = False  # resumed after it halted: its failures no longer halt

    @property
    def done(self) -> bool:
        return self.pending == 0 and self.in_flight == 0

    def failure_rate(self) -> Decimal:
        return Decimal(self.failed) * HUNDRED / self.size if self.size else Decimal(0)


@dataclass(frozen=True, slots=True)
class Decision:
    halt_wave: int | None = None
    halt_reason: str | None = None
    start_wave: int | None = None
    completed: bool = False


def plan(
    status: str, current_wave: int, waves: Sequence[WaveProgress], max_failure_rate: Decimal
) -> Decision:
    """What a running campaign does next: halt (a started wave's failures exceed the rate),
    start the next wave (the current one is done), or complete (every wave is done)."""
    if status != RUNNING:
        return Decision()
    started = [w for w in waves if w.number <= current_wave]
    for wave in started:
        if not wave.failures_accepted and wave.failure_rate() > max_failure_rate:
            return Decision(
                halt_wave=wave.number,
                halt_reason=(
                    f"wave {wave.number}: {wave.failed} of {wave.size} chargers failed "
                    f"({wave.failure_rate():.1f}% > {max_failure_rate.normalize():f}%)"
                ),
            )
    if all(w.done for w in started):
        later = [w.number for w in waves if w.number > current_wave]
        if later:
            return Decision(start_wave=min(later))
        return Decision(completed=True)
    return Decision()


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewArtifact:
    """An artifact to store; ``sha256`` the operator expects (None: not given)."""

    version: str
    file_name: str
    vendor: str | None = None
    model: str | None = None
    sha256: str | None = None
    signature: str | None = None
    signing_certificate: str | None = None
    description: str = ""
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class Artifact:
    id: int
    version: str
    vendor: str | None
    model: str | None
    file_name: str
    size_bytes: int
    sha256: str
    signature: str | None
    signing_certificate: str | None
    storage: str  # large_object / directory
    description: str
    created_by: str | None
    created_at: datetime

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def applies_to(self, charger: CandidateCharger) -> bool:
        return (self.vendor is None or charger.vendor == self.vendor) and (
            self.model is None or charger.model == self.model
        )

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "vendor": self.vendor,
            "model": self.model,
            "file_name": self.file_name,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "signed": self.signed,
            "storage": self.storage,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    artifact_id: int
    target_version: str
    signed: bool
    status: str
    selector: dict[str, Any]
    options: CampaignOptions
    current_wave: int
    halted_reason: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Wave:
    number: int
    label: str
    size: int
    failures_accepted: bool
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class CampaignEvent:
    id: int
    campaign_id: int
    charge_point_id: str | None
    at: datetime
    kind: str
    state: str | None
    detail: str | None
    actor: str | None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One charger of a campaign: its state machine's ``target`` and where it stands."""

    campaign_id: int
    charge_point_id: str
    wave: int
    position: int
    target: Target
    revision: int  # changes with every update (optimistic concurrency)
    from_version: str | None
    waiting: str | None  # why a pending charger was not sent the update yet
    sent_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None


def rules_of(campaign: Campaign) -> Rules:
    """The state machine's rules of a campaign."""
    options = campaign.options
    return Rules(
        target_version=campaign.target_version,
        max_attempts=options.max_attempts,
        retry_delay=timedelta(seconds=options.retry_delay),
        timeouts=dict(options.timeouts),
        retrieve_at=options.retrieve_at,
        install_at=options.install_at,
    )


@dataclass(frozen=True, slots=True)
class NewTarget:
    charge_point_id: str
    wave: int
    position: int
    from_version: str | None


@dataclass(frozen=True, slots=True)
class Dispatchable:
    """A pending target with what decides whether to send it the update now."""

    row: TargetRow
    connected_protocol: str | None
    firmware_version: str | None
    time_zone: str | None
    in_session: bool


@dataclass(frozen=True, slots=True)
class ChargerUpdate:
    """One charger's update in one campaign, as its firmware history shows it."""

    campaign_id: int
    campaign_name: str
    campaign_status: str
    artifact_id: int
    version: str
    state: str
    last_status: str | None
    failure: str | None
    attempts: int
    from_version: str | None
    reported_version: str | None
    sent_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
