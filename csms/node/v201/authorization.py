"""C. Authorization: Authorize, and the id-token decision TransactionEvent shares."""

from __future__ import annotations

from typing import Any

from csms.domain.id_tokens import Authorization, TokenStatus
from csms.node import sessions
from csms.node.context import Payload, Session
from csms.node.v201.convert import NO_AUTHORIZATION, id_token_info


async def decide(
    session: Session,
    id_token: dict[str, Any],
    *,
    starting: bool = False,
    excluding_pk: int | None = None,
) -> Authorization:
    """The decision for an IdTokenType."""
    if id_token["type"] == NO_AUTHORIZATION:
        # C02.FR.02: a transaction started without authorization (button) is Accepted.
        return Authorization(TokenStatus.ACCEPTED)
    return await sessions.authorize_token(
        session, id_token["idToken"], starting=starting, excluding_pk=excluding_pk
    )


async def authorize(session: Session, payload: Payload) -> Payload:
    authorization = await decide(session, payload["idToken"])
    if "certificate" in payload or "iso15118CertificateHashData" in payload:
        # Plug & Charge: C07.FR.05 asks us to verify the contract certificate chain (OCSP).
        # We have no PKI yet, so the chain "cannot be verified": C07.FR.17 prescribes
        # certificateStatus CertChainError with idTokenInfo.status Invalid. (Revoked or
        # Expired would claim knowledge we do not have; Accepted would skip the check.)
        session.log.info("Authorize with a contract certificate: no PKI, CertChainError")
        return {
            "idTokenInfo": id_token_info(Authorization(TokenStatus.INVALID)),
            "certificateStatus": "CertChainError",
        }
    return {"idTokenInfo": id_token_info(authorization)}
