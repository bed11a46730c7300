"""TokenStore: id tokens as operators registered them, found case-insensitively."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from contract_helpers import T0, Backend

from csms.domain.accounts import Standing


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


# -- the standing of the account a token bills to (read with the token at Authorize) ------------


async def test_a_token_that_bills_to_no_account_has_no_standing(backend: Backend) -> None:
    registered = await backend.add_token(token_id())
    assert await backend.stores.tokens.get_with_standing(registered.id_token) == (
        registered,
        None,
    )
    assert await backend.stores.tokens.get_with_standing(token_id()) == (None, None)


async def test_the_standing_of_a_prepaid_account_is_its_wallet(backend: Backend) -> None:
    registered = await backend.add_token(token_id(), status="Blocked", allow_concurrent=True)
    account_id = await backend.bill_token(
        registered.id_token, hold_amount=Decimal("20.00"), wallet=Decimal("35.50")
    )
    for asked in (registered.id_token.upper(), registered.id_token.lower()):
        token, standing = await backend.stores.tokens.get_with_standing(asked)
        assert token == registered  # the token as registered, whatever its status
        assert standing == Standing(
            account_id, "prepaid", "open", "EUR", Decimal("20.00"), Decimal("35.50")
        )


async def test_a_postpaid_or_blocked_account_is_seen_as_it_is(backend: Backend) -> None:
    postpaid = await backend.add_token(token_id())
    account_id = await backend.bill_token(postpaid.id_token, kind="postpaid", currency="SEK")
    _, standing = await backend.stores.tokens.get_with_standing(postpaid.id_token)
    assert standing == Standing(account_id, "postpaid", "open", "SEK", Decimal(0), Decimal(0))

    blocked = await backend.add_token(token_id())
    account_id = await backend.bill_token(blocked.id_token, status="blocked", wallet=Decimal(5))
    _, standing = await backend.stores.tokens.get_with_standing(blocked.id_token)
    assert standing is not None
    assert (standing.account_id, standing.status, standing.available) == (
        account_id,
        "blocked",
        Decimal(5),
    )
