"""Every subcommand named in the CLI's audit map exists (a renamed one would silently stop
being audited), and the read-only ones are not in it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from csms.cli import build_parser
from csms.cli.audit import AUDITED, action_of


def commands(parser: argparse.ArgumentParser) -> Iterator[object]:
    func = parser.get_default("func")
    if func is not None:
        yield func
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from commands(child)


def test_every_audited_name_is_a_subcommand() -> None:
    found = {f"{f.__module__}.{f.__qualname__}" for f in commands(build_parser())}  # type: ignore[attr-defined]
    assert set(AUDITED) - found == set()


def test_reads_are_not_audited() -> None:
    for func in commands(build_parser()):
        name = func.__qualname__  # type: ignore[attr-defined]
        if name.endswith(("_list", "_show", "_watch", "_events", "_history")) or name in (
            "cmd_audit",
        ):
            assert action_of(func) is None, name  # type: ignore[arg-type]
