"""C. Authorization: Authorize."""

from __future__ import annotations

from csms.domain.id_tokens import Authorization, TokenStatus
from csms.node.context import Context, Payload
from csms.node.v201.convert import id_token_info, token_ref
from csms.node.v201.tariff_cost import token_info


async def authorize(ctx: Context, payload: Payload) -> Payload:
    token = token_ref(payload["idToken"])
    authorization = await ctx.services.sessions.authorize(token)
    if "certificate" in payload or "iso15118CertificateHashData" in payload:
        # Plug & Charge: C07.FR.05 asks us to verify the contract certificate chain (OCSP).
        # We have no PKI yet, so the chain "cannot be verified": C07.FR.17 prescribes
        # certificateStatus CertChainError with idTokenInfo.status Invalid. (Revoked or
        # Expired would claim knowledge we do not have; Accepted would skip the check.)
        ctx.log.info("Authorize with a contract certificate: no PKI, CertChainError")
        return {
            "idTokenInfo": id_token_info(Authorization(TokenStatus.INVALID)),
            "certificateStatus": "CertChainError",
        }
    return {"idTokenInfo": await token_info(ctx, authorization, token)}
