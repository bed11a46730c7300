"""The per-charger firmware update state machine (csms.domain.firmware), every state against
every event: OCPP 1.6 FirmwareStatusNotification / UpdateFirmware (sections 4.5, 5.19, 7.25),
the 1.6 security whitepaper's SignedFirmwareStatusNotification (L01, 6.8) and 2.0.1 L01/L02
with FirmwareStatusEnumType (3.33)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from csms.domain import firmware as fw
from csms.domain.firmware import (
    AlreadyAtVersion,
    Answered,
    Booted,
    Cancel,
    RetryFailed,
    Rules,
    Send,
    SendFailed,
    StatusReported,
    Target,
    Tick,
    step,
)

T0 = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
RULES = Rules(target_version="2.3.1", max_attempts=2, retry_delay=timedelta(minutes=5))
REQUEST = 77

# every status either version can send
V16_STATUSES = (
    "Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed", "Installing",
    "Installed",
)  # fmt: skip
SECURITY_STATUSES = (
    *V16_STATUSES, "DownloadScheduled", "DownloadPaused", "InstallRebooting", "InstallScheduled",
    "InstallVerificationFailed", "InvalidSignature", "SignatureVerified",
)  # fmt: skip


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sent(attempts: int = 0) -> Target:
    return step(Target(attempts=attempts), Send(REQUEST, T0), RULES).target


def in_state(state: str) -> Target:
    """A target in ``state`` for update REQUEST (as the machine leaves it there)."""
    if state == fw.PENDING:
        return Target()
    if state in fw.FINAL:
        return Target(state=state, attempts=1, request_id=REQUEST)
    target = sent()
    if state == fw.SENDING:
        return target
    target = step(target, Answered(REQUEST, "Accepted", at(1)), RULES).target
    if state == fw.ACCEPTED:
        return target
    status = {v: k for k, v in fw.STATUS_STATES.items()}[state]
    return step(target, StatusReported(status, REQUEST, at(2)), RULES).target


def test_every_status_of_both_versions_is_known() -> None:
    assert set(SECURITY_STATUSES) == fw.FIRMWARE_STATUSES
    assert set(V16_STATUSES) <= fw.FIRMWARE_STATUSES


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_happy_path_of_each_version(version: str) -> None:
    """1.6 (5.19): Downloading, Downloaded, Installing, Installed, then the reboot; 2.0.1 L01
    (signed): Downloading, Downloaded, SignatureVerified, Installing, InstallRebooting, the
    boot with the new firmware, then Installed from the new image (L01.FR.32 (a))."""
    target = sent()
    assert target.state == fw.SENDING and target.attempts == 1 and target.request_id == REQUEST
    answer = None if version == "1.6" else "Accepted"  # 1.6 UpdateFirmware.conf is empty
    target = step(target, Answered(REQUEST, answer, at(1)), RULES).target
    assert target.state == fw.ACCEPTED
    request_id = None if version == "1.6" else REQUEST  # 1.6 statuses have no requestId
    statuses = (
        ["Downloading", "Downloaded", "Installing", "Installed"]
        if version == "1.6"
        else ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    )
    for i, status in enumerate(statuses):
        result = step(target, StatusReported(status, request_id, at(2 + i)), RULES)
        assert result.changed, status
        target = result.target
        assert target.state == fw.STATUS_STATES[status]
        assert target.last_status == status
    final = step(target, Booted("2.3.1", at(20)), RULES)
    assert final.target.state == fw.SUCCEEDED and final.target.reported_version == "2.3.1"
    late = step(final.target, StatusReported("Installed", request_id, at(21)), RULES)
    assert not late.changed and late.target.state == fw.SUCCEEDED


def test_a_status_can_arrive_before_the_worker_records_the_answer() -> None:
    """The charger answers, then notifies at once: Downloading may be stored before the
    worker stores Accepted; the late answer changes nothing."""
    target = step(sent(), StatusReported("Downloading", REQUEST, at(0.1)), RULES).target
    assert target.state == fw.DOWNLOADING
    late = step(target, Answered(REQUEST, "Accepted", at(0.2)), RULES)
    assert not late.changed and late.target.state == fw.DOWNLOADING


def test_statuses_of_another_update_are_ignored() -> None:
    """L01.FR.10 / L02.FR.06: every status of an update carries its requestId."""
    target = in_state(fw.DOWNLOADING)
    result = step(target, StatusReported("DownloadFailed", REQUEST + 1, at(3)), RULES)
    assert not result.changed and result.target == target
    assert step(target, StatusReported("Downloaded", REQUEST, at(3)), RULES).changed


def test_a_status_never_moves_a_target_backwards_or_repeats() -> None:
    target = in_state(fw.INSTALLING)
    for status in ("Downloading", "Downloaded", "DownloadScheduled", "Installing"):
        assert not step(target, StatusReported(status, REQUEST, at(5)), RULES).changed


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("DownloadScheduled", fw.DOWNLOAD),
        ("Downloading", fw.DOWNLOAD),
        ("DownloadPaused", fw.DOWNLOAD),
        ("Downloaded", fw.INSTALL),
        ("SignatureVerified", fw.INSTALL),
        ("InstallScheduled", fw.INSTALL),
        ("Installing", fw.INSTALL),
        ("InstallRebooting", fw.CONFIRM),
        ("Installed", fw.CONFIRM),
    ],
)
def test_each_progress_status_puts_the_target_in_its_phase(status: str, phase: str) -> None:
    target = step(in_state(fw.ACCEPTED), StatusReported(status, REQUEST, at(2)), RULES).target
    assert target.phase == phase
    assert target.phase_deadline is not None


@pytest.mark.parametrize("status", sorted(fw.RETRYABLE_FAILURES))
def test_a_failure_status_is_retried_then_fails(status: str) -> None:
    first = step(in_state(fw.DOWNLOADING), StatusReported(status, REQUEST, at(3)), RULES)
    assert first.target.state == fw.PENDING
    assert first.target.failure == status
    assert first.target.not_before == at(3) + RULES.retry_delay
    assert first.target.attempts == 1
    again = step(first.target, Send(REQUEST + 1, at(9)), RULES).target
    assert again.attempts == 2 and again.state == fw.SENDING and again.request_id == REQUEST + 1
    downloading = step(again, StatusReported("Downloading", REQUEST + 1, at(10)), RULES).target
    last = step(downloading, StatusReported(status, REQUEST + 1, at(11)), RULES)
    assert last.target.state == fw.FAILED and last.target.failure == status


def test_an_invalid_signature_is_not_retried() -> None:
    """L01 step 5: the firmware's signature does not verify; another try cannot help."""
    invalid = StatusReported("InvalidSignature", REQUEST, at(3))
    result = step(in_state(fw.DOWNLOADED), invalid, RULES)
    assert result.target.state == fw.FAILED and result.target.failure == "InvalidSignature"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ("Accepted", fw.ACCEPTED),
        ("AcceptedCanceled", fw.ACCEPTED),  # L01.FR.24: it cancelled an older update
        (None, fw.ACCEPTED),  # 1.6 UpdateFirmware.conf has no field
        ("Rejected", fw.PENDING),  # maybe busy: another attempt later
        ("InvalidCertificate", fw.FAILED),  # L01.FR.22
        ("RevokedCertificate", fw.FAILED),
    ],
)
def test_answers(answer: str | None, state: str) -> None:
    assert step(sent(), Answered(REQUEST, answer, at(1)), RULES).target.state == state


def test_an_answer_to_an_older_update_is_ignored() -> None:
    assert not step(sent(), Answered(REQUEST - 1, "Rejected", at(1)), RULES).changed


def test_an_update_never_delivered_costs_no_attempt() -> None:
    result = step(sent(), SendFailed(REQUEST, "not connected", at(1), offline=True), RULES)
    assert result.target.state == fw.PENDING and result.target.attempts == 0


def test_a_charger_that_cannot_do_the_update_fails_for_good() -> None:
    reason = "CALLERROR NotImplemented: SignedUpdateFirmware"
    result = step(sent(), SendFailed(REQUEST, reason, at(1)), RULES)
    assert result.target.state == fw.FAILED and result.target.failure == reason


def test_no_answer_in_time_is_another_attempt() -> None:
    result = step(sent(), SendFailed(REQUEST, "no answer", at(1), retry=True), RULES)
    assert result.target.state == fw.PENDING and result.target.attempts == 1


@pytest.mark.parametrize("state", sorted(fw.IN_FLIGHT))
def test_every_phase_times_out(state: str) -> None:
    target = in_state(state)
    assert target.phase_deadline is not None
    before = step(target, Tick(target.phase_deadline - timedelta(seconds=1)), RULES)
    assert not before.changed
    after = step(target, Tick(target.phase_deadline), RULES)
    assert after.target.state == fw.PENDING
    assert after.target.failure == f"timeout: {fw.PHASE_OF[state]}"


def test_a_phase_deadline_bounds_the_whole_phase() -> None:
    rules = Rules(target_version="2.3.1", timeouts={fw.DOWNLOAD: 600})
    target = step(sent(), Answered(REQUEST, "Accepted", at(0)), rules).target
    assert target.phase_deadline == at(10)
    paused = step(target, StatusReported("DownloadPaused", REQUEST, at(5)), rules).target
    assert paused.phase_deadline == at(10)
    downloaded = step(paused, StatusReported("Downloaded", REQUEST, at(8)), rules).target
    assert downloaded.phase_deadline == at(8) + rules.timeout(fw.INSTALL)


def test_scheduled_phases_start_at_the_scheduled_time() -> None:
    """L01.FR.13/16: DownloadScheduled (retrieveDateTime in the future), InstallScheduled."""
    rules = Rules(
        target_version="2.3.1",
        retrieve_at=at(120),
        install_at=at(240),
        timeouts={fw.DOWNLOAD: 600, fw.INSTALL: 600},
    )
    target = step(sent(), Answered(REQUEST, "Accepted", at(0)), rules).target
    scheduled = step(target, StatusReported("DownloadScheduled", REQUEST, at(1)), rules).target
    assert scheduled.phase_deadline == at(130)
    installing = step(scheduled, StatusReported("Downloaded", REQUEST, at(125)), rules).target
    later = step(installing, StatusReported("InstallScheduled", REQUEST, at(126)), rules).target
    assert later.phase_deadline == at(250)


def test_a_boot_with_the_target_version_confirms_from_any_state_after_the_send() -> None:
    for state in sorted(fw.IN_FLIGHT - {fw.SENDING}):
        result = step(in_state(state), Booted("2.3.1", at(30)), RULES)
        assert result.target.state == fw.SUCCEEDED, state


def test_a_boot_with_another_version_after_installed_is_a_failed_attempt() -> None:
    result = step(in_state(fw.INSTALLED), Booted("1.0.0", at(30)), RULES)
    assert result.target.state == fw.PENDING
    assert result.target.failure == "booted with 1.0.0, not 2.3.1"


def test_a_boot_into_the_installer_changes_nothing() -> None:
    """InstallRebooting before installing (3.33): the charger reboots to install."""
    for state in (fw.INSTALL_REBOOTING, fw.DOWNLOADING, fw.INSTALLING):
        assert not step(in_state(state), Booted("1.0.0", at(30)), RULES).changed


def test_idle() -> None:
    """Idle is only sent when triggered with no update going on (1.6 4.5; L01.FR.25 after
    Installed)."""
    assert not step(in_state(fw.INSTALLED), StatusReported("Idle", None, at(9)), RULES).changed
    assert not step(in_state(fw.ACCEPTED), StatusReported("Idle", None, at(9)), RULES).changed
    mid = step(in_state(fw.DOWNLOADING), StatusReported("Idle", None, at(9)), RULES)
    assert mid.target.state == fw.PENDING and mid.target.failure == "charger idle mid-update"


def test_pending_targets_ignore_statuses_and_boots() -> None:
    for status in SECURITY_STATUSES:
        assert not step(Target(), StatusReported(status, None, at(1)), RULES).changed
    assert not step(Target(), Booted("2.3.1", at(1)), RULES).changed


def test_already_at_version() -> None:
    assert step(Target(), AlreadyAtVersion(at(0)), RULES).target.state == fw.SUCCEEDED
    assert not step(sent(), AlreadyAtVersion(at(0)), RULES).changed


def test_cancel_and_retry_failed() -> None:
    for state in (fw.PENDING, *sorted(fw.IN_FLIGHT)):
        assert step(in_state(state), Cancel(at(1)), RULES).target.state == fw.CANCELLED
    failed = Target(state=fw.FAILED, attempts=2, failure="DownloadFailed", request_id=REQUEST)
    retried = step(failed, RetryFailed(at(2)), RULES).target
    assert retried.state == fw.PENDING and retried.attempts == 0
    for state in (fw.SUCCEEDED, fw.CANCELLED, fw.PENDING, fw.DOWNLOADING):
        assert not step(in_state(state), RetryFailed(at(2)), RULES).changed


def events(request_id: int) -> list[fw.Event]:
    found: list[fw.Event] = [
        Send(request_id, at(1)),
        Answered(request_id, "Accepted", at(1)),
        Answered(request_id, "Rejected", at(1)),
        Answered(request_id, None, at(1)),
        SendFailed(request_id, "x", at(1)),
        SendFailed(request_id, "x", at(1), retry=True),
        SendFailed(request_id, "x", at(1), offline=True),
        Booted("2.3.1", at(1)),
        Booted("1.0.0", at(1)),
        Tick(at(10_000)),
        Tick(at(1)),
        Cancel(at(1)),
        AlreadyAtVersion(at(1)),
        RetryFailed(at(1)),
    ]
    for status in SECURITY_STATUSES:
        found.append(StatusReported(status, request_id, at(1)))
        found.append(StatusReported(status, None, at(1)))
    return found


@pytest.mark.parametrize("state", fw.STATES)
def test_every_state_against_every_event(state: str) -> None:
    """Invariants over the whole table: final states stay (but retry-failed), attempts never
    pass max_attempts, a status moves a target forward or out of flight, an unchanged step
    returns the same target, and every in-flight state has a deadline."""
    target = in_state(state)
    for event, request_id in itertools.product(events(REQUEST), (REQUEST,)):
        result = step(target, event, RULES)
        new = result.target
        assert request_id == REQUEST
        if not result.changed:
            assert new == target, (state, event)
            continue
        if target.final:
            assert isinstance(event, RetryFailed) and target.state == fw.FAILED
        assert new.attempts <= RULES.max_attempts
        if new.state in fw.IN_FLIGHT:
            assert new.phase_deadline is not None, (state, event)
        else:
            assert new.phase_deadline is None, (state, event)
        if isinstance(event, StatusReported) and new.state in fw.IN_FLIGHT:
            assert fw.RANK[new.state] >= fw.RANK[target.state], (state, event)
        if new.state == fw.SUCCEEDED:
            assert new.reported_version == "2.3.1"
