"""TokenStore: id tokens as operators registered them, found case-insensitively."""

from __future__ import annotations

import secrets
from datetime import timedelta

from contract_helpers import T0, Backend


def token_id() -> str:
    return f"Tag-{secrets.token_hex(4)}"


async def test_a_registered_token_is_found_as_registered(backend: Backend) -> None:
    registered = await backend.add_token(
        token_id(),
        token_type="eMAID",
        status="Blocked",
        expiry_date=T0 + timedelta(days=30),
        parent_id_token="GROUP-1",
        allow_concurrent=True,
        description="fleet card",
    )
    assert await backend.stores.tokens.get(registered.id_token) == registered


async def test_a_token_is_found_whatever_the_case(backend: Backend) -> None:
    """1.6 idTag is a CiString20Type (7.15); a 2.0.1 idToken is an identifierString (part 2
    2.1.4: case-insensitive, ASCII letters, digits and ``*-_=:+|@.``)."""
    registered = await backend.add_token(f"{token_id()}*-_=:+|@.Z")
    for asked in (registered.id_token.upper(), registered.id_token.lower()):
        found = await backend.stores.tokens.get(asked)
        assert found == registered
        assert found is not None and found.id_token == registered.id_token  # as registered


async def test_an_unknown_token_is_none(backend: Backend) -> None:
    registered = await backend.add_token(token_id())
    assert await backend.stores.tokens.get(token_id()) is None
    assert await backend.stores.tokens.get(registered.id_token + "0") is None
    assert await backend.stores.tokens.get(registered.id_token[:-1]) is None
