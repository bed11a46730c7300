"""SignCertificate of either version: answer at once, sign after the answer.

The handler answers Accepted once the CSR is checked (A02.FR.11/A03.FR.11) and only then,
after that answer is sent, has the authority sign it and sends CertificateSigned over the
charger's connection like any CSMS-initiated call (one outstanding at a time, with a
timeout). If signing or delivery fails, the charger gets no certificate and asks again
(A02.FR.17-19); the failure is recorded as a charger event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from csms.domain.certificates import CsrFacts
from csms.errors import CommandError
from csms.node.context import Context, Payload
from csms.services.certificates import SigningDecision

NOT_ISSUED = "NotIssued"  # the kind of the charger event when the authority failed
NO_ANSWER = "NoAnswer"  # the delivery status when the charger did not answer

SignedPayload = Callable[[str], Payload]  # certificate chain (PEM) -> CertificateSigned
_RECORDING: set[asyncio.Future[None]] = set()  # answers being recorded (strong references)


async def review(
    ctx: Context, csr_pem: str, certificate_type: str, signed_payload: SignedPayload
) -> SigningDecision:
    """The decision on a SignCertificate; if Accepted, signing and CertificateSigned are
    queued to run once the answer has been sent."""
    decision = await ctx.services.certificates.review(
        ctx.charge_point_id, csr_pem, certificate_type
    )
    csr = decision.csr
    if decision.accepted and csr is not None:
        ctx.after_answer(lambda: _deliver(ctx, csr_pem, certificate_type, csr, signed_payload))
    return decision


async def _deliver(
    ctx: Context,
    csr_pem: str,
    certificate_type: str,
    csr: CsrFacts,
    signed_payload: SignedPayload,
) -> None:
    certificates = ctx.services.certificates
    try:
        issued = await certificates.issue(ctx.charge_point_id, csr_pem, certificate_type, csr)
    except Exception as exc:  # the authority failed, or returned something unusable
        ctx.log.error("no certificate issued: %s: %s", type(exc).__name__, exc)
        await ctx.services.reports.notification(
            ctx.charge_point_id,
            "CertificateSigned",
            {"certificateType": certificate_type, "error": f"{type(exc).__name__}: {exc}"},
            kind=NOT_ISSUED,
        )
        return
    if ctx.outbound is None:
        return
    try:
        answer = await ctx.outbound.call(
            "CertificateSigned", signed_payload(issued.chain), ctx.call_timeout
        )
        status = str(answer.get("status"))
    except CommandError as exc:
        ctx.log.warning(
            "CertificateSigned %s not answered: %s", issued.certificate.serial_number, exc
        )
        status = NO_ANSWER
    # A station that took its certificate may close the connection at once to use it
    # (A02.FR.08), which cancels this work: the answer is recorded regardless.
    recording = asyncio.ensure_future(certificates.delivered(issued.certificate, status))
    _RECORDING.add(recording)
    recording.add_done_callback(_RECORDING.discard)
    await asyncio.shield(recording)


async def drain() -> None:
    """Wait for the answers still being recorded (a node stopping, before its pool closes)."""
    if _RECORDING:
        await asyncio.gather(*_RECORDING, return_exceptions=True)
