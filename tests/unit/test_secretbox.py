"""csms.secretbox: secrets sealed at rest with AES-256-GCM, bound to their purpose."""

from __future__ import annotations

import base64

import pytest

from csms.secretbox import (
    DEV_KEY,
    SecretBox,
    SecretUnreadable,
    is_sealed,
    key_id,
    new_key,
    parse_key,
)

PURPOSE = "notification_subscriptions.secret"


def box(*keys: str) -> SecretBox:
    return SecretBox([parse_key(key) for key in keys])


def test_sealed_opens_to_the_secret_and_never_shows_it() -> None:
    key = new_key()
    sealed = box(key).seal("whsec_abc", purpose=PURPOSE)
    assert is_sealed(sealed) and "whsec_abc" not in sealed
    assert sealed.startswith(f"enc1:{key_id(parse_key(key))}:")
    assert box(key).open(sealed, purpose=PURPOSE) == "whsec_abc"
    # a fresh nonce each time: the same secret never seals to the same value
    assert box(key).seal("whsec_abc", purpose=PURPOSE) != sealed


def test_another_purpose_another_key_or_an_altered_value_does_not_open() -> None:
    key, other = new_key(), new_key()
    sealed = box(key).seal("whsec_abc", purpose=PURPOSE)
    with pytest.raises(SecretUnreadable, match="does not open"):
        box(key).open(sealed, purpose="payments.webhook_secret")
    with pytest.raises(SecretUnreadable, match="not configured"):
        box(other).open(sealed, purpose=PURPOSE)
    prefix, kid, payload = sealed.split(":")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    with pytest.raises(SecretUnreadable):
        box(key).open(f"{prefix}:{kid}:{flipped}", purpose=PURPOSE)
    with pytest.raises(SecretUnreadable):
        box(key).open(f"{prefix}:{kid}:***", purpose=PURPOSE)


def test_the_previous_key_opens_and_only_the_first_seals() -> None:
    old, new = new_key(), new_key()
    under_old = box(old).seal("whsec_abc", purpose=PURPOSE)
    rotated = box(new, old)
    assert rotated.open(under_old, purpose=PURPOSE) == "whsec_abc"
    assert not rotated.is_current(under_old)
    assert rotated.is_current(rotated.seal("whsec_abc", purpose=PURPOSE))


def test_a_value_stored_before_sealing_is_read_as_it_is() -> None:
    assert not is_sealed("whsec_plain")
    assert box(new_key()).open("whsec_plain", purpose=PURPOSE) == "whsec_plain"
    assert not box(new_key()).is_current("whsec_plain")


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(b"k" * 32).decode(),  # standard base64, as openssl prints it
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # URL-safe
        " " + base64.b64encode(b"\xfb\xff" * 16).decode() + "\n",  # pasted with blanks
        base64.b64encode(b"k" * 32).decode().rstrip("="),  # its padding left off
    ],
)
def test_keys_are_base64_of_32_bytes(text: str) -> None:
    assert len(parse_key(text)) == 32


@pytest.mark.parametrize("text", ["", "short", base64.b64encode(b"k" * 16).decode(), "!!!!"])
def test_anything_else_is_not_a_key(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key(text)


def test_the_dev_key_is_a_key_and_a_box_needs_one() -> None:
    assert len(DEV_KEY) == 32
    with pytest.raises(ValueError):
        SecretBox([])
