"""Tariffs for the CLI tests: a file to add, and a tariff added and published in one go."""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

from tests.integration.cli.conftest import Cli

# 1.00 EUR a session + 0.25 EUR/kWh, both + 20 % VAT (tests/integration/test_pricing_sessions.py)
TARIFF: dict[str, Any] = {
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00", "vat": "20", "step_size": 0},
                {"type": "ENERGY", "price": "0.25", "vat": "20", "step_size": 1},
            ]
        }
    ],
    "tariff_alt_text": [{"language": "en", "text": "1.20 EUR start + 0.30 EUR/kWh"}],
}


def tariff(energy_price: str = "0.25", **record: str) -> dict[str, Any]:
    """``TARIFF`` with another energy price, and ``id``/``description`` beside it if given."""
    found = copy.deepcopy(TARIFF)
    found["elements"][0]["price_components"][1]["price"] = energy_price
    return record | found


def write(directory: Path, content: dict[str, Any] | str, name: str = "tariff.json") -> str:
    path = directory / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def new_id(prefix: str = "T") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def published(cli: Cli, directory: Path, prefix: str = "T") -> str:
    """A tariff added and published through the CLI; its id."""
    tariff_id = new_id(prefix)
    status, _, err = await cli("tariff", "add", "--file", write(directory, tariff(id=tariff_id)))
    assert status == 0, err
    status, _, err = await cli("tariff", "publish", tariff_id)
    assert status == 0, err
    return tariff_id


def rows(out: str) -> list[list[str]]:
    """A table's rows (without its header), split at runs of spaces."""
    return [line.split() for line in out.splitlines()[1:] if line.strip()]


def fields(out: str) -> dict[str, str]:
    """``key   value`` lines (the first 21 columns are the key) up to the first blank line."""
    found: dict[str, str] = {}
    for line in out.splitlines():
        if not line.strip():
            break
        found[line[:21].strip()] = line[22:].strip()
    return found
