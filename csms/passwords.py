"""Salted slow password hashes (Argon2id) for chargers and users. Never log what passes here."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's Argon2id minimum (19 MiB, 2 iterations); ~20 ms per verification on one core.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)

# OCPP 1.6 security profile 1/2: AuthorizationKey is 16-40 characters (2.0.1: 16-40 as well).
MIN_CHARGER_PASSWORD = 16
MAX_CHARGER_PASSWORD = 40


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 32) -> str:
    """A random password of URL-safe characters, suitable as an OCPP AuthorizationKey."""
    return secrets.token_urlsafe(length)[:length]
