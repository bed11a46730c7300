"""Helpers every ``csms`` subcommand module shares: output, errors, a small pool."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms import bootstrap
from csms.settings import CommonSettings

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(f"csms: {text}\n")


async def open_pool(settings: CommonSettings) -> asyncpg.Pool:
    from csms.store.pool import create_pool

    return await create_pool(await bootstrap.database_url(settings), min_size=1, max_size=2)


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    out("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
