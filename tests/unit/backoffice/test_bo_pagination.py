from __future__ import annotations

import pytest

from backoffice.pagination import decode_cursor, encode_cursor, page_of
from csms.errors import InvalidInput


@pytest.mark.parametrize("key", ["", "CP-1", "é/ü:x", 0, 1, 2**63 - 1])
def test_cursor_round_trip(key: str | int) -> None:
    assert decode_cursor(encode_cursor(key), type(key)) == key


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None, int) is None


@pytest.mark.parametrize(
    ("cursor", "kind"),
    [
        ("!!!", str),
        ("", int),
        ("é", str),
        (encode_cursor("CP-1"), int),
        (encode_cursor(5), str),
        (encode_cursor(2**63), int),
        (encode_cursor(-1), int),
    ],
)
def test_foreign_cursors_are_invalid_input(cursor: str, kind: type) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        decode_cursor(cursor, kind)


def test_page_of_splits_off_the_extra_row() -> None:
    items, cursor = page_of([1, 2, 3], 2, lambda i: i)
    assert items == [1, 2] and decode_cursor(cursor, int) == 2
    assert page_of([1, 2], 2, lambda i: i) == ([1, 2], None)
