"""Access tokens (JWT, HS256 only) and opaque refresh tokens.

An access token carries ``iss``, ``aud``, ``sub`` (the user id), ``role``, ``ver`` (the
user's token version), ``jti``, ``iat`` and ``exp``; every one of them is required when a
token is read, and only the algorithm we sign with is accepted (no ``none``, no key
confusion). A refresh token is 256 random bits; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from csms.settings import BackofficeSettings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "role", "ver", "jti", "iat", "exp")
LEEWAY_SECONDS = 5


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message says why (safe to show)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: str
    token_version: int
    jti: str
    issued_at: int
    expires_at: int


class TokenCodec:
    """Signs and verifies access tokens with the settings' key, issuer and audience."""

    def __init__(self, settings: BackofficeSettings) -> None:
        self._key = settings.jwt_secret.get_secret_value()
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.lifetime = settings.access_token_minutes * 60

    def issue(
        self, user_id: int, role: str, token_version: int, *, now: float | None = None
    ) -> tuple[str, AccessClaims]:
        issued = int(time.time() if now is None else now)
        claims = AccessClaims(
            user_id=user_id,
            role=role,
            token_version=token_version,
            jti=uuid.uuid4().hex,
            issued_at=issued,
            expires_at=issued + self.lifetime,
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "role": role,
            "ver": token_version,
            "jti": claims.jti,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def csrf_token(self, jti: str) -> str:
        """The CSRF token of the console session of access token ``jti``: an HMAC of it, so
        only this server can make one and it dies with the session."""
        mac = hmac.new(self._key.encode(), b"csrf:" + jti.encode(), hashlib.sha256)
        return mac.hexdigest()

    def verify(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the access token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the access token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the access token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the access token lacks the {exc.claim} claim") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("the access token is invalid") from None
        try:
            return AccessClaims(
                user_id=_user_id(payload["sub"]),
                role=_text(payload["role"]),
                token_version=_integer(payload["ver"]),
                jti=_text(payload["jti"]),
                issued_at=_integer(payload["iat"]),
                expires_at=_integer(payload["exp"]),
            )
        except (TypeError, ValueError):
            raise InvalidToken("the access token has malformed claims") from None


def _user_id(value: object) -> int:
    if not isinstance(value, str) or not value.isdigit() or not 0 < int(value) < 2**63:
        raise ValueError("not a user id")
    return int(value)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a string")
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    return int(value)


def new_refresh_token() -> tuple[str, str]:
    """``(token, sha256 hex)``: give the token to the client, store the hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_family() -> str:
    return uuid.uuid4().hex
