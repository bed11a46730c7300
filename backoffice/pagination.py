"""Cursor pagination: every list answers ``{"items": [...], "next_cursor": ...}``.

A cursor is opaque to clients (base64url of the last key of the page); pass it back as
``cursor`` to get the next page. ``next_cursor`` is null on the last page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel

from csms.errors import InvalidInput

T = TypeVar("T")
K = TypeVar("K", str, int)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: str | int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([key])).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type[K]) -> K | None:
    """The key in ``cursor`` (None for the first page); InvalidInput (422) if it is not one
    of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidInput("cursor: not a cursor of this list") from None
    if not isinstance(value, list) or len(value) != 1 or type(value[0]) is not kind:
        raise InvalidInput("cursor: not a cursor of this list")
    key: K = value[0]
    if isinstance(key, int) and not 0 <= key < 2**63:
        raise InvalidInput("cursor: not a cursor of this list")
    return key


def page_of(
    items: Sequence[T], limit: int, key: Callable[[T], str | int]
) -> tuple[list[T], str | None]:
    """Split a fetch of ``limit + 1`` rows into the page and the cursor of the next one."""
    if len(items) > limit:
        page = list(items[:limit])
        return page, encode_cursor(key(page[-1]))
    return list(items), None
