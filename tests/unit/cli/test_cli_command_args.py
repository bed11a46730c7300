"""How `csms command` reads its command line: targets, filters and the command's params
(csms/cli/commands.py, csms/cli/command_targets.py). No servers."""

from __future__ import annotations

import pytest

from csms.cli import parse_args
from csms.cli.command_targets import ChargerFilter, Targets
from csms.cli.commands import command_params
from csms.domain.commands import PARAMS


def parsed(*argv: str) -> tuple[str, Targets, dict[str, object]]:
    args = parse_args(["command", *argv])
    return args.command_name, args.targets, command_params(args.params_pairs, args.params)


def test_one_charger_is_the_original_form() -> None:
    assert parsed("CP-1", "reset", "--type", "soft") == (
        "reset",
        Targets(chargers=("CP-1",), single=True),
        {"type": "soft"},
    )
    # an option between the two positionals (argparse leaves the command word aside)
    assert parsed("CP-1", "--timeout", "5", "reset", "--type", "soft") == (
        "reset",
        Targets(chargers=("CP-1",), single=True),
        {"type": "soft"},
    )
    assert parsed("--timeout", "5", "CP-1", "raw", "--params", '{"action": "ClearCache"}') == (
        "raw",
        Targets(chargers=("CP-1",), single=True),
        {"action": "ClearCache"},
    )


def test_lists_keep_their_order_without_repeats() -> None:
    name, targets, params = parsed("CP-1,CP-2,,CP-1", "reset", "--type", "soft")
    assert (name, targets, params) == (
        "reset",
        Targets(chargers=("CP-1", "CP-2")),
        {"type": "soft"},
    )
    _, targets, _ = parsed("reset", "--charger", "CP-3", "--charger", "CP-1,x", "--type", "soft")
    assert targets == Targets(chargers=("CP-3", "CP-1,x"))  # --charger is never split
    _, targets, _ = parsed("CP-1", "reset", "--charger", "CP-2")
    assert targets == Targets(chargers=("CP-1", "CP-2"))
    _, targets, _ = parsed("clear_cache", "--charger", "CP-1")
    assert not targets.single  # a list of one still gets the table


def test_filters() -> None:
    _, targets, params = parsed("--all", "reset", "--type", "soft")
    assert targets == Targets(selection=ChargerFilter())
    assert params == {"type": "soft"}
    _, targets, _ = parsed(
        "clear_cache",
        "--connected",
        "--protocol",
        "2.0.1",
        "--vendor",
        "Acme*",
        "--model",
        "X?",
        "--firmware",
        "1.2.*",
    )
    assert targets == Targets(
        selection=ChargerFilter(
            connected=True, protocol="2.0.1", vendor="Acme*", model="X?", firmware="1.2.*"
        )
    )
    assert parse_args(["command", "clear_cache", "--all", "--concurrency", "3"]).concurrency == 3
    assert parse_args(["command", "clear_cache", "--all"]).concurrency == 20


@pytest.mark.parametrize(
    "argv",
    [
        ["CP-1"],  # no command
        ["CP-1", "reset", "--all"],  # a list and a filter
        ["CP-1,CP-2", "reset", "--connected"],
        [",", "reset"],  # no charger in the list
        ["reset", "--all", "--concurrency", "0"],
        ["reset", "--protocol", "1.5"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["command", *argv])
    assert exited.value.code == 2
    assert "csms command: error:" in capsys.readouterr().err


@pytest.mark.parametrize("param", sorted({p for names in PARAMS.values() for p in names}))
def test_no_command_param_is_taken_for_an_option_of_csms_command(param: str) -> None:
    """Every param of every command can be given as ``--name value``: none is an option of
    `csms command` itself or (argparse accepts abbreviations) the start of one. A new
    command whose param fails here: rename the param or the option."""
    option = "--" + param.replace("_", "-")
    assert parsed("CP-1", "some_command", option, "1")[2] == {param: 1}
    assert parsed("some_command", "--all", option, "1")[2] == {param: 1}
