"""One charger's firmware update in a campaign, as a state machine. Pure: no I/O.

A target moves through the states below, driven by the worker (it sends the update, its
answer, timeouts), by the charger's firmware status notifications (1.6
FirmwareStatusNotification and SignedFirmwareStatusNotification of the security whitepaper;
2.0.1 FirmwareStatusNotification, use cases L01/L02) and by its next BootNotification, which
confirms the update when it reports the target version::

    pending ──send──▶ sending ──Accepted──▶ accepted
                         │                     │ Downloading, DownloadScheduled, DownloadPaused
                         │                     ▼
                         │        download_scheduled / downloading / download_paused
                         │                     │ Downloaded, SignatureVerified, InstallScheduled,
                         │                     ▼ Installing
                         │        downloaded / signature_verified / install_scheduled / installing
                         │                     │ InstallRebooting, Installed
                         │                     ▼
                         │        install_rebooting / installed ──boot with the version──▶ succeeded
                         └── a failure status, a refusal or a timeout: another attempt
                             (pending again, after a delay) or, when none is left, failed

A boot that reports the target version confirms the update from any state after the send
(a charger may skip statuses: L01.FR.23, L01.FR.32 (b)). A status never moves a target
backwards, and one that carries another request id than the update's (L01.FR.10, L02.FR.06)
is someone else's. ``cancelled``, ``succeeded`` and ``failed`` are final; only the operator's
retry-failed takes a failed target back to pending.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

# -- states -----------------------------------------------------------------------------------

PENDING = "pending"
SENDING = "sending"
ACCEPTED = "accepted"
DOWNLOAD_SCHEDULED = "download_scheduled"
DOWNLOADING = "downloading"
DOWNLOAD_PAUSED = "download_paused"
DOWNLOADED = "downloaded"
SIGNATURE_VERIFIED = "signature_verified"
INSTALL_SCHEDULED = "install_scheduled"
INSTALLING = "installing"
INSTALL_REBOOTING = "install_rebooting"
INSTALLED = "installed"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"

# Phases, each with its own timeout (a campaign's ``timeouts``).
ANSWER = "answer"
DOWNLOAD = "download"
INSTALL = "install"
CONFIRM = "confirm"
PHASES = (ANSWER, DOWNLOAD, INSTALL, CONFIRM)

PHASE_OF: dict[str, str] = {
    SENDING: ANSWER,
    ACCEPTED: DOWNLOAD,
    DOWNLOAD_SCHEDULED: DOWNLOAD,
    DOWNLOADING: DOWNLOAD,
    DOWNLOAD_PAUSED: DOWNLOAD,
    DOWNLOADED: INSTALL,
    SIGNATURE_VERIFIED: INSTALL,
    INSTALL_SCHEDULED: INSTALL,
    INSTALLING: INSTALL,
    INSTALL_REBOOTING: CONFIRM,
    INSTALLED: CONFIRM,
}
IN_FLIGHT = frozenset(PHASE_OF)
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
STATES = (PENDING, *PHASE_OF, SUCCEEDED, FAILED, CANCELLED)
# The order of progress: a status never moves a target to an earlier rank.
RANK: dict[str, int] = {state: i for i, state in enumerate(STATES)}

# -- what chargers report ---------------------------------------------------------------------

# FirmwareStatus (1.6 7.25) and FirmwareStatusEnumType (security whitepaper 6.8, 2.0.1 3.33)
# -> the state it puts a target in. Every status of both versions is here.
STATUS_STATES: dict[str, str] = {
    "DownloadScheduled": DOWNLOAD_SCHEDULED,
    "Downloading": DOWNLOADING,
    "DownloadPaused": DOWNLOAD_PAUSED,
    "Downloaded": DOWNLOADED,
    "SignatureVerified": SIGNATURE_VERIFIED,
    "InstallScheduled": INSTALL_SCHEDULED,
    "Installing": INSTALLING,
    "InstallRebooting": INSTALL_REBOOTING,
    "Installed": INSTALLED,
}
# Failure end states: another attempt may help (a download that broke off, an install that
# failed once) ...
RETRYABLE_FAILURES = frozenset(
    {"DownloadFailed", "InstallationFailed", "InstallVerificationFailed"}
)
# ... or it cannot (the file's signature is not the certificate's: L01 step 5).
PERMANENT_FAILURES = frozenset({"InvalidSignature"})
IDLE = "Idle"  # only sent when triggered and no update is going on (1.6 4.5, L01.FR.25)
FIRMWARE_STATUSES = frozenset({*STATUS_STATES, *RETRYABLE_FAILURES, *PERMANENT_FAILURES, IDLE})
# UpdateFirmwareStatusEnumType (2.0.1 3.86; 1.6 SignedUpdateFirmware.conf): the charger took it.
# A 1.6 UpdateFirmware.conf has no status at all: that is an acceptance too.
ACCEPTED_ANSWERS = frozenset({"Accepted", "AcceptedCanceled"})
PERMANENT_REFUSALS = frozenset({"InvalidCertificate", "RevokedCertificate"})


# -- the target -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What the state machine needs of one charger's update (a row of the campaign)."""

    state: str = PENDING
    attempts: int = 0  # updates sent so far, this one included
    request_id: int | None = None
    phase_deadline: datetime | None = None
    not_before: datetime | None = None  # a retry waits until then
    last_status: str | None = None
    failure: str | None = None
    reported_version: str | None = None

    @property
    def phase(self) -> str | None:
        return PHASE_OF.get(self.state)

    @property
    def final(self) -> bool:
        return self.state in FINAL


@dataclass(frozen=True, slots=True)
class Rules:
    """A campaign's rules for its targets."""

    target_version: str
    max_attempts: int = 2
    retry_delay: timedelta = timedelta(minutes=5)
    timeouts: dict[str, float] | None = None  # seconds per phase; DEFAULT_TIMEOUTS fill gaps
    retrieve_at: datetime | None = None
    install_at: datetime | None = None

    def timeout(self, phase: str) -> timedelta:
        seconds = (self.timeouts or {}).get(phase, DEFAULT_TIMEOUTS[phase])
        return timedelta(seconds=seconds)


DEFAULT_TIMEOUTS: dict[str, float] = {
    ANSWER: 120.0,  # the worker's send and the charger's answer
    DOWNLOAD: 3600.0,
    INSTALL: 3600.0,
    CONFIRM: 1800.0,  # from Installed / InstallRebooting to the boot with the new version
}


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """The worker claims a pending target to send it the update with ``request_id``."""

    request_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Answered:
    """The charger answered the update: ``status`` of the answer (None: a 1.6
    UpdateFirmware.conf, which has none), for the update ``request_id``."""

    request_id: int
    status: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class SendFailed:
    """The update did not reach the charger, or it answered with a CALLERROR.

    ``retry``: try again later as another attempt (no answer in time); ``offline``: it was
    never delivered (not connected, its node is failing) and costs no attempt;
    neither: it cannot work (NotImplemented, invalid params)."""

    request_id: int
    reason: str
    at: datetime
    retry: bool = False
    offline: bool = False


@dataclass(frozen=True, slots=True)
class StatusReported:
    """A firmware status notification (``request_id`` None: 1.6 FirmwareStatusNotification,
    which has none, or an Idle)."""

    status: str
    request_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Booted:
    firmware_version: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passes: a phase past its deadline times out."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Cancel:
    at: datetime


@dataclass(frozen=True, slots=True)
class AlreadyAtVersion:
    """The charger runs the target version already: nothing to send."""

    at: datetime


@dataclass(frozen=True, slots=True)
class RetryFailed:
    """The operator asks failed targets to be tried again (attempts start over)."""

    at: datetime


Event = (
    Send
    | Answered
    | SendFailed
    | StatusReported
    | Booted
    | Tick
    | Cancel
    | AlreadyAtVersion
    | RetryFailed
)


@dataclass(frozen=True, slots=True)
class Step:
    """The target after an event; ``changed`` False when the event changes nothing (a
    replayed status, another update's status, a late answer)."""

    target: Target
    changed: bool
    note: str | None = None  # why, for the target's history


def _unchanged(target: Target, note: str | None = None) -> Step:
    return Step(target, False, note)


def _enter(target: Target, state: str, rules: Rules, at: datetime, **changes: object) -> Step:
    """Move to ``state``. A new phase starts its timeout; within a phase the deadline
    stays (the timeout bounds the whole phase), except that a scheduled download or install
    has its phase start at the scheduled time."""
    phase = PHASE_OF.get(state)
    deadline = None
    if phase is not None:
        if phase == target.phase and target.phase_deadline is not None:
            deadline = target.phase_deadline
        else:
            deadline = at + rules.timeout(phase)
        if state == DOWNLOAD_SCHEDULED and rules.retrieve_at is not None:
            deadline = max(deadline, rules.retrieve_at + rules.timeout(phase))
        if state == INSTALL_SCHEDULED and rules.install_at is not None:
            deadline = max(deadline, rules.install_at + rules.timeout(phase))
    updated = replace(target, state=state, phase_deadline=deadline, **changes)  # type: ignore[arg-type]
    return Step(updated, True)


def _fail(target: Target, rules: Rules, at: datetime, reason: str, *, retry: bool) -> Step:
    """One attempt failed: pending again after the retry delay, or failed for good."""
    if retry and target.attempts < rules.max_attempts:
        return Step(
            replace(
                target,
                state=PENDING,
                phase_deadline=None,
                not_before=at + rules.retry_delay,
                failure=reason,
            ),
            True,
            f"attempt {target.attempts} failed: {reason}; trying again",
        )
    return Step(
        replace(target, state=FAILED, phase_deadline=None, not_before=None, failure=reason),
        True,
        reason,
    )


def _same_update(target: Target, request_id: int | None) -> bool:
    return request_id is None or target.request_id is None or request_id == target.request_id


def step(target: Target, event: Event, rules: Rules) -> Step:
    """The target after ``event`` (see the module docstring)."""
    if isinstance(event, RetryFailed):
        if target.state != FAILED:
            return _unchanged(target)
        return Step(
            replace(target, state=PENDING, attempts=0, not_before=None, phase_deadline=None),
            True,
            "retry requested",
        )
    if target.final:
        return _unchanged(target, f"{target.state}: final")
    if isinstance(event, Cancel):
        return Step(
            replace(target, state=CANCELLED, phase_deadline=None, not_before=None),
            True,
            "campaign cancelled",
        )
    if isinstance(event, AlreadyAtVersion):
        if target.state != PENDING:
            return _unchanged(target)
        return Step(
            replace(target, state=SUCCEEDED, reported_version=rules.target_version),
            True,
            f"runs {rules.target_version} already",
        )
    if isinstance(event, Send):
        if target.state != PENDING:
            return _unchanged(target)
        return _enter(
            target,
            SENDING,
            rules,
            event.at,
            request_id=event.request_id,
            attempts=target.attempts + 1,
            not_before=None,
            last_status=None,
        )
    if isinstance(event, Answered):
        if target.state != SENDING or event.request_id != target.request_id:
            return _unchanged(target, "late answer")
        if event.status is None or event.status in ACCEPTED_ANSWERS:
            return _enter(target, ACCEPTED, rules, event.at)
        permanent = event.status in PERMANENT_REFUSALS
        return _fail(target, rules, event.at, f"update {event.status}", retry=not permanent)
    if isinstance(event, SendFailed):
        if target.state != SENDING or event.request_id != target.request_id:
            return _unchanged(target)
        if event.offline:  # never delivered: no attempt spent, waits for the charger
            return Step(
                replace(
                    target,
                    state=PENDING,
                    attempts=max(target.attempts - 1, 0),
                    phase_deadline=None,
                ),
                True,
                event.reason,
            )
        return _fail(target, rules, event.at, event.reason, retry=event.retry)
    if isinstance(event, StatusReported):
        return _status(target, event, rules)
    if isinstance(event, Booted):
        return _booted(target, event, rules)
    if isinstance(event, Tick):
        deadline = target.phase_deadline
        if target.state in IN_FLIGHT and deadline is not None and event.at >= deadline:
            return _fail(target, rules, event.at, f"timeout: {target.phase}", retry=True)
        return _unchanged(target)
    raise TypeError(f"not an event: {event!r}")


def _status(target: Target, event: StatusReported, rules: Rules) -> Step:
    if target.state not in IN_FLIGHT:
        return _unchanged(target, "no update sent")
    if not _same_update(target, event.request_id):
        return _unchanged(target, f"status of another update ({event.request_id})")
    status = event.status
    if status in RETRYABLE_FAILURES or status in PERMANENT_FAILURES:
        failed = replace(target, last_status=status)
        return _fail(failed, rules, event.at, status, retry=status in RETRYABLE_FAILURES)
    if status == IDLE:
        if target.state in (INSTALLED, INSTALL_REBOOTING):
            return _unchanged(target, "idle after the install")  # L01.FR.25
        if target.state in (SENDING, ACCEPTED):
            return _unchanged(target, "idle before it started")
        failed = replace(target, last_status=status)
        return _fail(failed, rules, event.at, "charger idle mid-update", retry=True)
    state = STATUS_STATES.get(status)
    if state is None:
        return _unchanged(target, f"unknown status {status}")
    if RANK[state] < RANK[target.state] or (state == target.state and status == target.last_status):
        return _unchanged(target, f"{status} after {target.state}")
    return _enter(target, state, rules, event.at, last_status=status)


def _booted(target: Target, event: Booted, rules: Rules) -> Step:
    if target.state not in IN_FLIGHT or target.state == SENDING:
        return _unchanged(target)
    version = event.firmware_version
    if version == rules.target_version:
        return Step(
            replace(
                target,
                state=SUCCEEDED,
                phase_deadline=None,
                reported_version=version,
                failure=None,
            ),
            True,
            f"booted with {version}",
        )
    if target.state == INSTALLED:
        # Installed means the new firmware is active (L01.FR.28): it did not come up.
        failed = replace(target, reported_version=version)
        reason = f"booted with {version or 'no version'}, not {rules.target_version}"
        return _fail(failed, rules, event.at, reason, retry=True)
    # a reboot into the installer (InstallRebooting before installing) or an unrelated one
    return _unchanged(target, f"booted with {version} during {target.state}")
