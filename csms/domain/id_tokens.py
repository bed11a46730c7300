"""Deciding whether an id token may charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

# An id token type that means "started without authorization" (a start button; 2.0.1
# C02.FR.01/02): such a session is Accepted without a lookup.
NO_AUTHORIZATION = "NoAuthorization"


class TokenStatus(Enum):
    """Version-neutral authorization outcome; adapters map it to 1.6 / 2.0.1 names."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"
    UNKNOWN = "Unknown"
    NO_CREDIT = "NoCredit"  # the token's prepaid account cannot pay (csms.domain.accounts)


@dataclass(frozen=True, slots=True)
class IdToken:
    """An id token as the operator registered it."""

    id_token: str
    token_type: str
    status: str  # Accepted | Blocked | Expired | Invalid
    expiry_date: datetime | None
    parent_id_token: str | None
    allow_concurrent: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class Authorization:
    status: TokenStatus
    expiry_date: datetime | None = None
    parent_id_token: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is TokenStatus.ACCEPTED


def authorize(
    token: IdToken | None,
    now: datetime,
    *,
    other_active_sessions: int = 0,
    starting: bool = False,
) -> Authorization:
    """The decision for ``token`` at ``now``.

    ``starting`` is set for StartTransaction / TransactionEvent(Started): only then does a
    token that already has ``other_active_sessions`` get ConcurrentTx (1.6 section 7.2).
    """
    if token is None:
        return Authorization(TokenStatus.UNKNOWN)
    status = TokenStatus(token.status)
    if (
        status is TokenStatus.ACCEPTED
        and token.expiry_date is not None
        and token.expiry_date <= now
    ):
        status = TokenStatus.EXPIRED
    if (
        status is TokenStatus.ACCEPTED
        and starting
        and other_active_sessions > 0
        and not token.allow_concurrent
    ):
        status = TokenStatus.CONCURRENT_TX
    return Authorization(status, token.expiry_date, token.parent_id_token)
