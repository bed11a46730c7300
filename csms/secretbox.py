"""Secrets the CSMS must read back (webhook signing secrets), sealed at rest.

A secret is stored as ``enc1:<key id>:<base64url(nonce | AES-256-GCM ciphertext)>`` under
``CSMS_DATA_KEY``; the key id is the first 8 hex digits of the key's SHA-256, so a value
names the key that opens it. ``CSMS_DATA_KEY_PREVIOUS`` still opens what the previous key
sealed while ``csms worker`` seals it again under the new one (a key rotation). Each value
is bound to its purpose (the AES-GCM associated data), so a sealed value cannot be moved to
another column and opened there. A value without the prefix is one stored before sealing
existed: it is read as it is, and the worker seals it.

A database dump or a read-only SQL account then holds no usable signing secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1"
KEY_BYTES = 32
NONCE_BYTES = 12
# The key a dev environment uses when CSMS_DATA_KEY is unset: public, so only for dev.
DEV_KEY = hashlib.sha256(b"csms development data key: never in production").digest()


class SecretUnreadable(Exception):
    """A sealed value no configured key opens (wrong key, or altered)."""


def parse_key(text: str) -> bytes:
    """A key as configured: base64 (standard or URL-safe) of 32 bytes."""
    text = text.strip().replace("+", "-").replace("/", "_")
    try:  # the padding may have been left off
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {KEY_BYTES}")
    return key


def new_key() -> str:
    """A fresh key, as CSMS_DATA_KEY takes it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seals with the first key; opens with any of them."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}
        self.current = key_id(keys[0])

    def seal(self, plaintext: str, *, purpose: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plaintext.encode(), purpose.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{PREFIX}:{self.current}:{payload}"

    def open(self, stored: str, *, purpose: str) -> str:
        if not is_sealed(stored):
            return stored  # stored before sealing existed
        _, kid, payload = stored.split(":", 2)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise SecretUnreadable(f"sealed under key {kid}, which is not configured")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            plaintext = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretUnreadable(f"a value sealed under key {kid} does not open") from None
        return plaintext.decode()

    def is_current(self, stored: str) -> bool:
        """Sealed under the key that seals now (else the worker seals it again)."""
        return is_sealed(stored) and stored.split(":", 2)[1] == self.current


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX + ":") and stored.count(":") >= 2
