"""``csms cdr export``: charge detail records of a period, as OCPI 2.2.1 CDRs or CSV."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import IO

from csms.cli.support import Subparsers, common_settings, err, open_pool, refused_is_usage


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as file:
        yield file


@refused_is_usage
async def cmd_cdr_export(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from csms.services.cdrs import CdrOptions, check_range, export, parse_instant
    from csms.store import cdrs
    from csms.store.cdrs import CdrFilter

    start = parse_instant(args.start, "--from")
    end = parse_instant(args.end, "--to")
    check_range(start, end)
    settings = common_settings()
    options = CdrOptions.from_settings(settings)
    f = CdrFilter(start, end, args.charger, args.site, args.account)
    pool = await open_pool(settings)
    try:
        total = await cdrs.count(pool, f)
        progress = Progress(
            TextColumn("CDRs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
            disable=args.quiet,
        )
        task = progress.add_task("export", total=total)
        written = 0

        def advance() -> None:
            nonlocal written
            written += 1
            progress.advance(task)

        with progress, _output(args.output) as out:
            async for chunk in export(cdrs.stream(pool, f), args.format, options, on_row=advance):
                out.write(chunk)
    finally:
        await pool.close()
    where = args.output if args.output not in (None, "-") else "stdout"
    if not args.quiet:
        err(
            f"{written} CDRs of sessions ended {start.isoformat()} to {end.isoformat()} "
            f"({args.format}) written to {where}"
        )
    return 0


def add_parsers(sub: Subparsers) -> None:
    cdr = sub.add_parser("cdr", help="charge detail records").add_subparsers(
        dest="cdr_command", required=True
    )
    ex = cdr.add_parser(
        "export",
        help="export the CDRs of sessions that ended in [--from, --to)",
        description="Sessions that ended at or after --from and before --to, with a final "
        "cost, as OCPI 2.2.1 CDRs (NDJSON: one per line) or CSV for accounting. Dates are "
        "UTC unless they carry an offset. A progress bar goes to stderr.",
    )
    ex.add_argument(
        "--from", dest="start", required=True, help="2026-11-01 or 2026-11-01T00:00+01:00"
    )
    ex.add_argument("--to", dest="end", required=True, help="exclusive, like --from")
    ex.add_argument("--format", choices=("ocpi", "csv"), default="ocpi")
    ex.add_argument("-o", "--output", help="write to this file (default: stdout)")
    ex.add_argument("--charger", help="only sessions at this charger")
    ex.add_argument("--site", help="only sessions at chargers of this site")
    ex.add_argument("--account", type=int, help="only sessions billed to this account")
    ex.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    ex.set_defaults(func=cmd_cdr_export)
