"""Handshake helpers of the node without a network: the id in the path, Basic credentials,
and the cache of verified credentials."""

from __future__ import annotations

import base64

import pytest
from websockets.datastructures import Headers

from csms.domain.charge_points import MAX_CHARGE_POINT_ID, valid_charge_point_id
from csms.node.server import (
    SUPPORTED_SUBPROTOCOLS,
    CredentialCache,
    basic_credentials,
    charge_point_id_from_path,
)
from csms.node.versions import BY_SUBPROTOCOL


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/CP-1", "CP-1"),
        ("/ocpp/CP-1?x=1", "CP-1"),
        ("/ocpp/" + "a" * 48, "a" * 48),
        ("/ocpp/CP%201", None),  # a space, decoded
        ("/ocpp/CP%2D1", "CP-1"),
        ("/ocpp/CP%231", "CP#1"),
        ("/ocpp/%C3%A9t%C3%A9", "été"),
        ("/ocpp/" + "a" * 49, None),
        ("/ocpp/CP:1", None),
        ("/ocpp/CP%3A1", None),
        ("/ocpp/CP%3a1", None),
        ("/ocpp/CP%2F1", None),
        ("/ocpp/CP/1", None),
        ("/ocpp/", None),
        ("/ocpp", None),
        ("/", None),
        ("/other/CP-1", None),
        ("/OCPP/CP-1", None),
        ("/ocpp/CP%001", None),  # NUL is not printable
        ("/ocpp/CP%0A1", None),
    ],
)
def test_charge_point_id_from_path(path: str, expected: str | None) -> None:
    assert charge_point_id_from_path(path) == expected


def test_charge_point_id_length_limit_is_48() -> None:
    """OCPP identityString is string[48]."""
    assert MAX_CHARGE_POINT_ID == 48
    assert valid_charge_point_id("x" * 48)
    assert not valid_charge_point_id("x" * 49)
    assert not valid_charge_point_id("")


def basic(value: str) -> Headers:
    return Headers({"Authorization": value})


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (basic(f"Basic {encoded('CP-1:secret')}"), ("CP-1", "secret")),
        (basic(f"basic {encoded('CP-1:secret')}"), ("CP-1", "secret")),
        (basic(f"BASIC   {encoded('CP-1:secret')}  "), ("CP-1", "secret")),
        (basic(f"Basic {encoded('CP-1:pa:ss:word')}"), ("CP-1", "pa:ss:word")),
        (basic(f"Basic {encoded('CP-1:')}"), ("CP-1", "")),
        (basic(f"Basic {encoded('CP-é:pässword')}"), ("CP-é", "pässword")),
        (basic(f"Basic {encoded('no-colon')}"), None),
        (basic("Basic not base64!"), None),
        (basic("Basic " + base64.b64encode(b"\xff\xfe:x").decode()), None),
        (basic(f"Bearer {encoded('CP-1:secret')}"), None),
        (basic("Basic"), None),
        (basic(""), None),
        (Headers(), None),
    ],
)
def test_basic_credentials(headers: Headers, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(headers) == expected


def test_credential_cache_knows_only_what_it_was_told() -> None:
    cache = CredentialCache()
    assert not cache.known("CP-1", "hash-1", "secret")
    cache.remember("CP-1", "hash-1", "secret")
    assert cache.known("CP-1", "hash-1", "secret")
    assert not cache.known("CP-1", "hash-1", "other")
    assert not cache.known("CP-2", "hash-1", "secret")


def test_credential_cache_forgets_when_the_hash_changes() -> None:
    """A new password set by the operator invalidates what was verified against the old one."""
    cache = CredentialCache()
    cache.remember("CP-1", "hash-1", "secret")
    assert not cache.known("CP-1", "hash-2", "secret")
    cache.remember("CP-1", "hash-2", "new-secret")
    assert not cache.known("CP-1", "hash-2", "secret")
    assert cache.known("CP-1", "hash-2", "new-secret")


def test_credential_cache_never_holds_the_password() -> None:
    cache = CredentialCache()
    cache.remember("CP-1", "hash-1", "the-secret-password")
    entries = cache._entries
    assert all(b"the-secret-password" not in mac for _, mac in entries.values())
    assert "the-secret-password" not in repr(entries)


def test_credential_cache_is_per_process() -> None:
    first, second = CredentialCache(), CredentialCache()
    first.remember("CP-1", "hash-1", "secret")
    assert not second.known("CP-1", "hash-1", "secret")


def test_credential_cache_is_bounded() -> None:
    cache = CredentialCache(max_entries=3)
    for i in range(3):
        cache.remember(f"CP-{i}", "h", "p")
    cache.remember("CP-3", "h", "p")
    assert cache.known("CP-3", "h", "p")
    assert sum(cache.known(f"CP-{i}", "h", "p") for i in range(4)) <= 3


def test_subprotocols_prefer_201() -> None:
    assert SUPPORTED_SUBPROTOCOLS == ["ocpp2.0.1", "ocpp1.6"]
    assert set(BY_SUBPROTOCOL) == {"ocpp1.6", "ocpp2.0.1"}
    for name, version in BY_SUBPROTOCOL.items():
        assert version.subprotocol == version.dialect.subprotocol == name
        assert {"BootNotification", "Heartbeat"} <= set(version.routes)
        assert version.commands and version.schemas.actions
