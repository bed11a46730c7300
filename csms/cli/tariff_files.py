"""The file ``csms tariff add/edit --file`` reads: one JSON object, the tariff as
docs/topics/tariffs-and-cost.md shows it, which may also hold the tariff's ``id`` and
``description`` beside its definition (as an OCPI Tariff object holds its ``id``).

The file is read and its definition checked before anything touches the database, so a bad
file stores nothing; every refusal is an :class:`~csms.errors.InvalidInput` that names the
file and the field (``tariff.json: elements[0].price_components[0].price: must not be
negative``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from csms.errors import InvalidInput

STDIN = "-"
RECORD_KEYS = ("id", "description")  # the tariff's record, not its prices


@dataclass(frozen=True, slots=True)
class TariffFile:
    """A tariff file's definition (validated), and its ``id`` / ``description`` if given."""

    definition: dict[str, Any]
    id: str | None
    description: str | None


def read_tariff_file(path: str) -> TariffFile:
    """The tariff in ``path`` (``-``: standard input)."""
    name = "stdin" if path == STDIN else path
    try:
        raw = sys.stdin.buffer.read() if path == STDIN else Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{name}: cannot read it: {exc.strerror or exc}") from None
    return parse_tariff_file(raw, name)


def parse_tariff_file(raw: bytes, name: str) -> TariffFile:
    """The tariff in ``raw``, the content of the file ``name`` (for the messages)."""
    import json

    from csms.domain.tariffs import parse_tariff

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {exc.start})") from None

    def constant(value: str) -> NoReturn:
        raise InvalidInput(f"{name}: not JSON: {value} is not a JSON number")

    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=constant)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidInput(f"{name}: not JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise InvalidInput(f"{name}: not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{name}: must hold a JSON object (the tariff)")
    record: dict[str, str | None] = {}
    for key in RECORD_KEYS:
        value = data.pop(key, None)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{name}: {key}: must be a text")
        record[key] = value
    try:
        parse_tariff(data)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc}") from None
    return TariffFile(data, record["id"], record["description"])


def given(option: str | None, from_file: str | None, what: str) -> str | None:
    """The ``--id`` / ``--description`` option, or the file's; both must agree."""
    if option is not None and from_file is not None and option != from_file:
        raise InvalidInput(
            f"{what}: --{what} {option!r} and the file's {what} {from_file!r} differ"
        )
    return option if option is not None else from_file
