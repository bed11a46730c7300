"""Payments without I/O: transitions, what a provider's report does, retries, refund limits,
money on the wire, and webhook signatures (replayed, tampered, stale)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.domain import ledger
from csms.domain.payments import (
    CANCELED,
    CARD,
    FAILED,
    INTENT_CANCELED,
    INTENT_CAPTURABLE,
    INTENT_FAILED,
    INTENT_SUCCEEDED,
    INTENT_WAITING,
    INVOICE,
    MANUAL,
    PENDING,
    REFUND,
    REFUND_FAILED,
    REFUND_SUCCEEDED,
    STATUSES,
    SUCCEEDED,
    TOPUP,
    WRITTEN_OFF,
    InvalidTransition,
    Payment,
    ProviderPayment,
    ProviderRefund,
    RetryPolicy,
    can_transition,
    check_idempotency_key,
    check_refund,
    entry_for,
    from_minor_units,
    on_refund_report,
    on_report,
    retry_delay,
    retry_schedule,
    signature,
    signature_header,
    succeed,
    to_minor_units,
    verify_signature,
    write_off,
)
from csms.errors import InvalidInput, WebhookRejected

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, first_delay=60, max_delay=600, check_after=30)
SECRET = "whsec_test"


def payment(**changes: object) -> Payment:
    base = Payment(
        id=7,
        account_id=3,
        provider=CARD,
        kind=INVOICE,
        amount=Decimal("12.34"),
        currency="EUR",
        status=PENDING,
        idempotency_key="pay:k",
        provider_ref="pi_1",
        invoice_id=None,
        refund_of=None,
        failure="",
        attempts=1,
        next_attempt_at=NOW + timedelta(seconds=30),
        created_by="alice",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def report(status: str, **changes: object) -> ProviderPayment:
    base = ProviderPayment("pi_1", status, Decimal("12.34"), "EUR", payment_id=7, attempt=1)
    return replace(base, **changes)  # type: ignore[arg-type]


# -- transitions ------------------------------------------------------------------------------


def test_the_transitions() -> None:
    allowed = {(a, b) for a in STATUSES for b in STATUSES if can_transition(a, b)}
    assert allowed == {
        (PENDING, SUCCEEDED),
        (PENDING, FAILED),
        (PENDING, CANCELED),
        (FAILED, SUCCEEDED),  # money that arrives late still counts
        (FAILED, WRITTEN_OFF),
    }


def test_a_succeeded_payment_succeeds_once_and_posts_its_entry_once() -> None:
    first = on_report(payment(), report(INTENT_SUCCEEDED), prepaid=False, now=NOW, policy=POLICY)
    assert first.outcome == SUCCEEDED and first.payment is not None
    assert first.payment.status == SUCCEEDED and first.payment.next_attempt_at is None
    assert first.entry is not None and first.entry.idempotency_key == "payment:7"
    again = on_report(
        first.payment, report(INTENT_SUCCEEDED), prepaid=False, now=NOW, policy=POLICY
    )
    assert again.payment is None and again.entry is None and again.outcome == "already_succeeded"


def test_a_report_for_another_amount_or_currency_changes_nothing() -> None:
    short = report(INTENT_SUCCEEDED, amount_received=Decimal("1.00"))
    assert on_report(payment(), short, prepaid=False, now=NOW, policy=POLICY).payment is None
    other = report(INTENT_SUCCEEDED, currency="USD")
    decision = on_report(payment(), other, prepaid=False, now=NOW, policy=POLICY)
    assert decision.payment is None and decision.outcome.startswith("mismatch")


def test_a_written_off_or_canceled_payment_does_not_succeed() -> None:
    for status in (WRITTEN_OFF, CANCELED):
        decision = on_report(
            payment(status=status), report(INTENT_SUCCEEDED), prepaid=False, now=NOW, policy=POLICY
        )
        assert decision.payment is None and decision.entry is None


def test_an_authorized_payment_is_captured_a_waiting_one_left_alone() -> None:
    assert (
        on_report(
            payment(), report(INTENT_CAPTURABLE), prepaid=True, now=NOW, policy=POLICY
        ).outcome
        == "capture"
    )
    waiting = on_report(payment(), report(INTENT_WAITING), prepaid=True, now=NOW, policy=POLICY)
    assert waiting.payment is None


def test_a_declined_receivable_is_retried_with_backoff_then_fails() -> None:
    declined = report(INTENT_FAILED, failure="Your card was declined.")
    first = on_report(payment(), declined, prepaid=False, now=NOW, policy=POLICY)
    assert first.outcome == "retry_scheduled" and first.payment is not None
    assert first.payment.status == PENDING
    assert first.payment.next_attempt_at == NOW + timedelta(seconds=60)
    assert first.payment.failure == "Your card was declined."
    # the same failure reported again (the answer, then the webhook): nothing more
    again = on_report(first.payment, declined, prepaid=False, now=NOW, policy=POLICY)
    assert again.payment is None and again.outcome == "already_failed"
    # attempt 2 (started: failure cleared) fails: the next wait doubles
    second = on_report(
        payment(attempts=2), replace(declined, attempt=2), prepaid=False, now=NOW, policy=POLICY
    )
    assert second.payment is not None
    assert second.payment.next_attempt_at == NOW + timedelta(seconds=120)
    # a late report about attempt 1 while attempt 2 runs changes nothing
    stale = on_report(payment(attempts=2), declined, prepaid=False, now=NOW, policy=POLICY)
    assert stale.payment is None and stale.outcome.startswith("stale")
    # the last attempt fails: the payment failed
    last = on_report(
        payment(attempts=3), replace(declined, attempt=3), prepaid=False, now=NOW, policy=POLICY
    )
    assert last.payment is not None and last.payment.status == FAILED
    assert last.payment.next_attempt_at is None


def test_a_declined_topup_is_not_retried() -> None:
    decision = on_report(
        payment(kind=TOPUP), report(INTENT_FAILED), prepaid=True, now=NOW, policy=POLICY
    )
    assert decision.payment is not None and decision.payment.status == FAILED


def test_a_failed_payment_that_is_paid_after_all_succeeds() -> None:
    decision = on_report(
        payment(status=FAILED, failure="declined"),
        report(INTENT_SUCCEEDED),
        prepaid=False,
        now=NOW,
        policy=POLICY,
    )
    assert decision.payment is not None and decision.payment.status == SUCCEEDED
    assert decision.entry is not None


def test_a_canceled_intent_cancels_the_pending_payment() -> None:
    decision = on_report(payment(), report(INTENT_CANCELED), prepaid=True, now=NOW, policy=POLICY)
    assert decision.payment is not None and decision.payment.status == CANCELED


@pytest.mark.parametrize(
    ("attempt", "seconds"), [(1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (60, 600)]
)
def test_the_backoff_doubles_up_to_the_most(attempt: int, seconds: int) -> None:
    assert retry_delay(attempt, POLICY) == timedelta(seconds=seconds)


def test_the_retry_schedule_has_a_wait_between_attempts() -> None:
    assert retry_schedule(POLICY) == [timedelta(seconds=60), timedelta(seconds=120)]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# -- entries, refunds, write-offs -------------------------------------------------------------


def test_each_kind_posts_its_movement() -> None:
    topup = entry_for(payment(kind=TOPUP, provider=MANUAL), prepaid=True, memo="cash", by="bob")
    assert topup.kind == ledger.TOPUP and topup.memo == "top-up: cash" and topup.created_by == "bob"
    assert ledger.balance(topup.postings, ledger.wallet(3), "EUR") == Decimal("-12.34")
    paid = entry_for(payment(), prepaid=False)
    assert ledger.balance(paid.postings, ledger.receivable(3), "EUR") == Decimal("-12.34")
    assert ledger.balance(paid.postings, ledger.clearing(CARD), "EUR") == Decimal("12.34")
    refund = entry_for(payment(kind=REFUND, id=8), prepaid=True)
    assert refund.idempotency_key == "payment:8"
    assert ledger.balance(refund.postings, ledger.wallet(3), "EUR") == Decimal("12.34")


def test_refunds_never_exceed_what_was_paid() -> None:
    paid = payment(status=SUCCEEDED)
    check_refund(paid, Decimal("12.34"), Decimal(0))
    check_refund(paid, Decimal("2.34"), Decimal("10.00"))
    with pytest.raises(InvalidInput, match=r"^amount: at most 2.34 EUR"):
        check_refund(paid, Decimal("2.35"), Decimal("10.00"))
    with pytest.raises(InvalidInput, match="only a succeeded payment"):
        check_refund(payment(), Decimal(1), Decimal(0))
    with pytest.raises(InvalidInput, match="is a refund"):
        check_refund(payment(kind=REFUND, status=SUCCEEDED), Decimal(1), Decimal(0))


def test_a_refund_report() -> None:
    refund = payment(kind=REFUND, id=9, refund_of=7, provider_ref=None)
    done = ProviderRefund("re_1", REFUND_SUCCEEDED, Decimal("12.34"), "EUR", 9, memo="broken")
    decision = on_refund_report(refund, done, prepaid=False, now=NOW)
    assert decision.payment is not None and decision.payment.status == SUCCEEDED
    assert decision.entry is not None and decision.entry.memo == "refund: broken"
    failed = replace(done, status=REFUND_FAILED, failure="expired card")
    decision = on_refund_report(refund, failed, prepaid=False, now=NOW)
    assert decision.payment is not None and decision.payment.status == FAILED


def test_only_a_failed_receivable_is_written_off() -> None:
    decision = write_off(payment(status=FAILED), reason="gone abroad", by="carol", now=NOW)
    assert decision.payment is not None and decision.payment.status == WRITTEN_OFF
    assert decision.entry is not None
    assert (decision.entry.memo, decision.entry.created_by) == ("gone abroad", "carol")
    assert decision.entry.payment_id == 7
    assert ledger.balance(decision.entry.postings, ledger.WRITE_OFF, "EUR") == Decimal("12.34")
    with pytest.raises(InvalidTransition):
        write_off(payment(status=SUCCEEDED), reason="x", by="carol", now=NOW)
    with pytest.raises(InvalidInput, match="topup"):
        write_off(payment(status=FAILED, kind=TOPUP), reason="x", by="carol", now=NOW)


def test_succeed_records_who_asked() -> None:
    decision = succeed(payment(kind=TOPUP), "ref", prepaid=True, now=NOW)
    assert decision.entry is not None and decision.entry.created_by == "alice"


# -- the wire ---------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_minor_units_round_trip(value: int, currency: str) -> None:
    assert to_minor_units(from_minor_units(value, currency), currency) == value


def test_minor_units() -> None:
    assert to_minor_units(Decimal("12.34"), "EUR") == 1234
    assert to_minor_units(Decimal("500"), "JPY") == 500
    with pytest.raises(InvalidInput):
        to_minor_units(Decimal("1.005"), "EUR")


def test_idempotency_keys() -> None:
    assert check_idempotency_key("order-42") == "order-42"
    for bad in ("", "x" * 101, "tab\there", "é"):
        with pytest.raises(InvalidInput, match="Idempotency-Key"):
            check_idempotency_key(bad)


# -- signatures -------------------------------------------------------------------------------

BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
T = 1_800_000_000


def test_a_signed_payload_is_accepted_within_the_tolerance() -> None:
    header = signature_header(BODY, SECRET, T)
    assert header == f"t={T},v1={signature(BODY, SECRET, T)}"
    assert verify_signature(BODY, header, [SECRET], now=T + 299, tolerance=300) == T
    assert verify_signature(BODY, header, [SECRET], now=T - 299, tolerance=300) == T
    # while a secret is rolled over, either one verifies
    assert verify_signature(BODY, header, ["whsec_new", SECRET], now=T, tolerance=300) == T


def test_a_stale_signature_is_rejected() -> None:
    header = signature_header(BODY, SECRET, T)
    with pytest.raises(WebhookRejected, match="tolerance"):
        verify_signature(BODY, header, [SECRET], now=T + 301, tolerance=300)


@pytest.mark.parametrize(
    ("body", "header", "match"),
    [
        (BODY.replace(b"succeeded", b"failed"), None, "does not match"),  # tampered
        (BODY, f"t={T + 1},v1={signature(BODY, SECRET, T)}", "does not match"),  # other time
        (BODY, f"t={T},v1={signature(BODY, 'whsec_other', T)}", "does not match"),
        (BODY, f"t={T},v0={signature(BODY, SECRET, T)}", "no v1"),
        (BODY, f"v1={signature(BODY, SECRET, T)}", "no timestamp"),
        (BODY, "t=soon,v1=ab", "not a number"),
        (BODY, "", "no signature header"),
    ],
)
def test_a_tampered_or_malformed_signature_is_rejected(
    body: bytes, header: str | None, match: str
) -> None:
    if header is None:
        header = signature_header(BODY, SECRET, T)
    with pytest.raises(WebhookRejected, match=match):
        verify_signature(body, header, [SECRET], now=T, tolerance=300)


def test_several_signatures_one_of_which_is_good() -> None:
    good = signature(BODY, SECRET, T)
    header = f"t={T},v1={'0' * 64},v1={good}"
    assert verify_signature(BODY, header, [SECRET], now=T, tolerance=300) == T
