"""What `csms tariff` and `csms site` read before anything touches the database: the tariff
file (csms/cli/tariff_files.py), the command line, and how money and a cost breakdown are
printed (csms/cli/costs.py). No servers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from csms.cli import parse_args
from csms.cli.costs import money, plain, print_cost, unit_price
from csms.cli.tariff_assignments import assignment_scope
from csms.cli.tariff_files import given, parse_tariff_file, read_tariff_file
from csms.domain.sites import Scope
from csms.domain.tariff_catalog import SessionCost
from csms.errors import InvalidInput

TARIFF = {
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.1, "step_size": 1}]}],
}


def test_a_file_holds_the_tariff_and_optionally_its_id_and_description() -> None:
    found = parse_tariff_file(json.dumps(TARIFF).encode(), "t.json")
    assert (found.id, found.description) == (None, None)
    found = parse_tariff_file(
        json.dumps({"id": "T-1", "description": "std"} | TARIFF).encode(), "t.json"
    )
    assert (found.id, found.description) == ("T-1", "std")
    assert set(found.definition) == {"currency", "elements"}  # what parse_tariff reads
    # a JSON number is read exactly (never through a float), a BOM is tolerated
    price = found.definition["elements"][0]["price_components"][0]["price"]
    assert price == Decimal("0.1") and isinstance(price, Decimal)
    bom = b"\xef\xbb\xbf" + json.dumps(TARIFF).encode()
    assert parse_tariff_file(bom, "t.json").definition["currency"] == "EUR"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "t.json: not JSON: Expecting value (line 1, column 1)"),
        (b'{"currency": "EUR",\n "elements": [}', "t.json: not JSON: Expecting value (line 2"),
        (b"\xff\xfe", "t.json: not UTF-8 text (byte 0)"),
        (b'"EUR"', "t.json: must hold a JSON object (the tariff)"),
        (b'{"price": Infinity}', "t.json: not JSON: Infinity is not a JSON number"),
        (b"[" * 100_000, "t.json: not JSON: nested too deeply"),
        (b'{"id": 1}', "t.json: id: must be a text"),
        (b'{"description": ["x"]}', "t.json: description: must be a text"),
        (b"{}", "t.json: currency: must be an ISO 4217 currency code"),
        (
            json.dumps(TARIFF | {"elements": [{"price_components": []}]}).encode(),
            "t.json: elements[0].price_components",
        ),
    ],
)
def test_a_bad_file_names_the_file_and_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_tariff_file(raw, "t.json")
    assert str(refused.value).startswith(message), str(refused.value)


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing.json: cannot read it: No such file"):
        read_tariff_file(str(tmp_path / "missing.json"))
    with pytest.raises(InvalidInput, match=r": cannot read it: Is a directory"):
        read_tariff_file(str(tmp_path))


def test_an_option_and_the_file_must_agree() -> None:
    assert given("T-1", None, "id") == "T-1"
    assert given(None, "T-1", "id") == "T-1"
    assert given("T-1", "T-1", "id") == "T-1"
    assert given(None, None, "id") is None
    with pytest.raises(InvalidInput, match="id: --id 'T-2' and the file's id 'T-1' differ"):
        given("T-2", "T-1", "id")


@pytest.mark.parametrize(
    ("argv", "scope"),
    [
        (["--default"], (Scope.DEFAULT, "")),
        (["--site", "AMS"], (Scope.SITE, "AMS")),
        (["--charger", "CP-1"], (Scope.CHARGER, "CP-1")),
        (["--group", "FLEET"], (Scope.GROUP, "FLEET")),
        (["--group", ""], (Scope.GROUP, "")),  # refused by the service, naming the target
    ],
)
def test_one_scope_per_assignment(argv: list[str], scope: tuple[Scope, str]) -> None:
    assert assignment_scope(parse_args(["tariff", "assign", "T-1", *argv])) == scope
    args = parse_args(["tariff", "unassign", *argv])
    assert (assignment_scope(args), args.tariff_id) == (scope, None)


@pytest.mark.parametrize(
    "argv",
    [
        ["tariff", "assign", "T-1"],
        ["tariff", "assign", "T-1", "--default", "--site", "AMS"],
        ["tariff", "add"],  # --file is required
        ["site", "add", "AMS", "--name", "x"],  # --time-zone is required
        ["site", "add", "AMS", "--name", "x", "--time-zone", "UTC", "--latitude", "north"],
        ["site", "add", "AMS", "--name", "x", "--time-zone", "UTC", "--latitude", "NaN"],
        ["site", "assign", "AMS"],  # at least one charger
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert "usage: csms" in capsys.readouterr().err


def test_money_in_the_currencys_minor_units() -> None:
    assert money(Decimal("3.5"), "EUR") == "3.50 EUR"
    assert money(Decimal("1200"), "JPY") == "1200 JPY"
    assert money(Decimal("1.2"), "KWD") == "1.200 KWD"
    assert money(None, "EUR") == "-"
    assert unit_price(Decimal("1"), "EUR") == "1.00 EUR"
    assert unit_price(Decimal("0.2975"), "EUR") == "0.2975 EUR"
    assert unit_price(Decimal("2E+1"), "JPY") == "20 JPY"
    assert [plain(Decimal(v)) for v in ("10.000000000", "0.250", "100", "1E+2")] == [
        "10",
        "0.25",
        "100",
        "100",
    ]


def _cost(**changes: object) -> SessionCost:
    at = datetime(2026, 1, 1, 10, tzinfo=UTC)
    line = {
        "dimension": "PARKING_TIME",
        "element": 1,
        "volume": "0.450000000",
        "billed_volume": "0.500000000",
        "unit_price": "2.00",
        "excl_vat": "1.00",
        "vat_rate": None,
        "vat": "0",
        "incl_vat": "1.00",
        "started_at": at.isoformat(),
        "ended_at": at.isoformat(),
    }
    breakdown = {
        "currency": "EUR",
        "lines": [line],
        "total_excl_vat": "1.50",
        "total_vat": "0",
        "total_incl_vat": "1.50",
        "capped": "min_price",
    }
    fields: dict[str, object] = {
        "tariff_id": "T-1",
        "tariff_version": 2,
        "currency": "EUR",
        "excl_vat": Decimal("1.50"),
        "vat": Decimal(0),
        "incl_vat": Decimal("1.50"),
        "breakdown": breakdown,
        "computed_at": at,
        "final": True,
    }
    return SessionCost(**(fields | changes))  # type: ignore[arg-type]


def test_the_cost_section(capsys: pytest.CaptureFixture[str]) -> None:
    print_cost(_cost())
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "tariff                T-1 version 2",
        "cost                  final, computed 2026-01-01T10:00:00+00:00",
    ]
    assert lines[4].split()[:10] == [
        "PARKING_TIME",
        "1",
        "0.45",
        "0.5",
        "h",
        "2.00",
        "EUR",
        "-",
    ] + ["1.00", "EUR"]
    assert lines[-4:] == [
        "total excl. VAT       1.50 EUR",
        "VAT                   0.00 EUR",
        "total incl. VAT       1.50 EUR",
        "capped by             min_price",
    ]
    print_cost(_cost(breakdown=None, computed_at=None, excl_vat=None, vat=None, incl_vat=None))
    assert capsys.readouterr().out.splitlines() == [
        "tariff                T-1 version 2",
        "cost                  none computed yet (at the first meter value or at the end)",
    ]
    print_cost(_cost(tariff_id=None, tariff_version=None, breakdown=None))
    assert capsys.readouterr().out == (
        "cost                  not priced (no tariff applied when the session started)\n"
    )
