"""A. Security and M. ISO 15118 certificate management, charger-initiated messages.

SignCertificate goes to the CSMS's certificate authority (``certificate_signing``). There is
no OCSP client nor contract certificate pool: those requests are kept for the operator and
answered with the status the requirement prescribes for a CSMS that cannot process them,
with a statusInfo that says why.
"""

from __future__ import annotations

from csms.domain.clock import parse_timestamp
from csms.node import certificate_signing
from csms.node.context import Context, Payload
from csms.node.v201.convert import status_info
from csms.node.v201.events import remember

_NO_PKI = "UnsupportedRequest"
DEFAULT_CERTIFICATE_TYPE = "ChargingStationCertificate"


async def security_event_notification(ctx: Context, payload: Payload) -> Payload:
    # A04.FR.03: confirm receipt. Kept for the operator (the station queues them with
    # guaranteed delivery, A04.FR.02, so each one matters).
    ctx.log.warning("security event %s", payload["type"])
    await ctx.services.reports.security_event(
        ctx.charge_point_id,
        payload,
        type_=payload["type"],
        occurred_at=parse_timestamp(payload["timestamp"]),
        tech_info=payload.get("techInfo"),
    )
    return {}


async def sign_certificate(ctx: Context, payload: Payload) -> Payload:
    certificate_type = payload.get("certificateType", DEFAULT_CERTIFICATE_TYPE)

    def signed(chain: str) -> Payload:
        # A02.FR.14/A03.FR.14: the type the station asked for
        return {"certificateChain": chain, "certificateType": certificate_type}

    # A02/A03: checked now; signed and sent with CertificateSigned after this answer
    decision = await certificate_signing.review(ctx, payload["csr"], certificate_type, signed)
    if decision.accepted:
        return {"status": "Accepted"}  # A02.FR.11 / A03.FR.11
    # A02.FR.12 / A03.FR.12: not able to process the request -> Rejected, and why
    return {
        "status": "Rejected",
        "statusInfo": status_info(decision.reason_code or _NO_PKI, decision.reason or ""),
    }


async def get_15118_ev_certificate(ctx: Context, payload: Payload) -> Payload:
    await remember(ctx, "Get15118EVCertificate", payload, kind=payload["action"])
    # M01.FR.01 / M02.FR.01 expect us to forward the EXI request to a contract certificate
    # pool; we have none. Iso15118EVCertificateStatusEnumType: Failed = "processing of the
    # message was not successful, no exiResponse included". The schema still requires the
    # field, so it is sent empty.
    return {
        "status": "Failed",
        "exiResponse": "",
        "statusInfo": status_info(
            _NO_PKI, "This CSMS is not connected to a contract certificate pool."
        ),
    }


async def get_certificate_status(ctx: Context, payload: Payload) -> Payload:
    request = payload["ocspRequestData"]
    await remember(ctx, "GetCertificateStatus", payload, kind=request["serialNumber"])
    # M06.FR.04: not successful in retrieving the OCSP status -> Failed (no ocspResult).
    return {
        "status": "Failed",
        "statusInfo": status_info(_NO_PKI, "This CSMS has no OCSP client yet."),
    }
