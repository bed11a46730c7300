"""Access tokens: only HS256 with our key, and every claim checked."""

from __future__ import annotations

import base64
import time

import jwt
import orjson
import pytest

from backoffice.security import (
    InvalidToken,
    TokenCodec,
    hash_refresh_token,
    new_refresh_token,
)
from csms.settings import BackofficeSettings

SECRET = "unit-test-secret-that-is-long-enough-for-every-hmac-0123456789abc"


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(BackofficeSettings(jwt_secret=SECRET, access_token_minutes=15))


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    payload: dict[str, object] = {
        "iss": "csms",
        "aud": "csms-backoffice",
        "sub": "7",
        "role": "operator",
        "ver": 0,
        "jti": "abc",
        "iat": now,
        "exp": now + 60,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def sign(payload: dict[str, object], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def test_issued_token_verifies(codec: TokenCodec) -> None:
    token, issued = codec.issue(7, "operator", 3)
    verified = codec.verify(token)
    assert verified == issued
    assert (verified.user_id, verified.role, verified.token_version) == (7, "operator", 3)
    assert verified.expires_at - verified.issued_at == 15 * 60
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_each_token_has_its_own_id(codec: TokenCodec) -> None:
    assert codec.issue(1, "admin", 0)[1].jti != codec.issue(1, "admin", 0)[1].jti


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": -60, "iat": -120}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "evil"}, "issuer"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"jti": None}, "jti"),
        ({"sub": None}, "sub"),
        ({"role": None}, "role"),
        ({"ver": None}, "ver"),
        ({"aud": None}, "aud"),
        ({"iss": None}, "iss"),
        ({"iat": 3600}, "invalid"),  # issued in the future
        ({"sub": "not-a-number"}, "malformed"),
        ({"sub": "99999999999999999999"}, "malformed"),
        ({"sub": "0"}, "malformed"),
        ({"sub": 7}, "invalid"),  # pyjwt: sub must be a string
        ({"ver": "1"}, "malformed"),
        ({"role": ""}, "malformed"),
    ],
)
def test_bad_claims_are_refused(codec: TokenCodec, changes: dict[str, object], reason: str) -> None:
    now = int(time.time())
    relative = {"exp", "iat"}  # offsets from now, resolved at run time, not at collection
    resolved = {
        k: now + v if k in relative and isinstance(v, int) else v for k, v in changes.items()
    }
    with pytest.raises(InvalidToken, match=reason):
        codec.verify(sign(claims(**resolved)))


def test_alg_none_is_refused(codec: TokenCodec) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(orjson.dumps(claims())).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        codec.verify(f"{header}.{body}.")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_refused(codec: TokenCodec, algorithm: str) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(sign(claims(), algorithm=algorithm))


def test_another_key_is_refused(codec: TokenCodec) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(sign(claims(), key="another-secret-that-is-long-enough-000000"))


def test_tampered_payload_is_refused(codec: TokenCodec) -> None:
    token, _ = codec.issue(7, "driver", 0)
    header, _body, signature = token.split(".")
    forged = base64.urlsafe_b64encode(orjson.dumps(claims(role="admin"))).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        codec.verify(f"{header}.{forged}.{signature}")


def test_tampered_signature_is_refused(codec: TokenCodec) -> None:
    token, _ = codec.issue(7, "driver", 0)
    last = "A" if token[-1] != "A" else "B"
    with pytest.raises(InvalidToken):
        codec.verify(token[:-2] + last + last)


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "a.b", "é.é.é"])
def test_garbage_is_refused(codec: TokenCodec, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        codec.verify(garbage)


def test_refresh_tokens_are_random_and_stored_hashed() -> None:
    token, digest = new_refresh_token()
    other, _ = new_refresh_token()
    assert token != other and len(token) >= 43
    assert digest == hash_refresh_token(token) and token not in digest
    assert len(digest) == 64
